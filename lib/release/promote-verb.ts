/**
 * `promote --sha S`: refuse unless S is READY (or rolled back) and its gates still hold → turn on
 * S's streams → start the reverse sync S → previous → flip the public record (in weighted steps
 * with health checks, if asked) and wait INSYNC → let clients' DNS caches expire → S is live, the
 * previous release is kept, still synced both ways, for the rollback window.
 *
 * `rollback`: flip back to the previous release → wait for clients to move → drain the reverse
 * sync → the previous release is live with every write made on S.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { shiftTraffic, TrafficRouter } from '../dns';
import { userError } from '../errors';
import { AppLock, whoAmI } from './app-lock';
import { assertGates, deadLetterCount } from './data-steps';
import type { ReleaseEngine } from './engine';
import type { ReleaseDefinition } from './definition';
import { ensureStream } from './ensure-streams';
import { RELEASE_IO } from './messages';
import { isPromotable, phaseOf } from './phase';
import { reconcile } from './reconcile';
import type { ReleaseRecord } from './release-record';
import type { VerbResult } from './release-verb';
import { ensureSyncRunning, waitCaughtUp } from './sync-launcher';

export const ROLLBACK_LOSSY = 'ROLLBACK_LOSSY';

export interface PromoteVerbOptions {
  readonly releaseId: string;
  /** Percentages of traffic, ascending, last 100. @default [100] */
  readonly steps?: readonly number[];
  /** Time each step runs before its health check. @default 0 */
  readonly intervalMs?: number;
  /** Promote even though a migration has no `down` (writes after the flip are lost on rollback). @default false */
  readonly allowLossyRollback?: boolean;
}

export async function promoteVerb(engine: ReleaseEngine, options: PromoteVerbOptions): Promise<VerbResult> {
  const edge = await engine.requireEdge();
  const record = await requireRecord(engine, options.releaseId);
  const app = await engine.store.appState();
  const phase = phaseOf(record, app);
  if (phase === 'Live') {
    RELEASE_IO.RELEASE_I3110.emit(engine.io, `release ${record.releaseId} is already live`, { releaseId: record.releaseId, phase });
    return { releaseId: record.releaseId, phase, record };
  }
  if (!isPromotable(phase)) {
    throw userError('PROMOTE_NOT_READY', `release ${record.releaseId} is ${phase}, not Ready`, {
      fix: phase === 'InProgress' || phase === 'Failed' || phase === 'Created' ? `finish it first: npm run release -- --sha ${record.sha}` : 'release a new commit',
    });
  }
  if (record.branch) {
    throw userError('PROMOTE_BRANCH', `release ${record.releaseId} is a branch stack (${record.branch}); branch stacks never take production traffic`, {
      fix: 'merge the branch and release its commit with --sha',
    });
  }
  const previous = app.live && app.live !== record.releaseId ? await engine.store.get(app.live) : undefined;
  if (previous && !options.allowLossyRollback) assertLosslessRollback(engine.definition, record, previous);
  const router = new TrafficRouter({ ioHost: engine.io, hostedZoneId: edge.hostedZoneId, recordName: edge.recordName, ttlSeconds: engine.definition.config.recordTtlSeconds });

  return AppLock.with({ ledger: engine.ledger, command: `promote ${record.releaseId}` }, async (lock) => {
    let r = await requireRecord(engine, record.releaseId);
    if (r.intent.verb !== 'promote') {
      // A new promote: the previous promote's checkpoint (if rolled back since) no longer applies.
      r = await engine.store.update(r, (cur) => ({
        intent: { verb: 'promote', by: whoAmI(), at: engine.nowIso(), options: { ...options } },
        checkpoints: { ...cur.checkpoints, promoted: undefined },
      }));
    }
    const previousId = previous?.releaseId ?? null;
    const ttlMs = engine.definition.config.recordTtlSeconds * 1000;
    r = await reconcile(
      engine,
      r,
      'promote',
      [
        {
          name: 'gates',
          done: (cur) => !previous || Boolean(cur.checkpoints.promoted),
          run: async (cur) => {
            // The full verify ran at release; since then the forward sync kept applying. What can
            // have changed is the lag and new dead letters: both are gates again here.
            const pair = { direction: 'forward' as const, sourceReleaseId: previous!.releaseId, targetReleaseId: cur.releaseId };
            await ensureSyncRunning(engine, pair);
            const status = await waitCaughtUp(engine, pair, { sinceMs: engine.clock(), maxLagMs: engine.definition.config.lagGateMs, timeoutMs: 120_000 });
            const dead = await deadLetterCount(engine, cur.releaseId);
            const gates = {
              ok: dead === 0,
              at: engine.nowIso(),
              gates: [
                { name: 'lag', ok: true, detail: `forward sync lag ${status.lagMs} ms` },
                { name: 'dead-letters', ok: dead === 0, detail: dead === 0 ? 'no dead letters' : `${dead} dead letters: npm run redrive` },
              ],
            };
            assertGates(cur.releaseId, gates);
            return {};
          },
        },
        {
          name: 'streams',
          done: () => false,
          run: async (cur) => {
            for (const t of engine.tableSpecs()) await ensureStream(engine, engine.tableName(cur.releaseId, t.name));
          },
        },
        {
          name: 'reverse-sync',
          done: () => !previous,
          run: async (cur) => {
            await ensureSyncRunning(engine, { direction: 'reverse', sourceReleaseId: cur.releaseId, targetReleaseId: previousId! });
            return { reverseSync: { targetReleaseId: previousId!, startedAt: engine.nowIso() } };
          },
        },
        {
          name: 'flip',
          done: (cur) => Boolean(cur.checkpoints.promoted),
          run: async (cur) => {
            const baseUrl = await engine.baseUrlOf(cur);
            await shiftTraffic({
              router,
              ioHost: engine.io,
              from: previous ? { releaseId: previous.releaseId, dnsName: engine.albDnsName(previous) } : undefined,
              to: { releaseId: cur.releaseId, dnsName: engine.albDnsName(cur) },
              steps: options.steps,
              intervalMs: options.intervalMs,
              healthCheck: async () => (await fetch(`${baseUrl}/health`)).ok,
            });
            // Clients hold the old answer for one TTL; writes they send meanwhile reach the
            // previous stack and flow forward through the sync, which keeps running.
            await sleep(ttlMs);
            const state = await engine.store.appState();
            if (state.live !== cur.releaseId) await engine.store.putAppState(state, { live: cur.releaseId, previous: previousId });
            return { promoted: { at: engine.nowIso(), previousReleaseId: previousId, steps: options.steps ?? [100] } };
          },
        },
      ],
      lock,
    );
    const phase = phaseOf(r, await engine.store.appState());
    RELEASE_IO.RELEASE_I3110.emit(engine.io, `release ${r.releaseId} is ${phase}`, { releaseId: r.releaseId, phase });
    return { releaseId: r.releaseId, phase, record: r };
  });
}

export async function rollbackVerb(engine: ReleaseEngine): Promise<VerbResult> {
  const edge = await engine.requireEdge();
  const app = await engine.store.appState();
  if (!app.live) throw userError('ROLLBACK_NOTHING_LIVE', 'no release is live', { fix: 'release and promote one first' });
  const live = await requireRecord(engine, app.live);
  const prevId = live.checkpoints.promoted?.previousReleaseId;
  if (!prevId || app.previous !== prevId) {
    const last = app.previous ? await engine.store.get(app.previous) : undefined;
    if (last?.intent.verb === 'rollback' && last.checkpoints.rolledBackAt) {
      // A re-run after a rollback that finished (its last step moved the live pointer).
      RELEASE_IO.RELEASE_I3110.emit(engine.io, `rollback from ${last.releaseId} already done: ${live.releaseId} is live`, { releaseId: live.releaseId, phase: 'Live' });
      return { releaseId: live.releaseId, phase: 'Live', record: live };
    }
    throw userError('ROLLBACK_NO_PREVIOUS', `release ${live.releaseId} has no previous release to roll back to`, { fix: 'promote the release you want instead' });
  }
  const previous = await requireRecord(engine, prevId);
  if (previous.checkpoints.tornDown) {
    throw userError('ROLLBACK_TORN_DOWN', `the previous release ${prevId} was torn down`, { fix: 'promote another release instead' });
  }
  const router = new TrafficRouter({ ioHost: engine.io, hostedZoneId: edge.hostedZoneId, recordName: edge.recordName, ttlSeconds: engine.definition.config.recordTtlSeconds });
  const ttlMs = engine.definition.config.recordTtlSeconds * 1000;

  return AppLock.with({ ledger: engine.ledger, command: `rollback ${live.releaseId} → ${prevId}` }, async (lock) => {
    let r = await requireRecord(engine, live.releaseId);
    if (r.intent.verb !== 'rollback') {
      r = await engine.store.update(r, (cur) => ({ intent: { verb: 'rollback', by: whoAmI(), at: engine.nowIso() }, checkpoints: { ...cur.checkpoints, rolledBackAt: undefined } }));
    }
    let flippedAt = 0;
    r = await reconcile(
      engine,
      r,
      'rollback',
      [
        {
          name: 'flip',
          done: (cur) => Boolean(cur.checkpoints.rolledBackAt),
          run: async (cur) => {
            await shiftTraffic({
              router,
              ioHost: engine.io,
              from: { releaseId: cur.releaseId, dnsName: engine.albDnsName(cur) },
              to: { releaseId: previous.releaseId, dnsName: engine.albDnsName(previous) },
            });
            await sleep(ttlMs);
            flippedAt = engine.clock();
          },
        },
        {
          // Every write clients made on the rolled-back release reaches the previous one.
          name: 'drain',
          done: (cur) => Boolean(cur.checkpoints.rolledBackAt),
          run: async (cur) => {
            const pair = { direction: 'reverse' as const, sourceReleaseId: cur.releaseId, targetReleaseId: previous.releaseId };
            await ensureSyncRunning(engine, pair);
            await waitCaughtUp(engine, pair, { sinceMs: flippedAt || engine.clock() });
            const state = await engine.store.appState();
            if (state.live !== previous.releaseId) await engine.store.putAppState(state, { live: previous.releaseId, previous: cur.releaseId });
            return { rolledBackAt: engine.nowIso() };
          },
        },
      ],
      lock,
    );
    const phase = phaseOf(r, await engine.store.appState());
    RELEASE_IO.RELEASE_I3110.emit(engine.io, `rolled back: ${previous.releaseId} is live, ${r.releaseId} is ${phase}`, { releaseId: r.releaseId, phase });
    return { releaseId: previous.releaseId, phase: 'Live', record: r };
  });
}

export async function requireRecord(engine: ReleaseEngine, releaseId: string): Promise<ReleaseRecord> {
  const r = await engine.store.get(releaseId);
  if (!r) throw userError('RELEASE_UNKNOWN', `release ${releaseId} does not exist`, { fix: 'see `npm run status` for the releases there are' });
  return r;
}

type Versioned = Pick<ReleaseRecord, 'releaseId' | 'dataVersions'>;

/**
 * Refuses to promote `release` over `previous` when a rollback would lose writes: the reverse sync
 * needs a `down` for every migration between their data versions, or writes made on `release`
 * cannot be carried back.
 */
export function assertLosslessRollback(definition: ReleaseDefinition, release: Versioned, previous: Versioned): void {
  const lossy = definition.tables.tables.filter(
    (t) => !definition.migrations.chainIsReversible(t.name, previous.dataVersions[t.name] ?? 1, release.dataVersions[t.name] ?? 1),
  );
  if (lossy.length === 0) return;
  throw userError(ROLLBACK_LOSSY, `a rollback from ${release.releaseId} to ${previous.releaseId} would lose writes: no down migration for ${lossy.map((t) => t.name).join(', ')}`, {
    fix: 'add `down` to the migration, or pass --allow-lossy-rollback to accept it',
  });
}
