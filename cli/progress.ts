/**
 * Progress of a long command (training steps, evaluated images) on stderr.
 *
 * On a terminal: one line redrawn in place (a bar, `done/total`, rate, ETA and extra fields such
 * as the loss), at most ten times a second. Anywhere else (a log file, CI): plain lines every 10%
 * or every 30 seconds, whichever comes first, and never a carriage return, so logs stay
 * greppable. Colour only on a terminal and only when `NO_COLOR` is unset (https://no-color.org).
 *
 * @module
 */
import { writeAll } from "./io.ts";

/** Where progress goes: stderr by default; tests pass a capturing stream. */
export interface ProgressStream {
  writeSync(bytes: Uint8Array): number;
  /** True when a person is watching: redraw one line instead of printing many. */
  isTerminal(): boolean;
  /** Terminal width in columns, when known; longer lines are cut to fit. */
  columns?(): number | undefined;
}

/** What {@link createProgress} needs to know. */
export interface ProgressOptions {
  /** Short name of the work, first on every line (`train`, `evaluate`). */
  label: string;
  /** How many units the work has; unknown totals show no bar, percentage or ETA. */
  total?: number;
  /**
   * Units done before this process began (a resumed run's steps): the counts shown are the whole
   * work's, the rate and the final line's count this process's alone.
   */
  start?: number;
  /** What one unit of work is, for `12/100 images` and `3.2 images/s`. */
  unit: "step" | "image";
  /** `--quiet`: write nothing at all. */
  quiet?: boolean;
  /** Defaults to stderr. */
  stream?: ProgressStream;
  /** Forces colour on or off; defaults to "on a terminal and `NO_COLOR` unset". */
  color?: boolean;
  /** Milliseconds on a monotonic clock; injectable so tests control time. */
  now?: () => number;
  /** Seconds between plain (non-terminal) lines when 10% takes longer. Default 30. */
  plainIntervalSeconds?: number;
}

/** Extra values shown after the ETA, in insertion order: `{ loss: 0.4312 }` → `loss 0.4312`. */
export type ProgressFields = Record<string, string | number>;

/** A running progress display; see {@link createProgress}. */
export interface Progress {
  /** Reports that `done` units are finished, with optional extra fields to show. */
  update(done: number, fields?: ProgressFields): void;
  /** Ends the display: prints `summaryLine`, or the final state when none is given. */
  done(summaryLine?: string): void;
}

const TERMINAL_REDRAW_MS = 100;
const PLAIN_PERCENT_STEP = 10;
const BAR_WIDTH = 24;
const MIN_BAR_WIDTH = 8;
/** Rate is measured over the recent past so that a slow first step (compilation) fades out. */
const RATE_WINDOW_MS = 30_000;

const encoder = new TextEncoder();

const stderrStream: ProgressStream = {
  writeSync: (bytes) => {
    writeAll(Deno.stderr, bytes);
    return bytes.length;
  },
  isTerminal: () => Deno.stderr.isTerminal(),
  columns: () => {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return undefined;
    }
  },
};

/**
 * Starts a progress display for `options.total` units of work.
 *
 * @example
 * ```ts
 * const progress = createProgress({ label: "train", total: 3, unit: "step" });
 * for (let step = 1; step <= 3; step++) progress.update(step, { loss: 1 / step });
 * progress.done("train: 3 steps, final loss 0.3333");
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  if (options.quiet) return { update() {}, done() {} };
  return new ProgressDisplay(options);
}

interface Sample {
  time: number;
  done: number;
}

class ProgressDisplay implements Progress {
  readonly #options: ProgressOptions;
  readonly #stream: ProgressStream;
  readonly #terminal: boolean;
  readonly #color: boolean;
  readonly #now: () => number;
  readonly #started: number;
  #samples: Sample[] = [];
  #doneCount = 0;
  #fields: ProgressFields = {};
  #lastDrawTime = -Infinity;
  #lastPlainPercent = 0;
  #drawnOnTerminal = false;
  #finished = false;

  constructor(options: ProgressOptions) {
    if (options.total !== undefined && !(options.total >= 0)) {
      throw new RangeError(`Progress total must be 0 or more, found ${options.total}`);
    }
    this.#options = options;
    this.#stream = options.stream ?? stderrStream;
    this.#terminal = this.#stream.isTerminal();
    this.#color = options.color ?? (this.#terminal && !Deno.noColor);
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
    this.#doneCount = options.start ?? 0;
    this.#samples.push({ time: this.#started, done: this.#doneCount });
  }

  update(done: number, fields?: ProgressFields): void {
    if (this.#finished) return;
    const time = this.#now();
    this.#doneCount = done;
    if (fields) this.#fields = { ...this.#fields, ...fields };
    this.#samples.push({ time, done });
    // Keep at least two samples so that a rate exists even after a long pause.
    while (this.#samples.length > 2 && time - this.#samples[0]!.time > RATE_WINDOW_MS) {
      this.#samples.shift();
    }
    if (this.#terminal) {
      const finished = this.#options.total !== undefined && done >= this.#options.total;
      if (time - this.#lastDrawTime < TERMINAL_REDRAW_MS && !finished) return;
      this.#lastDrawTime = time;
      this.#write(`\r\x1b[2K${this.#line(time, true)}`);
      this.#drawnOnTerminal = true;
    } else if (this.#plainLineDue(time)) {
      this.#lastDrawTime = time;
      this.#write(`${this.#line(time, false)}\n`);
    }
  }

  done(summaryLine?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const time = this.#now();
    const clear = this.#drawnOnTerminal ? "\r\x1b[2K" : "";
    const text = summaryLine ?? this.#finalLine(time);
    this.#write(`${clear}${text}\n`);
  }

  /** Plain mode: a line each time another 10% is done, or after the interval without one. */
  #plainLineDue(time: number): boolean {
    const total = this.#options.total;
    if (total !== undefined && total > 0) {
      const percent = Math.floor((100 * this.#doneCount) / total / PLAIN_PERCENT_STEP) *
        PLAIN_PERCENT_STEP;
      if (percent > this.#lastPlainPercent) {
        this.#lastPlainPercent = percent;
        return true;
      }
    }
    const intervalMs = (this.#options.plainIntervalSeconds ?? 30) * 1000;
    const since = Number.isFinite(this.#lastDrawTime) ? this.#lastDrawTime : this.#started;
    return time - since >= intervalMs;
  }

  #line(time: number, terminal: boolean): string {
    const { label, total, unit } = this.#options;
    const done = this.#doneCount;
    const rate = this.#rate();
    const parts: Segment[] = [{ text: label, style: "bold" }];
    if (total !== undefined) {
      const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
      parts.push({ text: `${done}/${total} ${plural(unit, total)} (${percent}%)` });
    } else {
      parts.push({ text: `${done} ${plural(unit, done)}` });
    }
    parts.push({ text: formatRate(rate, unit) });
    if (total !== undefined && done < total) {
      const eta = rate > 0 ? (total - done) / rate : Infinity;
      parts.push({ text: `ETA ${formatDuration(eta)}`, style: "dim" });
    } else {
      parts.push({
        text: `elapsed ${formatDuration((time - this.#started) / 1000)}`,
        style: "dim",
      });
    }
    const fields = formatFields(this.#fields);
    if (fields) parts.push({ text: fields });
    const columns = terminal ? this.#stream.columns?.() : undefined;
    if (terminal && total !== undefined) {
      // The bar gives way first on a narrow terminal: the numbers matter more.
      // Each segment but the first has a two-space separator; so does the bar itself.
      const used = parts.reduce((sum, part) => sum + part.text.length + 2, 0);
      const room = columns !== undefined ? columns - 1 - used : BAR_WIDTH;
      const width = Math.min(BAR_WIDTH, room);
      if (width >= MIN_BAR_WIDTH) {
        parts.splice(1, 0, { text: formatBar(total > 0 ? done / total : 1, width) });
      }
    }
    return renderSegments(parts, this.#color, columns);
  }

  #finalLine(time: number): string {
    const { label, unit, total } = this.#options;
    const seconds = (time - this.#started) / 1000;
    const start = this.#options.start ?? 0;
    const done = this.#doneCount - start;
    const fields = formatFields(this.#fields);
    const rate = seconds > 0 ? done / seconds : 0;
    const resumed = start > 0
      ? `, resumed at ${unit} ${start} (run total ${this.#doneCount}` +
        `${total !== undefined ? `/${total}` : ""} ${plural(unit, total ?? this.#doneCount)})`
      : "";
    return `${label}: ${done} ${plural(unit, done)} in ${formatDuration(seconds)} ` +
      `(${formatRate(rate, unit)})${resumed}${fields ? `, ${fields}` : ""}`;
  }

  /** Units per second over the recent window. */
  #rate(): number {
    const first = this.#samples[0]!;
    const last = this.#samples.at(-1)!;
    const seconds = (last.time - first.time) / 1000;
    return seconds > 0 ? (last.done - first.done) / seconds : 0;
  }

  #write(text: string): void {
    this.#stream.writeSync(encoder.encode(text));
  }
}

interface Segment {
  text: string;
  style?: "bold" | "dim";
}

const STYLE_CODES = { bold: ["\x1b[1m", "\x1b[22m"], dim: ["\x1b[2m", "\x1b[22m"] } as const;

/** Joins segments with two spaces, cut to `columns` (counted without colour codes). */
function renderSegments(segments: Segment[], color: boolean, columns?: number): string {
  // One column spare: writing into the last column wraps the cursor on some terminals.
  let room = columns !== undefined && columns > 1 ? columns - 1 : Infinity;
  const out: string[] = [];
  for (const [index, segment] of segments.entries()) {
    const separator = index === 0 ? "" : "  ";
    if (room <= separator.length) break;
    const text = segment.text.slice(0, room - separator.length);
    room -= separator.length + text.length;
    const styled = color && segment.style
      ? `${STYLE_CODES[segment.style][0]}${text}${STYLE_CODES[segment.style][1]}`
      : text;
    out.push(separator + styled);
  }
  return out.join("");
}

function plural(unit: string, count: number): string {
  return count === 1 ? unit : `${unit}s`;
}

/**
 * A duration in seconds, short and fixed in shape: `45s`, `1m05s`, `2h03m`; `?` when unknown.
 *
 * @example
 * ```ts
 * formatDuration(65); // "1m05s"
 * formatDuration(7380); // "2h03m"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${pad2(whole % 60)}s`;
  return `${Math.floor(minutes / 60)}h${pad2(minutes % 60)}m`;
}

function pad2(value: number): string {
  return String(value).padStart(2, "0");
}

/**
 * A rate in units per second; below one per second it flips to seconds per unit, which reads
 * better for slow steps (`4.0 s/step` rather than `0.25 steps/s`).
 *
 * @example
 * ```ts
 * formatRate(3.21, "image"); // "3.2 images/s"
 * formatRate(0.25, "step"); // "4.0 s/step"
 * ```
 */
export function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return `? ${unit}s/s`;
  if (perSecond >= 1) {
    const digits = perSecond >= 100 ? 0 : 1;
    return `${perSecond.toFixed(digits)} ${unit}s/s`;
  }
  const secondsPer = 1 / perSecond;
  return `${secondsPer.toFixed(secondsPer >= 100 ? 0 : 1)} s/${unit}`;
}

/**
 * A bar of `width` cells, `fraction` of them filled (clamped to [0, 1]).
 *
 * @example
 * ```ts
 * formatBar(0.5, 4); // "██░░"
 * ```
 */
export function formatBar(fraction: number, width: number): string {
  const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const filled = Math.floor(clamped * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

/**
 * Extra fields as `name value` pairs; numbers keep four significant digits, and tiny ones (a
 * learning rate) switch to exponent form.
 *
 * @example
 * ```ts
 * formatFields({ loss: 0.431234, lr: 0.0001, epoch: 3 }); // "loss 0.4312  lr 1.00e-4  epoch 3"
 * ```
 */
export function formatFields(fields: ProgressFields): string {
  return Object.entries(fields).map(([name, value]) => `${name} ${formatValue(value)}`)
    .join("  ");
}

function formatValue(value: string | number): string {
  if (typeof value === "string" || Number.isInteger(value) || !Number.isFinite(value)) {
    return String(value);
  }
  if (Math.abs(value) < 1e-3) return value.toExponential(2);
  if (Math.abs(value) >= 1e4) return value.toFixed(0);
  return value.toPrecision(4);
}
