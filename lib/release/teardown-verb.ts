/**
 * `teardown --sha P` / `--branch B`: refuse the live release, any release DNS still sends traffic
 * to, and, without --force, the previous one inside its rollback window → mark P as going (from
 * here it is no rollback target and nothing promotes it) → stop its app → drain the sync from P
 * into the live release → retire every sync that reads or writes P → back up P's tables (unless
 * --no-backup) → destroy its stack → deregister its AMI (unless another release still uses it).
 * Each step records when it was done, so a teardown killed anywhere finishes when run again
 * (after the destroy there is no stream left to drain). `gc` runs this for branch stacks whose
 * branch is gone or TTL passed.
 */
import { userError } from '../errors';
import { AmiBaker } from '../infra/ami-baker';
import { AppLock, whoAmI } from '../ledger/app-lock';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';
import { phaseOf } from './phase';
import { reconcile } from './reconcile';
import type { ReleaseRecord } from '../ledger/release-records';
import type { VerbResult } from './verb-result';
import { ensureSyncRunning, retireSync, waitCaughtUp } from './sync-launcher';
import { routerOf, trafficShares } from './flip-guards';
import type { SyncPair } from '../ledger/sync-status';
import { backupTable } from './table-backup';


export interface TeardownVerbOptions {
  readonly releaseId: string;
  /** Tear down the previous release inside its rollback window. @default false */
  readonly force?: boolean;
  /** Skip the on-demand backup of the release's tables. @default false */
  readonly noBackup?: boolean;
}

export async function teardownVerb(engine: ReleaseEngine, options: TeardownVerbOptions): Promise<VerbResult> {
  await engine.requireEdge();
  const record = await engine.store.require(options.releaseId);
  const app = await engine.store.appState();
  if (record.checkpoints.tornDown) {
    return { releaseId: record.releaseId, phase: 'TornDown', record };
  }
  if (app.live === record.releaseId) {
    throw userError('TEARDOWN_LIVE', `release ${record.releaseId} is live`, { fix: 'promote another release (or roll back) first' });
  }
  await assertNoTraffic(engine, record);
  const live = app.live ? await engine.store.get(app.live) : undefined;
  // The rollback window protects the live release's rollback target, not a release rolled back from.
  if (app.previous === record.releaseId && !options.force && live?.checkpoints.promoted?.previousReleaseId === record.releaseId) {
    const windowMs = engine.definition.config.rollbackWindowMinutes * 60_000;
    const promotedAt = live?.checkpoints.promoted?.at ? Date.parse(live.checkpoints.promoted.at) : 0;
    if (engine.clock() < promotedAt + windowMs) {
      throw userError('TEARDOWN_IN_WINDOW', `release ${record.releaseId} is the rollback target of ${live.releaseId} until ${new Date(promotedAt + windowMs).toISOString()}`, {
        fix: 'wait for the rollback window to pass, or pass --force',
      });
    }
  }
  return AppLock.with({ ledger: engine.ledger, command: `teardown ${record.releaseId}` }, (lock) => teardownLocked(engine, record, options, lock));
}

/** The teardown steps, for a caller that holds the app lock (teardown, gc). */
export async function teardownLocked(engine: ReleaseEngine, record: ReleaseRecord, options: Omit<TeardownVerbOptions, 'releaseId'>, lock: AppLock): Promise<VerbResult> {
  const baker = new AmiBaker({ ioHost: engine.io });
  let r = (await engine.store.get(record.releaseId)) ?? record;
  if (r.intent.verb !== 'teardown' || !r.checkpoints.teardown) {
    r = await engine.store.update(r, (cur) => ({
      intent: { verb: 'teardown', by: whoAmI(), at: engine.nowIso(), options: { ...options } },
      checkpoints: { ...cur.checkpoints, teardown: cur.checkpoints.teardown ?? { startedAt: engine.nowIso() } },
    }));
  }
  // From here on the release is going: it is nobody's rollback target any more.
  const state = await engine.store.appState();
  if (state.previous === r.releaseId) await engine.store.putAppState(state, { live: state.live, previous: null });
  const mark = (cur: ReleaseRecord, change: Partial<NonNullable<ReleaseRecord['checkpoints']['teardown']>>) => ({
    teardown: { ...cur.checkpoints.teardown!, ...change },
  });
  r = await reconcile(
    engine,
    r,
    'teardown',
    [
      // The app first: once it takes no more writes, its stream has an end to drain to.
      { name: 'stop-app', done: (cur) => Boolean(cur.checkpoints.teardown?.destroyedAt), run: async (cur) => void (await engine.target.stopRelease(cur.releaseId)) },
      {
        // Writes clients made here before they moved (the previous release is live until the flip,
        // and DNS caches keep some clients here a TTL longer) are still in this release's stream: the
        // sync carrying them to the live release applies every one before it is stopped, or they
        // would be lost with the stack. Restarted from its checkpoints if it is not running.
        name: 'drain-syncs',
        done: (cur) => Boolean(cur.checkpoints.teardown?.drainedAt),
        run: async (cur) => {
          const stoppedAt = engine.clock();
          const { live } = await engine.store.appState();
          for (const pair of await syncPairsOf(engine, cur)) {
            if (pair.sourceReleaseId !== cur.releaseId || pair.targetReleaseId !== live) continue;
            await ensureSyncRunning(engine, pair);
            await waitCaughtUp(engine, pair, { sinceMs: stoppedAt });
          }
          return mark(cur, { drainedAt: engine.nowIso() });
        },
      },
      {
        // Retired, not only stopped: nothing restarts them, and their checkpoints are never read
        // again (a later sync between other releases has an identity of its own).
        name: 'retire-syncs',
        done: (cur) => Boolean(cur.checkpoints.teardown?.syncsRetiredAt),
        run: async (cur) => {
          for (const pair of await syncPairsOf(engine, cur)) await retireSync(engine, pair);
          return mark(cur, { syncsRetiredAt: engine.nowIso() });
        },
      },
      {
        name: 'backup',
        done: (cur) => Boolean(options.noBackup) || Boolean(cur.checkpoints.teardown?.backups) || Boolean(cur.checkpoints.teardown?.destroyedAt),
        // Each table's backup is recorded as it ends: a teardown killed part-way backs up only the
        // tables not backed up yet (a backup taken again is one more to pay for and to clean up).
        run: async (cur) => {
          let rec = cur;
          for (const t of engine.tableSpecs()) {
            if (rec.checkpoints.teardown?.backedUp?.[t.name] !== undefined) continue;
            const table = engine.tableName(rec.releaseId, t.name);
            const b = (await backupTable(engine, table, `${table}-teardown`)) ?? null;
            rec = await engine.store.update(rec, (x) => ({ checkpoints: { ...x.checkpoints, ...mark(x, { backedUp: { ...x.checkpoints.teardown?.backedUp, [t.name]: b } }) } }));
          }
          const backedUp = rec.checkpoints.teardown?.backedUp ?? {};
          const backups = engine.tableSpecs().flatMap((t) => (backedUp[t.name] ? [backedUp[t.name]!] : []));
          return mark(rec, { backups });
        },
      },
      {
        name: 'destroy',
        done: (cur) => Boolean(cur.checkpoints.teardown?.destroyedAt),
        run: async (cur) => {
          if (cur.checkpoints.ami) {
            // (never deployed without one)
            const deployer = await engine.deployer([engine.releaseSpec(cur)]);
            await deployer.destroy([engine.stackName(cur.releaseId)]);
          }
          return mark(cur, { destroyedAt: engine.nowIso() });
        },
      },
      {
        name: 'ami',
        done: () => false,
        run: async (cur) => {
          const amiId = cur.checkpoints.ami?.amiId;
          if (!amiId) return;
          const others = (await engine.store.list()).filter((o) => o.releaseId !== cur.releaseId && !o.checkpoints.tornDown && o.checkpoints.ami?.amiId === amiId);
          if (others.length === 0) await baker.deregister(amiId);
        },
      },
      {
        // (named for the log line: "teardown <id>: record done in 0 s")
        name: 'record',
        done: (cur) => Boolean(cur.checkpoints.tornDown),
        run: async (cur) => {
          const state = await engine.store.appState();
          if (state.previous === cur.releaseId) await engine.store.putAppState(state, { live: state.live, previous: null });
          return { tornDown: { at: engine.nowIso(), backups: cur.checkpoints.teardown?.backups ?? [] } };
        },
      },
    ],
    lock,
  );
  const phase = phaseOf(r, await engine.store.appState());
  RELEASE_IO.RELEASE_I3110.emit(engine.io, `release ${r.releaseId} is ${phase}`, { releaseId: r.releaseId, phase });
  return { releaseId: r.releaseId, phase, record: r };
}

/** No DNS weight may point at a stack being destroyed (an interrupted promote's share, say). */
async function assertNoTraffic(engine: ReleaseEngine, record: ReleaseRecord): Promise<void> {
  const edge = await engine.requireEdge();
  const share = (await trafficShares(routerOf(engine, edge))).get(record.releaseId);
  if (share === undefined) return;
  throw userError('TEARDOWN_HAS_TRAFFIC', `release ${record.releaseId} still takes ${share} % of traffic (weight in ${edge.recordName})`, {
    fix: 'finish the promote in progress, or undo it with `npm run promote -- --abort`, then tear it down',
  });
}

/** Every sync that reads or writes a release's tables. */
async function syncPairsOf(engine: ReleaseEngine, r: ReleaseRecord): Promise<SyncPair[]> {
  const pairs: SyncPair[] = [];
  const src = r.checkpoints.forwardSync?.sourceReleaseId;
  if (src) pairs.push({ direction: 'forward', sourceReleaseId: src, targetReleaseId: r.releaseId });
  if (r.checkpoints.reverseSync) pairs.push({ direction: 'reverse', sourceReleaseId: r.releaseId, targetReleaseId: r.checkpoints.reverseSync.targetReleaseId });
  for (const o of await engine.store.list()) {
    if (o.checkpoints.forwardSync?.sourceReleaseId === r.releaseId) pairs.push({ direction: 'forward', sourceReleaseId: r.releaseId, targetReleaseId: o.releaseId });
    if (o.checkpoints.reverseSync?.targetReleaseId === r.releaseId) pairs.push({ direction: 'reverse', sourceReleaseId: o.releaseId, targetReleaseId: r.releaseId });
  }
  return pairs;
}

