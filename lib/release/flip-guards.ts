/**
 * What must hold before traffic moves, checked where it can still be refused (issue 13's
 * invariants): no flip — a promote step, a rollback, a route back — unless every sync that keeps
 * the other side current is alive and caught up, and the release taking traffic answers its health
 * check. A guard that fails throws a user error saying why; the caller has not routed anything yet,
 * so traffic stays where it was.
 */
import { shareOf, TrafficRouter, type WeightedTarget } from '../dns';
import { userError } from '../errors';
import type { EdgeInfo, ReleaseEngine } from './engine';
import type { ReleaseRecord } from '../ledger/release-records';
import { DeadLetters } from '../ledger';
import { syncDeadLetterJobId } from './sync-daemon';
import { readSyncStatus, type SyncPair } from '../ledger/sync-status';
import { assertRunning, ensureSyncRunning, waitCaughtUp } from './sync-launcher';

export const RELEASE_UNHEALTHY = 'RELEASE_UNHEALTHY';
export const TRAFFIC_MISMATCH = 'TRAFFIC_MISMATCH';

/** How long a guard waits for a sync to catch up before it refuses the flip. */
const GUARD_CATCH_UP_MS = 120_000;
const HEALTH_TIMEOUT_MS = 5_000;

export function routerOf(engine: ReleaseEngine, edge: EdgeInfo): TrafficRouter {
  return new TrafficRouter({ ioHost: engine.io, hostedZoneId: edge.hostedZoneId, recordName: edge.recordName, ttlSeconds: engine.definition.config.recordTtlSeconds });
}

/**
 * Starts the syncs if they are not running and waits until each has applied what was written
 * before now, within the lag gate. Refuses (SYNC_FAILED, SYNC_BEHIND, …) otherwise.
 */
export async function assertSyncsCaughtUp(engine: ReleaseEngine, pairs: readonly SyncPair[], timeoutMs = GUARD_CATCH_UP_MS): Promise<void> {
  for (const pair of pairs) await ensureSyncRunning(engine, pair);
  const sinceMs = engine.clock();
  for (const pair of pairs) await waitCaughtUp(engine, pair, { sinceMs, maxLagMs: engine.definition.config.lagGateMs, timeoutMs });
  for (const pair of pairs) await assertNoDeadLetters(engine, pair);
}

/**
 * Writes a sync could not carry (dead letters) are writes the other side lacks: caught up, the
 * sync still does not keep that side current for those keys. Refused until they are re-driven.
 */
export async function assertNoDeadLetters(engine: ReleaseEngine, pair: SyncPair): Promise<void> {
  for (const spec of engine.tableSpecs()) {
    const jobId = syncDeadLetterJobId(pair, spec.name);
    const count = await new DeadLetters(engine.ledger, jobId).count();
    if (count === 0) continue;
    throw userError('SYNC_DEAD_LETTERS', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} holds ${count} dead letter(s) of ${spec.name}: those writes are not on ${pair.targetReleaseId}`, {
      fix: `fix the cause (see \`npm run status\`), then npm run redrive -- --job '${jobId}' --table ${spec.name} --source ${engine.tableName(pair.sourceReleaseId, spec.name)} --target ${engine.tableName(pair.targetReleaseId, spec.name)}, and run the command again`,
    });
  }
}

/** Refuses when a sync is not running (SYNC_FAILED with its error, or SYNC_NOT_RUNNING). */
export async function assertSyncAlive(engine: ReleaseEngine, pair: SyncPair): Promise<void> {
  assertRunning(engine, pair, await readSyncStatus(engine.ledger, pair));
}

/** True when the release's own endpoint answers `GET /health` with 2xx. */
export async function isReleaseHealthy(engine: ReleaseEngine, record: ReleaseRecord): Promise<boolean> {
  try {
    const baseUrl = await engine.baseUrlOf(record);
    return (await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) })).ok;
  } catch {
    return false;
  }
}

/** Refuses to send traffic to a release whose app does not answer (stopped, or its stack gone). */
export async function assertReleaseHealthy(engine: ReleaseEngine, record: ReleaseRecord, purpose: string): Promise<void> {
  if (record.checkpoints.tornDown || record.checkpoints.teardown) {
    throw userError(RELEASE_UNHEALTHY, `release ${record.releaseId} is torn down (or being torn down): it cannot ${purpose}`, { fix: 'see `npm run status`' });
  }
  if (await isReleaseHealthy(engine, record)) return;
  throw userError(RELEASE_UNHEALTHY, `release ${record.releaseId} does not answer its health check, so it cannot ${purpose}; traffic stays where it is`, {
    fix: `run \`npm run release -- --sha ${record.sha ?? record.releaseId}\` again to restart its app, then retry`,
  });
}

/** Every release's share of the public record now, in percent (absent: 0). */
export async function trafficShares(router: TrafficRouter): Promise<Map<string, number>> {
  const targets: WeightedTarget[] = await router.current();
  return new Map(targets.map((t) => [t.releaseId, shareOf(targets, t.releaseId)]));
}

/** After a verb moved traffic: the release it claims takes it all, or the verb must not report success. */
export async function assertTakesAllTraffic(router: TrafficRouter, releaseId: string): Promise<void> {
  const shares = await trafficShares(router);
  if (shares.get(releaseId) === 100 && shares.size === 1) return;
  const now = [...shares].map(([id, p]) => `${id} ${p} %`).join(', ') || 'nothing';
  throw userError(TRAFFIC_MISMATCH, `release ${releaseId} should take all traffic of ${router.recordName}, but DNS sends: ${now}`, {
    fix: 'someone changed the record meanwhile; run the command again (routing again is safe)',
  });
}
