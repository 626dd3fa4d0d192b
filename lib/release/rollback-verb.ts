/**
 * `rollback`: the previous release must answer and both syncs between it and the live release be
 * alive and caught up (else refused, traffic untouched) → move writes back with a fenced cut-over
 * (one writer at every moment; unless `fence: false`) → flip back to the previous release → wait
 * for clients to move → drain the reverse sync → confirm all traffic is there → the previous
 * release is live with every write made on the rolled-back one.
 *
 * `promote --abort` (and `rollback` while a weighted promote is part-way): every write made on the
 * releases that took a share must reach the live release, before and after all traffic goes back
 * to it; the interrupted promote is marked aborted (the release is promotable again).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { shiftTraffic, type TrafficRouter } from '../dns';
import { userError } from '../errors';
import { AppLock, whoAmI } from '../ledger/app-lock';
import type { ReleaseEngine } from './engine';
import { assertNoDeadLetters, assertReleaseHealthy, assertSyncsCaughtUp, assertTakesAllTraffic, routerOf, trafficShares } from './flip-guards';
import { RELEASE_IO } from './messages';
import { guaranteeOf, isFenced, writeModeOf } from './write-modes';
import { phaseOf } from './phase';
import { closeOpenRuns, reconcile } from './reconcile';
import { cutOver, openWrites } from './cut-over';
import type { ReleaseRecord } from '../ledger/release-records';
import type { VerbResult } from './verb-result';
import type { SyncPair } from '../ledger/sync-status';
import { ensureSyncRunning, waitCaughtUp } from './sync-launcher';

export interface RollbackVerbOptions {
  /** Move writes back with a fenced cut-over before the record flips. @default true */
  readonly fence?: boolean;
}

export async function rollbackVerb(engine: ReleaseEngine, options: RollbackVerbOptions = {}): Promise<VerbResult> {
  const edge = await engine.requireEdge();
  const app = await engine.store.appState();
  if (!app.live) throw userError('ROLLBACK_NOTHING_LIVE', 'no release is live', { fix: 'release and promote one first' });
  const router = routerOf(engine, edge);
  const live = await engine.store.require(app.live);
  let prevId = live.checkpoints.promoted?.previousReleaseId;
  const shares = [...(await trafficShares(router)).keys()];
  // A rollback killed after its flip (one route: all traffic to the previous release), before it
  // moved the live pointer. Running it again finishes it (drain, then move the pointer), not undo it.
  const rollingBack =
    live.intent.verb === 'rollback' && !live.checkpoints.rolledBackAt && Boolean(prevId) && app.previous === prevId && shares.length > 0 && shares.every((id) => id === prevId);
  if (!rollingBack && shares.some((id) => id !== live.releaseId)) {
    // A promote stopped part-way: rolling back is putting all traffic back on the live release.
    return AppLock.with({ ledger: engine.ledger, command: `rollback (abort the promote in progress, ${live.releaseId} stays live)` }, () => abortPromoteLocked(engine, router));
  }
  // The release rolled back from: the live one, or the one a rollback killed after moving the live pointer left.
  let from = live;
  if (!prevId || app.previous !== prevId) {
    const last = app.previous ? await engine.store.get(app.previous) : undefined;
    if (last?.intent.verb === 'rollback' && last.checkpoints.rolledBackAt) {
      // A re-run after a rollback that finished (its last step moved the live pointer).
      RELEASE_IO.RELEASE_I3110.emit(engine.io, `rollback from ${last.releaseId} already done: ${live.releaseId} is live`, { releaseId: live.releaseId, phase: 'Live' });
      return { releaseId: live.releaseId, phase: 'Live', record: live };
    }
    if (last?.intent.verb === 'rollback' && last.checkpoints.rollbackFlippedAt && last.checkpoints.promoted?.previousReleaseId === live.releaseId) {
      // Killed between moving the live pointer and recording it done: its drain finishes it.
      from = last;
      prevId = live.releaseId;
    } else {
      throw userError('ROLLBACK_NO_PREVIOUS', `release ${live.releaseId} has no previous release to roll back to`, { fix: 'promote the release you want instead' });
    }
  }
  const previous = await engine.store.require(prevId);
  if (previous.checkpoints.tornDown || previous.checkpoints.teardown) {
    throw userError('ROLLBACK_TORN_DOWN', `the previous release ${prevId} was torn down`, { fix: 'promote another release instead' });
  }
  const ttlMs = engine.definition.config.recordTtlSeconds * 1000;
  const reverse: SyncPair = { direction: 'reverse', sourceReleaseId: from.releaseId, targetReleaseId: previous.releaseId };
  const forward: SyncPair = { direction: 'forward', sourceReleaseId: previous.releaseId, targetReleaseId: from.releaseId };

  return AppLock.with({ ledger: engine.ledger, command: `rollback ${from.releaseId} → ${prevId}` }, async (lock) => {
    let r = await engine.store.require(from.releaseId);
    if (r.intent.verb !== 'rollback') {
      r = await engine.store.update(r, (cur) => ({
        intent: { verb: 'rollback', by: whoAmI(), at: engine.nowIso() },
        checkpoints: { ...cur.checkpoints, rolledBackAt: undefined, rollbackFlippedAt: undefined, rollbackCutOver: undefined },
      }));
    }
    // Each step is done once the flip is: after it, a refusal could only strand traffic on the
    // previous release with the live pointer unmoved; the drain restarts the reverse sync itself.
    const flipped = (cur: ReleaseRecord) => Boolean(cur.checkpoints.rolledBackAt || cur.checkpoints.rollbackFlippedAt);
    const fenced = isFenced(options);
    const mode = writeModeOf(options);
    RELEASE_IO.RELEASE_I3122.emit(engine.io, `writes move ${mode}: ${guaranteeOf(mode)}`, { releaseId: previous.releaseId, mode, guarantee: guaranteeOf(mode) });
    r = await reconcile(
      engine,
      r,
      'rollback',
      [
        {
          // Before traffic moves: writes made here can reach the previous release (reverse), and it
          // keeps this one current for clients that stay a TTL longer (forward). Else refused.
          name: 'syncs',
          done: flipped,
          run: async () => {
            await assertReleaseHealthy(engine, previous, 'take traffic back');
            await assertSyncsCaughtUp(engine, [reverse, forward]);
          },
        },
        {
          // One writer at every moment: writes move back (held, drained, redirected) before the record flips.
          name: 'cut-over',
          done: (cur) => flipped(cur) || !fenced || cur.checkpoints.rollbackCutOver?.toReleaseId === previous.releaseId,
          run: async (cur) => ({ rollbackCutOver: await cutOver(engine, { from: cur, to: previous, sync: reverse }) }),
        },
        {
          // Its own checkpoint: a rollback killed after it drains from then on, and routes nothing
          // again; one killed before it (or during it: routing again is safe) flips.
          name: 'flip',
          done: flipped,
          run: async (cur) => {
            // Without a fence both take writes while clients move (the previous one redirected them after a fenced promote).
            if (!fenced) await openWrites(engine, [cur, previous]);
            await shiftTraffic({
              router,
              ioHost: engine.io,
              from: { releaseId: cur.releaseId, dnsName: engine.albDnsName(cur) },
              to: { releaseId: previous.releaseId, dnsName: engine.albDnsName(previous) },
            });
            await sleep(ttlMs);
            return { rollbackFlippedAt: engine.nowIso() };
          },
        },
        {
          // Every write clients made on the rolled-back release reaches the previous one.
          name: 'drain',
          done: (cur) => Boolean(cur.checkpoints.rolledBackAt),
          run: async (cur) => {
            const flippedAt = cur.checkpoints.rollbackFlippedAt ? Date.parse(cur.checkpoints.rollbackFlippedAt) : engine.clock();
            // Restarted from its checkpoints if it died (a re-run after a kill skips the syncs step).
            await ensureSyncRunning(engine, reverse);
            await waitCaughtUp(engine, reverse, { sinceMs: flippedAt });
            // Not rolled back while a write made here is a dead letter: redrive, then run again.
            await assertNoDeadLetters(engine, reverse);
            await assertTakesAllTraffic(router, previous.releaseId);
            const state = await engine.store.appState();
            if (state.live !== previous.releaseId) await engine.store.putAppState(state, { live: previous.releaseId, previous: from.releaseId });
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

/** `promote --abort`: all traffic back on the live release, losing no write made elsewhere. */
export async function abortPromoteVerb(engine: ReleaseEngine): Promise<VerbResult> {
  const edge = await engine.requireEdge();
  const app = await engine.store.appState();
  if (!app.live) throw userError('ABORT_NOTHING_LIVE', 'no release is live, so there is no promote to undo', { fix: 'promote a release first' });
  return AppLock.with({ ledger: engine.ledger, command: `promote --abort (${app.live} stays live)` }, () => abortPromoteLocked(engine, routerOf(engine, edge)));
}

/** The abort, for a caller that holds the app lock. Idempotent: a re-run after a kill finishes it. */
export async function abortPromoteLocked(engine: ReleaseEngine, router: TrafficRouter): Promise<VerbResult> {
  const app = await engine.store.appState();
  const live = await engine.store.require(app.live!);
  const shares = await trafficShares(router);
  const records = await engine.store.list();
  // Promotes not finished nor given up, and releases DNS still sends a share to.
  const interrupted = records.filter(
    (r) => r.releaseId !== live.releaseId && !r.checkpoints.tornDown && ((r.intent.verb === 'promote' && !r.checkpoints.promoted && !r.checkpoints.promoteAbortedAt) || shares.has(r.releaseId)),
  );
  if (interrupted.length === 0 && shares.get(live.releaseId) === 100) {
    RELEASE_IO.RELEASE_I3110.emit(engine.io, `no promote to abort: ${live.releaseId} is live and takes all traffic`, { releaseId: live.releaseId, phase: 'Live' });
    return { releaseId: live.releaseId, phase: 'Live', record: live };
  }
  // The syncs carrying what the interrupted releases took back to the live one: those that started.
  const reverses: SyncPair[] = interrupted
    .filter((r) => shares.has(r.releaseId) || r.checkpoints.reverseSync?.targetReleaseId === live.releaseId)
    .map((r) => ({ direction: 'reverse', sourceReleaseId: r.releaseId, targetReleaseId: live.releaseId }));
  await assertReleaseHealthy(engine, live, 'take all traffic back');
  if (reverses.length > 0) await assertSyncsCaughtUp(engine, reverses);
  // Writes come back before traffic does: from a release a fenced promote had moved them to, by a
  // cut-over back; else the live release takes them again (a cut-over killed part-way held them).
  for (const r of interrupted) {
    if (r.checkpoints.cutOver?.fromReleaseId === live.releaseId) {
      await cutOver(engine, { from: r, to: live, sync: { direction: 'reverse', sourceReleaseId: r.releaseId, targetReleaseId: live.releaseId } });
    }
  }
  await openWrites(engine, [live]);
  await router.route([{ releaseId: live.releaseId, dnsName: engine.albDnsName(live), weight: 100 }]);
  // Clients keep their answer a TTL: what they write there meanwhile is drained after it.
  await sleep(engine.definition.config.recordTtlSeconds * 1000);
  if (reverses.length > 0) await assertSyncsCaughtUp(engine, reverses);
  await assertTakesAllTraffic(router, live.releaseId);
  for (const r of interrupted) {
    const fresh = (await engine.store.get(r.releaseId)) ?? r;
    const at = engine.nowIso();
    // Its promote run (killed part-way, so still `running`) ends here: given up.
    await engine.store.update(fresh, (x) => ({ checkpoints: { ...x.checkpoints, promoteAbortedAt: at }, ...(x.runs ? { runs: closeOpenRuns(x.runs, 'aborted', at) } : {}) }));
  }
  RELEASE_IO.RELEASE_I3117.emit(engine.io, `promote of ${interrupted.map((r) => r.releaseId).join(', ')} aborted: ${live.releaseId} takes all traffic`, {
    releaseId: live.releaseId,
    aborted: interrupted.map((r) => r.releaseId),
  });
  return { releaseId: live.releaseId, phase: 'Live', record: live };
}
