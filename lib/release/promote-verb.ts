/**
 * `promote --sha S`: refuse unless S is READY (or rolled back), follows the live release, and its
 * gates still hold → turn on S's streams → start the reverse sync S → previous and wait until it is
 * caught up → flip the public record (in weighted steps with health checks, if asked; before every
 * step both syncs must be alive and caught up, or traffic stays where it is) → let clients' DNS
 * caches expire → confirm what Live means (all traffic on S, its app healthy, the reverse sync
 * alive) → S is live; the previous release is kept, synced both ways, for the rollback window.
 *
 * `rollback` and `promote --abort` are in rollback-verb.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ROUTE_UNHEALTHY, shiftTraffic } from '../dns';
import { messageOf, ReleaseError, userError } from '../errors';
import { AppLock, whoAmI } from '../ledger/app-lock';
import { assertGates, deadLetterCount } from './data-steps';
import type { ReleaseEngine } from './engine';
import type { ReleaseDefinition } from '../config/definition';
import { cutOver, openWrites } from './cut-over';
import { ensureStream } from './ensure-streams';
import { assertReleaseHealthy, assertSyncAlive, assertSyncsCaughtUp, assertTakesAllTraffic, isReleaseHealthy, routerOf, trafficShares } from './flip-guards';
import { RELEASE_IO } from './messages';
import { guaranteeOf, isFenced, writeModeOf } from './write-modes';
import { isPromotable, phaseOf } from './phase';
import { reconcile } from './reconcile';
import type { GateSnapshot, ReleaseRecord } from '../ledger/release-records';
import type { VerbResult } from './verb-result';

import { abortPromoteLocked } from './rollback-verb';
import { readSyncStatus, type SyncPair, type SyncStatus } from '../ledger/sync-status';
import { assertRunning, ensureSyncRunning, syncLogFile, waitCaughtUp } from './sync-launcher';

export const ROLLBACK_LOSSY = 'ROLLBACK_LOSSY';
/** The forward sync is further behind than the lag gate: promote refused, nothing routed. */
export const LAG_GATE_FAILED = 'LAG_GATE_FAILED';
const SYNC_BEHIND = 'SYNC_BEHIND';

export interface PromoteVerbOptions {
  readonly releaseId: string;
  /** Percentages of traffic, ascending, last 100. @default [100] */
  readonly steps?: readonly number[];
  /** Time each step runs before its health check. @default 0 */
  readonly intervalMs?: number;
  /** Promote even though a migration has no `down` (writes after the flip are lost on rollback). @default false */
  readonly allowLossyRollback?: boolean;
  /**
   * Move writes with a fenced cut-over (one writer at every moment) before the record flips. Weighted
   * steps keep two writers by nature and never fence. @default true when all traffic moves at once
   */
  readonly fence?: boolean;
}

export async function promoteVerb(engine: ReleaseEngine, options: PromoteVerbOptions): Promise<VerbResult> {
  const edge = await engine.requireEdge();
  const record = await engine.store.require(options.releaseId);
  const app = await engine.store.appState();
  const router = routerOf(engine, edge);
  const phase = phaseOf(record, app);
  if (phase === 'Live') {
    // Live by the ledger; DNS must agree. After an interrupted weighted promote of another release
    // it does not: promoting the live release again puts all traffic back on it (as --abort does).
    const shares = await trafficShares(router);
    if (shares.get(record.releaseId) === 100 && shares.size === 1) {
      RELEASE_IO.RELEASE_I3110.emit(engine.io, `release ${record.releaseId} is already live`, { releaseId: record.releaseId, phase });
      return { releaseId: record.releaseId, phase, record };
    }
    return AppLock.with({ ledger: engine.ledger, command: `promote --abort (${record.releaseId})` }, () => abortPromoteLocked(engine, router));
  }
  const resumable = phase === 'Failed' && record.intent.verb === 'promote' && Boolean(record.checkpoints.readyAt);
  if (!isPromotable(phase) && !resumable) {
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
  const followed = record.checkpoints.copy?.sourceReleaseId ?? null;
  if (previous && followed !== previous.releaseId) {
    // Its data follows another release (or none): promoting it would serve data that missed every
    // write made on the live release since.
    throw userError('PROMOTE_STALE_SOURCE', `release ${record.releaseId} was copied from ${followed ?? 'nothing'} and follows it, but ${previous.releaseId} is live`, {
      fix: 'release a new commit: it copies the live release',
    });
  }
  if (previous && !options.allowLossyRollback) assertLosslessRollback(engine.definition, record, previous);
  const others = [...(await trafficShares(router))].filter(([id]) => id !== record.releaseId && id !== previous?.releaseId);
  if (others.length > 0) {
    throw userError('PROMOTE_SHIFT_IN_PROGRESS', `release ${others[0]![0]} still takes ${others[0]![1]} % of traffic from an interrupted promote`, {
      fix: 'finish that promote (npm run promote -- --sha <it>) or undo it (npm run promote -- --abort) first',
    });
  }

  return AppLock.with({ ledger: engine.ledger, command: `promote ${record.releaseId}` }, async (lock) => {
    let r = await engine.store.require(record.releaseId);
    if (r.intent.verb !== 'promote' || r.checkpoints.promoteAbortedAt) {
      // A new promote: the previous promote's checkpoints (rolled back or aborted since) no longer
      // apply; an aborted one's cut-over was undone, and its abort would hide this promote's phase.
      r = await engine.store.update(r, (cur) => ({
        intent: { verb: 'promote', by: whoAmI(), at: engine.nowIso(), options: { ...options } },
        checkpoints: { ...cur.checkpoints, promoted: undefined, promoteAbortedAt: undefined, cutOver: undefined },
      }));
    }
    const previousId = previous?.releaseId ?? null;
    const fenced = Boolean(previous) && isFenced(options);
    if (previous) {
      const mode = writeModeOf(options);
      RELEASE_IO.RELEASE_I3122.emit(engine.io, `writes move ${mode}: ${guaranteeOf(mode)}`, { releaseId: r.releaseId, mode, guarantee: guaranteeOf(mode) });
    }
    const ttlMs = engine.definition.config.recordTtlSeconds * 1000;
    // The two syncs that keep both sides current while both can take writes.
    const forward: SyncPair | undefined = previous ? { direction: 'forward', sourceReleaseId: previous.releaseId, targetReleaseId: r.releaseId } : undefined;
    const reverse: SyncPair | undefined = previous ? { direction: 'reverse', sourceReleaseId: r.releaseId, targetReleaseId: previous.releaseId } : undefined;
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
            // have changed is the lag, new dead letters and the stack itself: gates again here.
            if (!(await engine.stackOutputs(engine.stackName(cur.releaseId)))) {
              throw userError('PROMOTE_STACK_MISSING', `the stack ${engine.stackName(cur.releaseId)} of release ${cur.releaseId} does not exist`, { fix: 'release a new commit' });
            }
            const lag = await lagGates(engine, forward!);
            const dead = await deadLetterCount(engine, cur.releaseId);
            const now: GateSnapshot = {
              ok: lag.every((g) => g.ok) && dead === 0,
              at: engine.nowIso(),
              gates: [...lag, { name: 'dead-letters', ok: dead === 0, detail: dead === 0 ? 'no dead letters' : `${dead} dead letters: npm run redrive` }],
            };
            RELEASE_IO.RELEASE_I3112.emit(engine.io, `gates of ${cur.releaseId} at promote: ${now.ok ? 'all pass' : now.gates.filter((g) => !g.ok).map((g) => g.detail).join('; ')}`, { releaseId: cur.releaseId, gates: now.gates });
            // Recorded as measured, pass or fail: the release's snapshot with these gates taken again.
            const gates = withGatesAgain(cur.checkpoints.gates, now);
            if (!now.ok) {
              const fresh = (await engine.store.get(cur.releaseId)) ?? cur;
              await engine.store.update(fresh, (x) => ({ checkpoints: { ...x.checkpoints, gates } }));
              assertLagGate(cur.releaseId, forward!, now, syncLogFile(engine, forward!), engine.definition.config.lagGateMs);
              assertGates(cur.releaseId, now);
            }
            return { gates };
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
          // Before any traffic moves: the sync that carries this release's writes back must run and
          // be caught up, or the first write made here could not reach a rollback.
          name: 'reverse-sync',
          done: () => !previous,
          run: async () => {
            await assertSyncsCaughtUp(engine, [reverse!]);
            return { reverseSync: { targetReleaseId: previousId!, startedAt: engine.nowIso() } };
          },
        },
        {
          // One writer at every moment: writes move (held, drained, redirected) before the record flips.
          name: 'cut-over',
          done: (cur) => !fenced || Boolean(cur.checkpoints.promoted) || cur.checkpoints.cutOver?.fromReleaseId === previousId,
          run: async (cur) => {
            await assertReleaseHealthy(engine, cur, 'take writes');
            return { cutOver: await cutOver(engine, { from: previous!, to: cur, sync: forward! }) };
          },
        },
        {
          name: 'flip',
          done: (cur) => Boolean(cur.checkpoints.promoted),
          run: async (cur) => {
            // Without a fence both take writes while traffic moves (a release held by an earlier fenced try too).
            if (!fenced) await openWrites(engine, previous ? [previous, cur] : [cur]);
            try {
              await assertReleaseHealthy(engine, cur, 'take traffic');
              await shiftTraffic({
                router,
                ioHost: engine.io,
                from: previous ? { releaseId: previous.releaseId, dnsName: engine.albDnsName(previous) } : undefined,
                to: { releaseId: cur.releaseId, dnsName: engine.albDnsName(cur) },
                steps: options.steps,
                intervalMs: options.intervalMs,
                // Every step moves writes: both syncs must be alive and caught up first.
                beforeStep: async () => {
                  if (previous) await assertSyncsCaughtUp(engine, [forward!, reverse!]);
                },
                healthCheck: () => isReleaseHealthy(engine, cur),
              });
            } catch (e) {
              const routedBack = ReleaseError.isReleaseError(e) && e.code === ROUTE_UNHEALTHY;
              // Writes go back where traffic is: all of it went back (unhealthy), or never moved.
              if (previous && (routedBack || (fenced && (await trafficShares(router)).get(previous.releaseId) === 100))) {
                await moveWritesBack(engine, { cur, previous, reverse: reverse!, fenced, aborted: routedBack });
              }
              throw e;
            }
            // Clients hold the old answer for one TTL; writes they send meanwhile reach the
            // previous stack and flow forward through the sync, which keeps running.
            await sleep(ttlMs);
            // Live means: all traffic here, the app answering, and the way back kept current.
            await assertTakesAllTraffic(router, cur.releaseId);
            await assertReleaseHealthy(engine, cur, 'be live');
            if (reverse) await assertSyncAlive(engine, reverse);
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

/** How long promote waits for the forward sync to come within the lag gate before the gate fails. */
const LAG_GATE_WAIT_MS = 120_000;

/**
 * The lag gate at promote, one per table: the forward sync must have applied the live release's
 * writes within `lagGateMs`. Waits for it up to LAG_GATE_WAIT_MS (starting it if it is not
 * running); a sync still behind then is a failed gate with the lag it reports, not an error. A
 * sync that is not running at all (failed, gone) is refused as such (SYNC_FAILED, …).
 */
async function lagGates(engine: ReleaseEngine, pair: SyncPair): Promise<GateSnapshot['gates'][number][]> {
  const gateMs = engine.definition.config.lagGateMs;
  await ensureSyncRunning(engine, pair);
  let status: SyncStatus;
  let behind = false;
  try {
    status = await waitCaughtUp(engine, pair, { sinceMs: engine.clock(), maxLagMs: gateMs, timeoutMs: LAG_GATE_WAIT_MS });
  } catch (e) {
    if (!ReleaseError.isReleaseError(e) || e.code !== SYNC_BEHIND) throw e;
    status = assertRunning(engine, pair, await readSyncStatus(engine.ledger, pair));
    behind = true;
  }
  const gates = engine.tableSpecs().map((spec) => {
    const t = status.tables[spec.name];
    const lagMs = t?.lagMs ?? status.lagMs;
    const pending = t?.pendingShards ?? 0;
    return {
      name: 'lag',
      ok: !behind || (lagMs <= gateMs && pending === 0),
      detail: `${spec.name}: sync lag ${lagMs} ms, gate ${gateMs} ms${pending > 0 ? `, ${pending} shard(s) not read yet` : ''}`,
    };
  });
  if (behind && gates.every((g) => g.ok)) {
    // Within the gate by its last report, but it reported nothing newer while promote waited.
    gates.push({ name: 'lag', ok: false, detail: `no report of the sync within the gate in ${LAG_GATE_WAIT_MS / 1000} s (last heartbeat ${new Date(status.heartbeatAtMs).toISOString()})` });
  }
  return gates;
}

/** `previous` (the release's gate snapshot) with the gates of `now` replacing those of their names. */
function withGatesAgain(previous: GateSnapshot | undefined, now: GateSnapshot): GateSnapshot {
  const names = new Set(now.gates.map((g) => g.name));
  const gates = [...(previous?.gates ?? []).filter((g) => !names.has(g.name)), ...now.gates];
  return { ok: gates.every((g) => g.ok), at: now.at, gates };
}

/** Throws LAG_GATE_FAILED when the lag gate failed: the lag, the gate, and what to do. */
export function assertLagGate(releaseId: string, pair: SyncPair, snapshot: GateSnapshot, logFile: string, gateMs: number): void {
  const lag = snapshot.gates.filter((g) => g.name === 'lag' && !g.ok);
  if (lag.length === 0) return;
  const others = snapshot.gates.filter((g) => g.name !== 'lag' && !g.ok);
  throw userError(
    LAG_GATE_FAILED,
    `release ${releaseId} does not pass its lag gate: the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} is behind (${lag.map((g) => g.detail).join('; ')})${others.length ? `; and ${others.map((g) => g.detail).join('; ')}` : ''}`,
    {
      fix: `nothing was routed; let the sync catch up within the gate (lagGateMs ${gateMs} ms: see its lag in \`npm run status\`, its log in ${logFile}) and run the promote again`,
    },
  );
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

/**
 * After a flip that failed with all traffic on the previous release: writes go back there too
 * (fenced, behind the reverse sync), and a re-run moves them again before it moves traffic. If
 * that fails, the flip's own failure is still what to fix; where writes are is said beside it.
 */
async function moveWritesBack(
  engine: ReleaseEngine,
  props: { readonly cur: ReleaseRecord; readonly previous: ReleaseRecord; readonly reverse: SyncPair; readonly fenced: boolean; readonly aborted: boolean },
): Promise<void> {
  const { cur, previous, reverse } = props;
  try {
    if (props.fenced) await cutOver(engine, { from: cur, to: previous, sync: reverse });
    await assertSyncsCaughtUp(engine, [reverse]);
    const fresh = (await engine.store.get(cur.releaseId)) ?? cur;
    await engine.store.update(fresh, (x) => ({ checkpoints: { ...x.checkpoints, cutOver: undefined, ...(props.aborted ? { promoteAbortedAt: engine.nowIso() } : {}) } }));
  } catch (back) {
    RELEASE_IO.RELEASE_W3123.emit(engine.io, `writes stay on ${cur.releaseId} (${previous.releaseId} redirects them there): moving them back failed: ${messageOf(back)}; \`promote --abort\` moves them back once the reverse sync runs`, {
      releaseId: previous.releaseId,
      writesOn: cur.releaseId,
      error: messageOf(back),
    });
  }
}
