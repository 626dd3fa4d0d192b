import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { toolError } from '../errors';

export interface SpawnDetachedProps {
  readonly command: string;
  readonly args: readonly string[];
  /** Receives the process's stdout and stderr. */
  readonly logFile: string;
  /** Append to the log (a relaunch keeps why the last run stopped) rather than truncate it. @default false */
  readonly appendLog?: boolean;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Starts a process in its own session with its output going to a log file, so that it outlives
 * the process that started it. Resolves with its pid once it has been spawned.
 */
export async function spawnDetached(props: SpawnDetachedProps): Promise<number> {
  const out = fs.openSync(props.logFile, props.appendLog ? 'a' : 'w');
  if (props.appendLog) fs.writeSync(out, `--- ${new Date().toISOString()} ${props.command} ${props.args.join(' ')}\n`);
  try {
    const child = spawn(props.command, props.args, {
      cwd: props.cwd,
      env: props.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    }).catch((err: unknown) => {
      throw toolError('LOCAL_SPAWN_FAILED', `could not start ${props.command} (${(err as Error).message})`, { cause: err });
    });
    child.unref();
    return pid;
  } finally {
    fs.closeSync(out);
  }
}

/**
 * Whether `pid` is a live process. With a `marker`, also whether its command line contains it,
 * so that a pid recycled by the system for another program is not taken for ours. Where there
 * is no /proc (macOS), the marker cannot be checked and only liveness counts.
 */
export function isRunning(pid: number, marker?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: it exists but belongs to another user, so it is not one of ours.
    return false;
  }
  const stat = statOf(pid);
  // Z is a zombie (already exited).
  if (stat?.state === 'Z' || stat?.state === 'X') return false;
  if (marker === undefined) return true;
  const cmdline = readProc(pid, 'cmdline');
  if (cmdline === undefined) return !fs.existsSync('/proc/self');
  return cmdlineMatches(cmdline, marker, stat?.parentPid);
}

/**
 * Whether a live process's command line shows it is ours. A child we have just spawned can still be
 * inside execve: the spawn returns once the child's close-on-exec fds are closed, before the kernel
 * has set up its arguments, and for that moment its command line reads empty. A fleet that took
 * that for "exited" reported a healthy load balancer as dead and left it running.
 */
export function cmdlineMatches(cmdline: string, marker: string, parentPid: number | undefined, self: number = process.pid): boolean {
  if (cmdline === '' && parentPid === self) return true;
  return cmdline.includes(marker);
}

/** Fields 3 and 4 of /proc/<pid>/stat, after the parenthesised command name (which may hold spaces). */
function statOf(pid: number): { state: string; parentPid: number } | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  const [state = '', parentPid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, parentPid: Number(parentPid) };
}

export type TerminateOutcome = 'not-running' | 'terminated' | 'killed';

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
export async function terminate(pid: number, graceMs: number): Promise<TerminateOutcome> {
  if (!signal(pid, 'SIGTERM')) return 'not-running';
  if (await waitForExit(pid, graceMs)) return 'terminated';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 5_000)) return 'killed';
  throw toolError('LOCAL_STOP_FAILED', `process ${pid} is still running after SIGKILL`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a log file, for error messages. */
export function tailOf(file: string, lines = 20): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
  const all = text.trimEnd().split('\n');
  return all.length === 0 || (all.length === 1 && all[0] === '') ? '(log is empty)' : all.slice(-lines).join('\n');
}
