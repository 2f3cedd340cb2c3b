/**
 * Running one `mopeft` command of a cell as a child process: its stdout collected (the JSON
 * result), its stderr handed on line by line (the progress) and its last error line kept (the
 * cell's error). A child process per command keeps each cell's memory apart.
 *
 * @module
 */

// Colour codes, should a child colour its output; built from a string to keep lint's
// no-control-regex rule quiet about the escape character.
const ANSI_ESCAPE = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*[A-Za-z]", "g");

/**
 * Set on every child: its stdin is then a pipe that the study holds open and never writes, so
 * that end of file on it means the study is gone (killed, even by SIGKILL, which it cannot pass
 * on); `mopeft` then stops as on Ctrl-C (`train` saves a checkpoint first) rather than go on
 * writing a cell that the next study run will take up.
 */
export const PARENT_PIPE_ENV = "MOPEFT_PARENT_PIPE";

/** What a finished child command produced. */
export interface ChildResult {
  code: number;
  stdout: string;
  /** The command's error line (its last `mopeft: ...` line on stderr), when it failed. */
  error: string | null;
  seconds: number;
}

/**
 * Runs `program` followed by `args`; `onLine` receives each stderr line as it comes, `onSpawn`
 * the child's process id once it runs. When `signal` aborts, the child gets SIGINT, which a
 * `mopeft train` answers by finishing its step and saving a checkpoint (a scheduler's SIGTERM, or
 * a Kubernetes pod's, reaches only the study). Should this process die, the child reads end of
 * file on its stdin and stops the same way (see {@link PARENT_PIPE_ENV}).
 *
 * @example
 * ```ts ignore
 * const result = await runChild([Deno.execPath(), "run", "-A", "cli.ts"], ["datasets"]);
 * ```
 */
export async function runChild(
  program: readonly string[],
  args: readonly string[],
  onLine?: (line: string) => void,
  signal?: AbortSignal,
  onSpawn?: (pid: number) => void | Promise<void>,
): Promise<ChildResult> {
  const started = performance.now();
  const child = new Deno.Command(program[0]!, {
    args: [...program.slice(1), ...args],
    env: { [PARENT_PIPE_ENV]: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Held open, never written: the kernel closes it when this process ends, however it ends.
  const parentPipe = child.stdin.getWriter();
  await onSpawn?.(child.pid);
  const interrupt = () => {
    try {
      child.kill("SIGINT");
    } catch {
      // It has exited already.
    }
  };
  signal?.addEventListener("abort", interrupt);
  const lines: string[] = [];
  const readErr = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split(/\r?\n|\r/);
      pending = parts.pop()!;
      for (const line of parts) handle(line);
    }
    if (pending) handle(pending);
  })();
  function handle(line: string): void {
    const text = line.replace(ANSI_ESCAPE, "");
    if (!text.trim()) return;
    lines.push(text);
    if (lines.length > 50) lines.shift();
    onLine?.(text);
  }
  const stdoutBytes = new Response(child.stdout).arrayBuffer();
  const [status, out] = await Promise.all([child.status, stdoutBytes, readErr]).finally(() =>
    signal?.removeEventListener("abort", interrupt)
  );
  await parentPipe.close().catch(() => {});
  const seconds = (performance.now() - started) / 1000;
  const code = status.signal ? 128 + signalNumber(status.signal) : status.code;
  let error: string | null = null;
  if (status.signal) {
    // Its last words are progress, not a reason: say what happened instead.
    const why = status.signal === "SIGKILL" ? " (out of memory, or killed by hand)" : "";
    error = `${args[0]} was killed by ${status.signal}${why}`;
  } else if (code !== 0) {
    // A failing mopeft command's last line is its one-line error.
    const last = [...lines].reverse().find((line) => line.startsWith("mopeft: ")) ??
      lines.at(-1);
    error = last?.replace(/^mopeft: /, "") ?? `${args[0]} exited with code ${code}`;
  }
  return { code, stdout: new TextDecoder().decode(out), error, seconds };
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1;
}
