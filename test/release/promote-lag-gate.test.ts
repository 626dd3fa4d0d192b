/**
 * Promote's lag gate is a gate (issue 15): a forward sync further behind than `lagGateMs` fails the
 * gate with a user error of its own (LAG_GATE_FAILED, exit 1) naming the lag, the gate and the fix,
 * and the lag measured is what the record keeps, pass or fail. The sync, DNS and the lock are faked
 * (a fake sync reports a lag); the verb and reconcile are real.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { exitCodeFor, ReleaseError } from '../../lib/errors';
import type { ReleaseRecord } from '../../lib/ledger/release-records';
import type { SyncPair, SyncStatus } from '../../lib/ledger/sync-status';
import { FakeDns, fakeEngine, readyRecord, type FakeEngine } from './fake-engine';

const fenceLog = vi.hoisted(() => {
  const log: string[] = [];
  const state = {
    log,
    /** A fence change that fails (e.g. `sha-a open`), as a load balancer API error would. */
    failing: undefined as string | undefined,
    set: async (_engine: unknown, record: { releaseId: string }, fence: { kind: string; toDnsName?: string }) => {
      if (state.failing === `${record.releaseId} ${fence.kind}`) throw new Error(`ModifyRule failed for ${record.releaseId}`);
      log.push(`${record.releaseId} ${fence.kind}${fence.toDnsName ? ` → ${fence.toDnsName}` : ''}`);
    },
  };
  return state;
});
const fakes = vi.hoisted(() => {
  const state = {
    dns: undefined as unknown as import('./fake-engine').FakeDns,
    /** The forward sync's lag as its daemon reports it (every table). */
    lagMs: 0,
    deadLetters: 0,
    /** What the health check says when traffic would move (the app can die after its writes moved). */
    healthyForTraffic: true,
    syncStatus: (lagMs: number) =>
      ({ pid: 1, host: 'h', startedAt: '', heartbeatAtMs: 0, lagMs, caughtUp: lagMs === 0, tables: { products: { lagMs, pendingShards: 0 } } }) as unknown as SyncStatus,
    /** The fake sync: caught up within the gate when its lag is, else SYNC_BEHIND as waitCaughtUp throws it once it gave up. */
    waitCaughtUp: async (_engine: unknown, pair: SyncPair, options: { maxLagMs?: number }): Promise<SyncStatus> => {
      const lag = pair.direction === 'forward' ? state.lagMs : 0;
      if (options.maxLagMs !== undefined && lag > options.maxLagMs) {
        const { userError } = await import('../../lib/errors');
        throw userError('SYNC_BEHIND', `the ${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} did not catch up (lag ${lag} ms)`);
      }
      return state.syncStatus(lag);
    },
  };
  return state;
});

// The load balancers' write fences: recorded in order (lib/release/write-fence.ts talks to ELBv2).
vi.mock('../../lib/release/write-fence', async (original) => ({
  ...(await original<typeof import('../../lib/release/write-fence')>()),
  setWriteFence: fenceLog.set,
}));
vi.mock('../../lib/ledger/app-lock', async (original) => ({
  ...(await original<typeof import('../../lib/ledger/app-lock')>()),
  AppLock: { with: (_props: unknown, fn: (lock: unknown) => Promise<unknown>) => fn({ check: () => undefined }) },
}));
vi.mock('../../lib/release/sync-launcher', async (original) => ({
  ...(await original<typeof import('../../lib/release/sync-launcher')>()),
  ensureSyncRunning: async () => fakes.syncStatus(fakes.lagMs),
  waitCaughtUp: fakes.waitCaughtUp,
  assertRunning: (_e: unknown, _p: unknown, s: SyncStatus) => s,
}));
vi.mock('../../lib/ledger/sync-status', async (original) => ({
  ...(await original<typeof import('../../lib/ledger/sync-status')>()),
  readSyncStatus: async (_l: unknown, pair: SyncPair) => fakes.syncStatus(pair.direction === 'forward' ? fakes.lagMs : 0),
}));
vi.mock('../../lib/release/flip-guards', async (original) => ({
  ...(await original<typeof import('../../lib/release/flip-guards')>()),
  routerOf: () => fakes.dns.router(),
  assertReleaseHealthy: async (_e: unknown, record: { releaseId: string }, purpose: string) => {
    if (purpose === 'take traffic' && !fakes.healthyForTraffic) {
      const { userError } = await import('../../lib/errors');
      throw userError('RELEASE_UNHEALTHY', `release ${record.releaseId} does not answer its health check`);
    }
  },
  isReleaseHealthy: async () => true,
  assertSyncAlive: async () => undefined,
  assertNoDeadLetters: async () => undefined,
  // As the real guard: each sync within the lag gate, or refused.
  assertSyncsCaughtUp: async (engine: FakeEngine, pairs: readonly SyncPair[]) => {
    for (const pair of pairs) await fakes.waitCaughtUp(engine, pair, { maxLagMs: engine.definition.config.lagGateMs });
  },
}));
vi.mock('../../lib/release/data-steps', async (original) => ({
  ...(await original<typeof import('../../lib/release/data-steps')>()),
  deadLetterCount: async () => fakes.deadLetters,
}));
vi.mock('../../lib/release/ensure-streams', () => ({ ensureStream: async () => undefined }));

const { promoteVerb, LAG_GATE_FAILED } = await import('../../lib/release/promote-verb');
const { isFenced } = await import('../../lib/release/write-modes');

let engine: FakeEngine;

beforeEach(async () => {
  engine = fakeEngine({ lagGateMs: 1000 });
  fakes.dns = new FakeDns();
  fakes.lagMs = 0;
  fakes.deadLetters = 0;
  fakes.healthyForTraffic = true;
  fenceLog.failing = undefined;
  const at = engine.nowIso();
  await engine.store.put(readyRecord('sha-a', at, { promoted: { at, previousReleaseId: null, steps: [100] } }));
  const c: ReleaseRecord = readyRecord('sha-c', at, {
    copy: { sourceReleaseId: 'sha-a', items: 0, itemsPerSec: 0, endedAt: at },
    forwardSync: { sourceReleaseId: 'sha-a', startedAt: at },
  });
  await engine.store.put(c);
  await engine.store.putAppState(await engine.store.appState(), { live: 'sha-a', previous: null });
  fakes.dns.targets = [{ releaseId: 'sha-a', dnsName: 'alb-sha-a.local', weight: 100 }];
});

describe('promote: the lag gate', () => {
  it('GIVEN the forward sync 4200 ms behind a 1000 ms gate WHEN promoted THEN a failed gate: LAG_GATE_FAILED, exit 1, naming the lag, the gate and the fix; the lag recorded; nothing routed', async () => {
    fakes.lagMs = 4200;
    const err = await promoteVerb(engine, { releaseId: 'sha-c' }).then(() => undefined, (e: unknown) => e);

    expect(ReleaseError.isUserError(err)).toBe(true);
    expect((err as ReleaseError).code).toBe(LAG_GATE_FAILED);
    expect(exitCodeFor(err)).toBe(1);
    expect((err as ReleaseError).message).toMatch(/lag gate/);
    expect((err as ReleaseError).message).toContain('products: sync lag 4200 ms, gate 1000 ms');
    expect((err as ReleaseError).message).toContain('sha-a → sha-c');
    expect((err as ReleaseError).fix).toMatch(/catch up.*run the promote again/);
    expect(fakes.dns.routes).toHaveLength(0);

    const c = (await engine.store.get('sha-c'))!;
    // the gate as measured, next to the release's other gates
    expect(c.checkpoints.gates?.ok).toBe(false);
    expect(c.checkpoints.gates?.gates).toEqual(
      expect.arrayContaining([
        { name: 'lag', ok: false, detail: 'products: sync lag 4200 ms, gate 1000 ms' },
        { name: 'verify', ok: true, detail: 'products: verify found 0 differences' },
        { name: 'dead-letters', ok: true, detail: 'no dead letters' },
      ]),
    );
    expect(c.checkpoints.gates?.gates.filter((g) => g.name === 'lag')).toHaveLength(1);
    expect(c.checkpoints.failed).toMatchObject({ step: 'gates', verb: 'promote', code: LAG_GATE_FAILED });
    expect(engine.io.withCode<{ gates: { name: string; ok: boolean }[] }>('RELEASE_I3112').at(-1)?.data?.gates).toContainEqual(expect.objectContaining({ name: 'lag', ok: false }));
  });

  it('GIVEN the sync within the gate WHEN promoted THEN the gate passes with the lag measured (not a constant), and the promote goes through', async () => {
    fakes.lagMs = 300;
    const result = await promoteVerb(engine, { releaseId: 'sha-c' });
    expect(result.phase).toBe('Live');
    const gates = (await engine.store.get('sha-c'))!.checkpoints.gates!;
    expect(gates.ok).toBe(true);
    expect(gates.gates).toContainEqual({ name: 'lag', ok: true, detail: 'products: sync lag 300 ms, gate 1000 ms' });
  });

  it('moves writes with a fenced cut-over before the flip (one writer at every moment); weighted steps and --no-fence leave both open', async () => {
    fakes.lagMs = 0;
    fenceLog.log.length = 0;
    const result = await promoteVerb(engine, { releaseId: 'sha-c' });
    // held on the new release first (nobody writes there before it is current), then on the live one
    expect(fenceLog.log).toEqual(['sha-c hold', 'sha-a hold', 'sha-c open', 'sha-a redirect → alb-sha-c.local']);
    expect(result.record.checkpoints.cutOver).toMatchObject({ fromReleaseId: 'sha-a', toReleaseId: 'sha-c' });
    expect(isFenced({})).toBe(true);
    expect(isFenced({ steps: [100] })).toBe(true);
    expect(isFenced({ steps: [10, 100] })).toBe(false);
    expect(isFenced({ fence: false })).toBe(false);
  });

  it('GIVEN writes cut over to the new release WHEN its health check fails before traffic moves THEN writes go back to the live release, DNS untouched, and a re-run moves them again', async () => {
    fenceLog.log.length = 0;
    fakes.healthyForTraffic = false;
    const err = await promoteVerb(engine, { releaseId: 'sha-c' }).then(() => undefined, (e: unknown) => e);
    expect((err as ReleaseError).code).toBe('RELEASE_UNHEALTHY');
    // cut over, then cut back: the live release is again the one writer, where all traffic still is
    expect(fenceLog.log).toEqual([
      'sha-c hold', 'sha-a hold', 'sha-c open', 'sha-a redirect → alb-sha-c.local',
      'sha-a hold', 'sha-c hold', 'sha-a open', 'sha-c redirect → alb-sha-a.local',
    ]);
    expect(fakes.dns.routes).toHaveLength(0);
    const c = (await engine.store.get('sha-c'))!;
    expect(c.checkpoints.cutOver).toBeUndefined();
    expect(c.checkpoints.promoteAbortedAt).toBeUndefined();

    fenceLog.log.length = 0;
    fakes.healthyForTraffic = true;
    const result = await promoteVerb(engine, { releaseId: 'sha-c' });
    expect(result.phase).toBe('Live');
    expect(fenceLog.log.slice(0, 4)).toEqual(['sha-c hold', 'sha-a hold', 'sha-c open', 'sha-a redirect → alb-sha-c.local']);
  });

  it('GIVEN the flip failed before traffic moved WHEN writes cannot move back THEN the flip\'s own error, a warning naming where writes are, and the cut-over kept for --abort', async () => {
    fakes.healthyForTraffic = false;
    fenceLog.failing = 'sha-a open';
    const err = await promoteVerb(engine, { releaseId: 'sha-c' }).then(() => undefined, (e: unknown) => e);
    expect((err as ReleaseError).code).toBe('RELEASE_UNHEALTHY');
    const warning = engine.io.withCode<{ writesOn: string; error: string }>('RELEASE_W3123').at(-1);
    expect(warning?.data).toMatchObject({ writesOn: 'sha-c', error: expect.stringContaining('ModifyRule failed for sha-a') });
    expect(warning?.message).toMatch(/promote --abort/);
    expect((await engine.store.get('sha-c'))!.checkpoints.cutOver).toMatchObject({ fromReleaseId: 'sha-a', toReleaseId: 'sha-c' });
    expect(fakes.dns.routes).toHaveLength(0);
  });

  it('GIVEN a promote that was aborted (its cut-over undone) WHEN the release is promoted again THEN it is a new promote: writes move again before traffic, and the abort is cleared (found by the soak, seed 6262 path 37:16)', async () => {
    const at = engine.nowIso();
    const c = (await engine.store.get('sha-c'))!;
    await engine.store.update(c, (x) => ({
      intent: { verb: 'promote', by: 'dev@host', at },
      checkpoints: { ...x.checkpoints, promoteAbortedAt: at, cutOver: { fromReleaseId: 'sha-a', toReleaseId: 'sha-c', heldAt: at, movedAt: at, writePauseMs: 1, drainMs: 1 } },
    }));
    fenceLog.log.length = 0;
    const result = await promoteVerb(engine, { releaseId: 'sha-c' });
    expect(fenceLog.log).toEqual(['sha-c hold', 'sha-a hold', 'sha-c open', 'sha-a redirect → alb-sha-c.local']);
    expect(result.phase).toBe('Live');
    expect(result.record.checkpoints.promoteAbortedAt).toBeUndefined();
  });

  it('GIVEN a failed lag gate WHEN the sync caught up and promote runs again THEN it passes and the failure is cleared', async () => {
    fakes.lagMs = 4200;
    await promoteVerb(engine, { releaseId: 'sha-c' }).catch(() => undefined);
    fakes.lagMs = 0;
    const result = await promoteVerb(engine, { releaseId: 'sha-c' });
    expect(result.phase).toBe('Live');
    expect(result.record.checkpoints.failed).toBeUndefined();
    expect(result.record.checkpoints.gates?.ok).toBe(true);
  });

  it('keeps dead letters a gate of their own (GATES_FAILED)', async () => {
    fakes.deadLetters = 2;
    const err = await promoteVerb(engine, { releaseId: 'sha-c' }).then(() => undefined, (e: unknown) => e);
    expect((err as ReleaseError).code).toBe('GATES_FAILED');
    expect((await engine.store.get('sha-c'))!.checkpoints.gates?.gates).toContainEqual({ name: 'dead-letters', ok: false, detail: '2 dead letters: npm run redrive' });
  });
});
