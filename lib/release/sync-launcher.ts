/**
 * Starts and stops sync daemons (sync-daemon.ts) as detached processes of the CLI's hidden
 * `_sync` verb, so that a sync outlives the command that started it. A running daemon is found
 * through its status in the ledger (a fresh heartbeat), never started twice; one that died is
 * started again and resumes from its checkpoints.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { userError } from '../errors';
import { cliCommand } from '../local/paths';
import { isRunning, spawnDetached, tailOf, terminate } from '../local/processes';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';
import { readSyncStatus, requestSyncStop, syncKey, SYNC_HEARTBEAT_MS, type SyncPair, type SyncStatus } from '../ledger/sync-status';

/**
 * A status older than this means the daemon is gone. It beats every second, but a ledger write can
 * queue behind heavy traffic on the table's endpoint (measured: over 5 s on a saturated DynamoDB
 * Local during a 1.2M-item verify), and a live sync taken for dead would stop a rollback.
 */
const STALE_MS = 30 * SYNC_HEARTBEAT_MS;
const START_TIMEOUT_MS = 60_000;

/**
 * A sync is alive when its status is fresh and it has not stopped; one that ran on this machine
 * must also still be a process (a daemon killed with -9 leaves a fresh heartbeat for STALE_MS, and
 * a verb must not wait on it, nor report its last lag as current).
 */
export function isSyncAlive(status: SyncStatus | undefined, now: number): boolean {
  if (!status || status.stoppedAt || status.retiredAt || now - status.heartbeatAtMs >= STALE_MS) return false;
  return status.host !== hostname() || isRunning(status.pid);
}

/** Where a sync's daemon writes its log (appended to by every launch, so why one died is kept). */
export function syncLogFile(engine: ReleaseEngine, pair: SyncPair): string {
  return path.join(engine.stateDir, 'logs', `sync-${pair.sourceReleaseId}-${pair.targetReleaseId}.log`);
}

export async function ensureSyncRunning(engine: ReleaseEngine, pair: SyncPair): Promise<SyncStatus> {
  const current = await readSyncStatus(engine.ledger, pair);
  if (current?.retiredAt) {
    throw userError('SYNC_RETIRED', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} was retired on ${current.retiredAt} (a release it joins was torn down)`, {
      fix: 'see `npm run status`: promote or release another commit instead',
    });
  }
  if (current && isSyncAlive(current, engine.clock()) && !current.stopRequested) {
    RELEASE_IO.SYNC_I3004.emit(engine.io, `${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} already running (pid ${current.pid})`, { ...pair, pid: current.pid, reused: true });
    return current;
  }
  if (current?.error) {
    RELEASE_IO.SYNC_W3005.emit(engine.io, `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} stopped on ${current.stoppedAt ?? '?'}: ${current.error}; starting it again from its checkpoints`, { ...pair, error: current.error });
  }
  const logFile = syncLogFile(engine, pair);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const launchedAt = engine.clock();
  const pid = await spawnDetached({
    command: process.execPath,
    // A sync's memory is bounded by its batches (up to 4 of 1000 records in flight per shard, and
    // every table of the release at once): a budget that leaves the collector room to work.
    args: ['--max-old-space-size=512', ...cliCommand(), '--json', '_sync', '--direction', pair.direction, '--source', pair.sourceReleaseId, '--target', pair.targetReleaseId],
    cwd: engine.repoDir,
    env: {
      ...process.env,
      STACKSHIFT_LOCAL_STATE_DIR: engine.stateDir,
      STACKSHIFT_REPO: engine.repoDir,
      ...(engine.definition.configFile ? { STACKSHIFT_CONFIG: engine.definition.configFile } : {}),
    },
    logFile,
    appendLog: true,
  });
  for (;;) {
    const status = await readSyncStatus(engine.ledger, pair);
    if (status && status.pid === pid && status.heartbeatAtMs >= launchedAt) {
      RELEASE_IO.SYNC_I3004.emit(engine.io, `${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} launched (pid ${pid}, log ${logFile})`, { ...pair, pid, reused: false });
      return status;
    }
    if (!isRunning(pid) || engine.clock() - launchedAt > START_TIMEOUT_MS) {
      throw userError('SYNC_START_FAILED', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} did not start; its log ends with:\n${tailOf(logFile)}`);
    }
    await sleep(200);
  }
}

/** Stops a daemon: asks through the ledger, then kills it if it runs here and does not listen. */
export async function stopSync(engine: ReleaseEngine, pair: SyncPair, timeoutMs = 15_000): Promise<void> {
  const status = await readSyncStatus(engine.ledger, pair);
  if (!status || !isSyncAlive(status, engine.clock())) return;
  await requestSyncStop(engine.ledger, pair);
  const deadline = engine.clock() + timeoutMs;
  while (engine.clock() < deadline) {
    const now = await readSyncStatus(engine.ledger, pair);
    if (!isSyncAlive(now, engine.clock())) return;
    await sleep(250);
  }
  if (status.host === hostname() && isRunning(status.pid)) await terminate(status.pid, 2000);
}

/**
 * Stops a sync for good (teardown): a release it reads or writes is going away. Its status stays,
 * marked retired, so nothing starts it again and status stops listing it.
 */
export async function retireSync(engine: ReleaseEngine, pair: SyncPair): Promise<void> {
  await stopSync(engine, pair);
  await engine.ledger.client.send(
    new UpdateCommand({
      TableName: engine.ledger.tableName,
      Key: syncKey(pair),
      UpdateExpression: 'SET retiredAt = if_not_exists(retiredAt, :r), pair = if_not_exists(pair, :p)',
      ExpressionAttributeValues: { ':r': engine.nowIso(), ':p': pair },
    }),
  );
  RELEASE_IO.SYNC_I3006.emit(engine.io, `${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} retired`, { ...pair });
}

/**
 * The status of a sync that runs, or a refusal saying why it does not (SYNC_FAILED with its error,
 * SYNC_NOT_RUNNING): a verb stops there with traffic where it was, not with a crash.
 */
export function assertRunning(engine: ReleaseEngine, pair: SyncPair, status: SyncStatus | undefined): SyncStatus {
  const fix = `see ${syncLogFile(engine, pair)}; run the command again: it restarts the sync from its checkpoints`;
  if (status?.error) throw userError('SYNC_FAILED', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} failed: ${status.error}`, { fix });
  if (!status || !isSyncAlive(status, engine.clock())) {
    throw userError('SYNC_NOT_RUNNING', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} is not running`, { fix });
  }
  return status;
}

/**
 * Waits until the daemon has applied everything written before `sinceMs`: a heartbeat after it
 * reporting every shard caught up. The daemon must be running (a stopped one never catches up).
 */
export async function waitCaughtUp(
  engine: ReleaseEngine,
  pair: SyncPair,
  options: { readonly sinceMs: number; readonly maxLagMs?: number; readonly timeoutMs?: number; /** @default 250 */ readonly pollMs?: number },
): Promise<SyncStatus> {
  const deadline = engine.clock() + (options.timeoutMs ?? 10 * 60_000);
  let lastReport = 0;
  for (;;) {
    const status = await readSyncStatus(engine.ledger, pair);
    const running = assertRunning(engine, pair, status);
    // One beat of margin: a heartbeat reports reads made up to a poll interval before it.
    const caughtUp = running.heartbeatAtMs > options.sinceMs + SYNC_HEARTBEAT_MS && (running.caughtUp || (options.maxLagMs !== undefined && running.lagMs <= options.maxLagMs && Object.values(running.tables).every((t) => t.pendingShards === 0)));
    if (caughtUp) return running;
    if (engine.clock() > deadline) {
      throw userError('SYNC_BEHIND', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} did not catch up (lag ${running.lagMs} ms)`, { fix: `see ${syncLogFile(engine, pair)} and run the command again` });
    }
    if (engine.clock() - lastReport > 5000) {
      lastReport = engine.clock();
      for (const [table, t] of Object.entries(running.tables)) {
        RELEASE_IO.RELEASE_I3111.emit(engine.io, `${pair.direction} sync of ${table}: lag ${t.lagMs} ms, ${t.pendingShards} shard(s) not read yet`, { releaseId: pair.targetReleaseId, table, lagMs: t.lagMs, caughtUp: running.caughtUp });
      }
    }
    await sleep(options.pollMs ?? 250);
  }
}
