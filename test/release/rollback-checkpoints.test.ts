/**
 * Rollback's flip is a step with its own checkpoint (issue 15): killed after the flip, a re-run
 * drains from the flip and routes nothing (before: it took the traffic on the previous release for
 * an interrupted promote and put it all back on the release rolled back from); killed before it,
 * a re-run flips. Traffic, syncs and the lock are faked; the verb and reconcile are real.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReleaseRecord } from '../../lib/ledger/release-records';
import { FakeDns, fakeEngine, never, readyRecord, settle, type FakeEngine } from './fake-engine';

const fenceLog = vi.hoisted(() => {
  const log: string[] = [];
  return {
    log,
    set: async (_engine: unknown, record: { releaseId: string }, fence: { kind: string; toDnsName?: string }) => {
      log.push(`${record.releaseId} ${fence.kind}${fence.toDnsName ? ` → ${fence.toDnsName}` : ''}`);
    },
  };
});
const fakes = vi.hoisted(() => ({
  dns: undefined as unknown as import('./fake-engine').FakeDns,
  waitCaughtUp: vi.fn(),
  ensureSyncRunning: vi.fn(),
  assertSyncsCaughtUp: vi.fn(),
}));

// The load balancers' write fences: recorded in order (lib/release/write-fence.ts talks to ELBv2).
vi.mock('../../lib/release/write-fence', async (original) => ({
  ...(await original<typeof import('../../lib/release/write-fence')>()),
  setWriteFence: fenceLog.set,
}));
vi.mock('../../lib/ledger/app-lock', async (original) => ({
  ...(await original<typeof import('../../lib/ledger/app-lock')>()),
  AppLock: { with: (_props: unknown, fn: (lock: unknown) => Promise<unknown>) => fn({ check: () => undefined }) },
}));
vi.mock('../../lib/release/flip-guards', async (original) => ({
  ...(await original<typeof import('../../lib/release/flip-guards')>()),
  routerOf: () => fakes.dns.router(),
  assertReleaseHealthy: async () => undefined,
  assertNoDeadLetters: async () => undefined,
  assertSyncsCaughtUp: fakes.assertSyncsCaughtUp,
}));
vi.mock('../../lib/release/sync-launcher', async (original) => ({
  ...(await original<typeof import('../../lib/release/sync-launcher')>()),
  waitCaughtUp: fakes.waitCaughtUp,
  ensureSyncRunning: fakes.ensureSyncRunning,
}));

const { rollbackVerb } = await import('../../lib/release/rollback-verb');

let engine: FakeEngine;

/** A live, then B promoted over it: B live, A previous, all traffic on B. */
async function promotedOver(): Promise<void> {
  const at = engine.nowIso();
  await engine.store.put(readyRecord('sha-a', at, { promoted: { at, previousReleaseId: null, steps: [100] } }));
  const b: ReleaseRecord = readyRecord('sha-b', at, { copy: { sourceReleaseId: 'sha-a', items: 0, itemsPerSec: 0, endedAt: at }, promoted: { at, previousReleaseId: 'sha-a', steps: [100] } });
  await engine.store.put({ ...b, intent: { verb: 'promote', by: 'dev@host', at } });
  await engine.store.putAppState(await engine.store.appState(), { live: 'sha-b', previous: 'sha-a' });
  fakes.dns.targets = [{ releaseId: 'sha-b', dnsName: 'alb-sha-b.local', weight: 100 }];
}

beforeEach(async () => {
  engine = fakeEngine();
  fakes.dns = new FakeDns();
  for (const f of [fakes.waitCaughtUp, fakes.ensureSyncRunning, fakes.assertSyncsCaughtUp]) f.mockReset().mockResolvedValue(undefined);
  fenceLog.log.length = 0;
  await promotedOver();
});

describe('rollback moves writes back with a fenced cut-over before it flips', () => {
  it('holds the previous release, then the live one, drains the reverse sync, opens the previous one and redirects the other to it; then flips', async () => {
    const result = await rollbackVerb(engine);
    expect(fenceLog.log).toEqual(['sha-a hold', 'sha-b hold', 'sha-a open', 'sha-b redirect → alb-sha-a.local']);
    expect(fakes.waitCaughtUp).toHaveBeenCalledWith(engine, expect.objectContaining({ direction: 'reverse', sourceReleaseId: 'sha-b', targetReleaseId: 'sha-a' }), expect.objectContaining({ timeoutMs: 60_000 }));
    expect(result.record.checkpoints.rollbackCutOver).toMatchObject({ fromReleaseId: 'sha-b', toReleaseId: 'sha-a', writePauseMs: expect.any(Number) });
    expect(fakes.dns.routes).toEqual([[{ releaseId: 'sha-a', dnsName: 'alb-sha-a.local', weight: 100 }]]);
  });

  it('GIVEN the cut-over cannot drain WHEN rolling back THEN writes go back to the live release, the previous one redirects to it, nothing is routed, and the error says so', async () => {
    fakes.waitCaughtUp.mockRejectedValueOnce(new Error('the reverse sync did not catch up within 60 s'));
    await expect(rollbackVerb(engine)).rejects.toThrow(/did not catch up/);
    expect(fenceLog.log).toEqual(['sha-a hold', 'sha-b hold', 'sha-b open', 'sha-a redirect → alb-sha-b.local']);
    expect(fakes.dns.routes).toEqual([]);
    expect(engine.io.withCode('RELEASE_I3121')[0]!.message).toMatch(/sha-b takes writes again, traffic unchanged/);
    expect(engine.store.app).toMatchObject({ live: 'sha-b' });

    // WHEN run again once the sync can drain, it cuts over and flips
    await rollbackVerb(engine);
    expect(fenceLog.log.slice(4)).toEqual(['sha-a hold', 'sha-b hold', 'sha-a open', 'sha-b redirect → alb-sha-a.local']);
    expect(engine.store.app).toMatchObject({ live: 'sha-a', previous: 'sha-b' });
  });

  it('without a fence, both releases take writes while traffic moves back', async () => {
    await rollbackVerb(engine, { fence: false });
    expect(fenceLog.log).toEqual(['sha-b open', 'sha-a open']);
    expect((await engine.store.get('sha-b'))!.checkpoints.rollbackCutOver).toBeUndefined();
    expect(engine.store.app).toMatchObject({ live: 'sha-a', previous: 'sha-b' });
  });
});

describe('rollback records its flip as its own step', () => {
  it('GIVEN a rollback killed after its flip (while draining) WHEN run again THEN it does not route again, drains from the flip and moves the live pointer', async () => {
    // (the first wait is the cut-over's drain; the second, the drain after the flip, never ends)
    fakes.waitCaughtUp.mockResolvedValueOnce(undefined).mockImplementationOnce(() => never());
    void rollbackVerb(engine);
    await settle();
    expect(fakes.dns.targets).toEqual([{ releaseId: 'sha-a', dnsName: 'alb-sha-a.local', weight: 100 }]);
    const flipTime = engine.clock();
    const routed = fakes.dns.routes.length;

    // WHEN run again ten minutes later
    engine.tick(600_000);
    const result = await rollbackVerb(engine);

    // THEN nothing was routed again (no flip, and not an abort putting traffic back on B)
    expect(fakes.dns.routes.length).toBe(routed);
    expect(engine.io.codes()).not.toContain('RELEASE_I3117');
    expect(engine.io.withCode<{ step: string }>('STEP_I3102').map((m) => m.data?.step)).toEqual(['syncs', 'cut-over', 'flip']);
    // AND the drain waited for what was written since the flip, not since the re-run
    expect(fakes.waitCaughtUp).toHaveBeenLastCalledWith(engine, expect.objectContaining({ direction: 'reverse', sourceReleaseId: 'sha-b' }), { sinceMs: flipTime });
    expect(fakes.ensureSyncRunning).toHaveBeenCalled();
    expect(result).toMatchObject({ releaseId: 'sha-a', phase: 'Live' });
    expect(engine.store.app).toMatchObject({ live: 'sha-a', previous: 'sha-b' });
    expect((await engine.store.get('sha-b'))!.checkpoints.rolledBackAt).toBeDefined();
    expect(fakes.dns.targets).toEqual([{ releaseId: 'sha-a', dnsName: 'alb-sha-a.local', weight: 100 }]);
    // the flip, its own checkpoint
    expect((await engine.store.get('sha-b'))!.checkpoints.rollbackFlippedAt).toBe(new Date(flipTime).toISOString());
  });

  it('GIVEN a rollback killed before its flip (checking the syncs) WHEN run again THEN it flips, once', async () => {
    fakes.assertSyncsCaughtUp.mockImplementationOnce(() => never());
    void rollbackVerb(engine);
    await settle();
    expect(fakes.dns.routes).toHaveLength(0);

    await rollbackVerb(engine);
    expect(fakes.dns.routes).toEqual([[{ releaseId: 'sha-a', dnsName: 'alb-sha-a.local', weight: 100 }]]);
    expect(engine.store.app).toMatchObject({ live: 'sha-a', previous: 'sha-b' });
  });

  it('GIVEN a rollback killed after moving the live pointer, before recording it done WHEN run again THEN it finishes (before: refused, no previous)', async () => {
    const put = engine.store.put.bind(engine.store);
    let killed = false;
    engine.store.put = async (next) => {
      if (!killed && next.checkpoints.rolledBackAt) {
        killed = true;
        return never();
      }
      return put(next);
    };
    void rollbackVerb(engine);
    await settle();
    expect(killed).toBe(true);
    expect(engine.store.app).toMatchObject({ live: 'sha-a', previous: 'sha-b' });

    const result = await rollbackVerb(engine);
    expect(result).toMatchObject({ releaseId: 'sha-a', phase: 'Live' });
    expect((await engine.store.get('sha-b'))!.checkpoints.rolledBackAt).toBeDefined();
    expect(fakes.dns.routes).toHaveLength(1);
    // AND a third run sees it done
    await rollbackVerb(engine);
    expect(engine.io.withCode<{ releaseId: string }>('RELEASE_I3110').at(-1)!.message).toMatch(/already done/);
  });

  it('still undoes a weighted promote stopped part-way, even while a refused rollback of the live release is recorded', async () => {
    // a rollback of B refused before its flip (its intent stays)
    fakes.assertSyncsCaughtUp.mockRejectedValueOnce(new Error('reverse sync not running'));
    await rollbackVerb(engine).catch(() => undefined);
    // AND a promote of D over B killed at 10 %
    const at = engine.nowIso();
    const d = readyRecord('sha-d', at, { copy: { sourceReleaseId: 'sha-b', items: 0, itemsPerSec: 0, endedAt: at } });
    await engine.store.put({ ...d, intent: { verb: 'promote', by: 'dev@host', at }, runs: [{ verb: 'promote', by: 'dev@host', startedAt: at, outcome: 'running', step: 'flip' }] });
    fakes.dns.targets = [
      { releaseId: 'sha-d', dnsName: 'alb-sha-d.local', weight: 10 },
      { releaseId: 'sha-b', dnsName: 'alb-sha-b.local', weight: 90 },
    ];
    await rollbackVerb(engine);
    expect(engine.io.codes()).toContain('RELEASE_I3117');
    expect(fakes.dns.targets).toEqual([{ releaseId: 'sha-b', dnsName: 'alb-sha-b.local', weight: 100 }]);
    expect(engine.store.app).toMatchObject({ live: 'sha-b', previous: 'sha-a' });
    // AND the killed promote's run is closed as aborted
    expect((await engine.store.get('sha-d'))!.runs).toEqual([expect.objectContaining({ verb: 'promote', outcome: 'aborted', endedAt: engine.nowIso() })]);
  });

  it('records a new rollback\'s flip afresh: an earlier rollback\'s checkpoint does not skip it', async () => {
    await rollbackVerb(engine);
    // B promoted again over A (the promote's intent), then rolled back again
    const b = (await engine.store.get('sha-b'))!;
    const at = engine.nowIso();
    await engine.store.update(b, (x) => ({ intent: { verb: 'promote', by: 'dev@host', at }, checkpoints: { ...x.checkpoints, promoted: { at, previousReleaseId: 'sha-a', steps: [100] } } }));
    await engine.store.putAppState(await engine.store.appState(), { live: 'sha-b', previous: 'sha-a' });
    fakes.dns.targets = [{ releaseId: 'sha-b', dnsName: 'alb-sha-b.local', weight: 100 }];
    fakes.dns.routes.length = 0;

    await rollbackVerb(engine);
    expect(fakes.dns.routes).toHaveLength(1);
    expect(engine.store.app).toMatchObject({ live: 'sha-a', previous: 'sha-b' });
  });
});
