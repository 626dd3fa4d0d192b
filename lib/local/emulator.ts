import { setTimeout as sleep } from 'node:timers/promises';
import { toolError } from '../errors';
import { displayPath } from './paths';
import { isRunning, tailOf } from './processes';
import type { LocalService } from './state-file';

/** How one emulator is installed, launched and recognised. */
export interface EmulatorSpec {
  readonly service: LocalService;
  /** For messages, e.g. "moto server". */
  readonly name: string;
  /** The environment variable that configures its port. */
  readonly portEnv: string;
  /** Part of its command line, to tell it from an unrelated process that got a recycled pid. */
  readonly marker: string;
  /** The API call that proves it answers, for messages. */
  readonly probeName: string;
  /** Fails with a user error saying what to install when it cannot run here. */
  checkInstalled(): void;
  /** Starts it detached on 127.0.0.1:`port`, output to `logFile`; resolves with its pid. */
  launch(port: number, logFile: string): Promise<number>;
  /** Resolves when a real API call to `endpoint` succeeds. */
  probe(endpoint: string, signal: AbortSignal): Promise<void>;
}

/** One probe attempt may take this long before it counts as no answer. */
const PROBE_TIMEOUT_MS = 3_000;
const POLL_INTERVAL_MS = 200;

/** Whether the emulator answers its probe call right now. */
export async function answers(spec: EmulatorSpec, endpoint: string): Promise<boolean> {
  try {
    await spec.probe(endpoint, AbortSignal.timeout(PROBE_TIMEOUT_MS));
    return true;
  } catch {
    return false;
  }
}

export interface WaitUntilAnsweringProps {
  readonly spec: EmulatorSpec;
  readonly endpoint: string;
  readonly pid: number;
  readonly logFile: string;
  readonly timeoutMs: number;
}

/**
 * Polls the emulator's probe call until it succeeds. Fails with a tool error carrying the tail
 * of its log when the process exits first or the time runs out.
 */
export async function waitUntilAnswering(props: WaitUntilAnsweringProps): Promise<void> {
  const { spec, endpoint, pid, logFile } = props;
  const deadline = Date.now() + props.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (!isRunning(pid)) {
      throw toolError(
        'LOCAL_EMULATOR_EXITED',
        `${spec.name} (pid ${pid}) exited before it answered; last lines of ${displayPath(logFile)}:\n${tailOf(logFile)}`,
      );
    }
    const remaining = deadline - Date.now();
    try {
      await spec.probe(endpoint, AbortSignal.timeout(Math.max(1, Math.min(PROBE_TIMEOUT_MS, remaining))));
      return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
  const why = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
  throw toolError(
    'LOCAL_EMULATOR_TIMEOUT',
    `${spec.name} (pid ${pid}) did not answer ${spec.probeName} on ${endpoint} within ${Math.round(props.timeoutMs / 1000)}s ` +
      `(last error: ${why}); last lines of ${displayPath(logFile)}:\n${tailOf(logFile)}`,
    { cause: lastError },
  );
}
