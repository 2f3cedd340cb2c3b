/**
 * Runs the `mopeft` command line as a user would, in a child process.
 *
 * @module
 */

const repoRoot = new URL("../", import.meta.url).pathname;

/** What a command-line run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A cli.ts ...args` from the repository root. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Runs a command that must succeed and returns the JSON it printed. */
export async function runCliJson(args: string[]): Promise<Record<string, unknown>> {
  const result = await runCli(args);
  if (result.code !== 0) {
    throw new Error(`mopeft ${args[0]} failed (${result.code}): ${result.stderr}`);
  }
  return JSON.parse(result.stdout);
}

/**
 * Throws unless `result` failed with `code` and exactly one error line (progress lines aside)
 * matching `pattern`, with no stack trace.
 */
export function assertOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  if (result.code !== code) {
    throw new Error(`expected exit code ${code}, got ${result.code}; stderr: ${result.stderr}`);
  }
  const lines = result.stderr.trim().split("\n");
  if (lines.some((line) => /^\s+at /.test(line))) {
    throw new Error(`stderr holds a stack trace:\n${result.stderr}`);
  }
  const errors = lines.filter((line) => !/^mopeft: (loaded|backend|split) /.test(line));
  if (errors.length !== 1 || !pattern.test(errors[0]!)) {
    throw new Error(`expected one error line matching ${pattern}, got:\n${result.stderr}`);
  }
}
