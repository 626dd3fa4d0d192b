/**
 * One CLI process of the model-based test: the real `bin/cli.ts` with `--json`, under the
 * sequence's own app name, optionally killed with SIGKILL when the k-th message of a code appears
 * (a crash at that point), and killed anyway after a deadline so that a hung verb fails its
 * sequence instead of the whole run. Like test/_helpers/cli.ts, plus the deadline and the timing.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../../../lib/local/paths';

export interface CliMessage {
  readonly level: string;
  readonly code: string;
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

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

export function runCliProcess(args: readonly string[], options: RunCliProcessOptions): Promise<CliOutcome> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bin', 'cli.ts'), '--json', '--repo', options.repo, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, STACKSHIFT_APP: options.app },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  let killed = false;
  let timedOut = false;
  let seen = 0;
  const messages: CliMessage[] = [];
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 300_000);
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let m: CliMessage | undefined;
      try {
        m = JSON.parse(line) as CliMessage;
      } catch {
        continue;
      }
      messages.push(m);
      const at = options.killAt;
      if (!killed && at && (at.code === undefined || m.code === at.code) && ++seen === at.k) {
        killed = true;
        child.kill('SIGKILL');
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop();
      let result: unknown;
      try {
        result = last ? JSON.parse(last) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ args, exitCode: code, killed, timedOut, seconds: (Date.now() - started) / 1000, messages, stderrTail: stderr.slice(-3000), result });
    });
  });
}

/** The error-level messages of a run (a user error is exactly one). */
export function errorsOf(run: CliOutcome): CliMessage[] {
  return run.messages.filter((m) => m.level === 'error');
}
