/**
 * Runs the real CLI (bin/cli.ts) as a child process with `--json`, against this test run's local
 * AWS, under an app name of the test's own. It can SIGKILL the child when a given message appears,
 * as a crash at that point would.
 */
import { CATALOG_CONFIG_FILE } from './catalog';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/local/paths';
import { CLI_BUNDLE_ENV } from './cli-bundle';

export interface CliMessage {
  readonly level: string;
  readonly code: string;
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

export interface CliRun {
  readonly code: number | null;
  /** Killed by `killWhen`. */
  readonly killed: boolean;
  /** Killed because it outlived `timeoutMs`. */
  readonly timedOut: boolean;
  readonly seconds: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly messages: readonly CliMessage[];
  /** The last stdout line, parsed (the verb's result with --json), or undefined. */
  readonly result: unknown;
}

export interface RunCliOptions {
  readonly app: string;
  readonly repo: string;
  /** SIGKILL the CLI when a message satisfies this. @default - never */
  readonly killWhen?: (m: CliMessage) => boolean;
  readonly env?: Record<string, string>;
  /** SIGKILL it after this long, so a hung verb fails its test instead of the run. @default - never */
  readonly timeoutMs?: number;
}

/** Node arguments of the CLI to run: the run's build (test/_helpers/cli-bundle.ts) when there is one, else the sources through tsx. */
export function cliEntry(): string[] {
  const bundle = process.env[CLI_BUNDLE_ENV];
  return bundle ? [bundle] : ['--import', 'tsx', path.join(PACKAGE_ROOT, 'bin', 'cli.ts')];
}

export function runCli(args: readonly string[], options: RunCliOptions): Promise<CliRun> {
  const child = spawn(process.execPath, [...cliEntry(), '--json', '--repo', options.repo, ...args], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, STACKSHIFT_APP: options.app, STACKSHIFT_CONFIG: CATALOG_CONFIG_FILE, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  let killed = false;
  let timedOut = false;
  const started = Date.now();
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const messages: CliMessage[] = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
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
      if (!killed && options.killWhen?.(m)) {
        killed = true;
        child.kill('SIGKILL');
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, killed, timedOut, seconds: (Date.now() - started) / 1000, stdout, stderr, messages, result: lastJsonLine(stdout) });
    });
  });
}

/** The codes of the messages, for asserting on codes rather than text. */
export function codes(run: CliRun): string[] {
  return run.messages.map((m) => m.code);
}

/** A verb's result with --json: the last line of its stdout, parsed; undefined when there is none. */
export function lastJsonLine(stdout: string): unknown {
  const last = stdout.trim().split('\n').pop();
  try {
    return last ? JSON.parse(last) : undefined;
  } catch {
    return undefined;
  }
}
