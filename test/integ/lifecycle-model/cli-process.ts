/**
 * One CLI process of the model-based test: the real `bin/cli.ts` with `--json`, under the
 * sequence's own app name, optionally killed with SIGKILL when the k-th message of a code appears
 * (a crash at that point), and killed anyway after a deadline so that a hung verb fails its
 * sequence instead of the whole run: test/_helpers/cli.ts with a kill point and a deadline.
 */
import { runCli, type CliMessage } from '../../_helpers/cli';

export type { CliMessage } from '../../_helpers/cli';

/** Where to crash: at the k-th message whose code is `code` (any code when undefined). */
export interface KillPoint {
  readonly code?: string;
  /** 1-based. */
  readonly k: number;
}

export interface CliOutcome {
  readonly args: readonly string[];
  readonly exitCode: number | null;
  /** Killed at the kill point (not by the deadline). */
  readonly killed: boolean;
  readonly timedOut: boolean;
  readonly seconds: number;
  readonly messages: readonly CliMessage[];
  readonly stderrTail: string;
  /** The last stdout line, parsed (the verb's result with --json), or undefined. */
  readonly result: unknown;
}

export interface RunCliProcessOptions {
  readonly app: string;
  readonly repo: string;
  readonly killAt?: KillPoint;
  /** @default 300_000 ms */
  readonly timeoutMs?: number;
}

export async function runCliProcess(args: readonly string[], options: RunCliProcessOptions): Promise<CliOutcome> {
  const at = options.killAt;
  let seen = 0;
  const run = await runCli(args, {
    app: options.app,
    repo: options.repo,
    timeoutMs: options.timeoutMs ?? 300_000,
    killWhen: at ? (m) => (at.code === undefined || m.code === at.code) && ++seen === at.k : undefined,
  });
  return { args, exitCode: run.code, killed: run.killed, timedOut: run.timedOut, seconds: run.seconds, messages: run.messages, stderrTail: run.stderr.slice(-3000), result: run.result };
}

/** The error-level messages of a run (a user error is exactly one). */
export function errorsOf(run: CliOutcome): CliMessage[] {
  return run.messages.filter((m) => m.level === 'error');
}
