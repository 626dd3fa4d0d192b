import { describe, expect, it } from 'vitest';
import { userError } from '../../lib/errors';
import { reconcile, type Step } from '../../lib/release/reconcile';
import type { ReleaseRecord } from '../../lib/ledger/release-records';
import { fakeEngine, never, readyRecord, settle, type FakeEngine } from './fake-engine';

async function seeded(engine: FakeEngine, record: ReleaseRecord): Promise<ReleaseRecord> {
  return engine.store.put(record);
}

const ok = (name: string): Step => ({ name, done: () => false, run: async () => undefined });
const failing = (name: string, code = 'BOOM'): Step => ({
  name,
  done: () => false,
  run: async () => {
    throw userError(code, `${name} failed`);
  },
});
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('reconcile: `failed` is cleared only by the step that failed', () => {
  it('GIVEN a failure of step b WHEN a re-run has step a succeed and b fail again THEN the failure is kept (before: a cleared it)', async () => {
    const engine = fakeEngine();
    const r = await seeded(engine, readyRecord('sha-a', engine.nowIso()));
    await rejection(reconcile(engine, r, 'promote', [ok('a'), failing('b')]));
    expect((await engine.store.get('sha-a'))!.checkpoints.failed).toMatchObject({ step: 'b', code: 'BOOM' });

    // WHEN run again, b is killed (-9) while it runs: a succeeded meanwhile
    let reached = false;
    void reconcile(engine, (await engine.store.get('sha-a'))!, 'promote', [
      ok('a'),
      {
        name: 'b',
        done: () => false,
        run: () => {
          reached = true;
          return never();
        },
      },
    ]);
    await settle();
    expect(reached).toBe(true);
    // THEN the failure of b is still recorded (the release is still Failed), naming its verb
    expect((await engine.store.get('sha-a'))!.checkpoints.failed).toMatchObject({ step: 'b', code: 'BOOM' });
    expect((await engine.store.get('sha-a'))!.checkpoints.failed?.verb).toBe('promote');
  });

  it('clears it when the step that failed succeeds, and keeps a failure of the same step name in another verb', async () => {
    const engine = fakeEngine();
    let r = await seeded(engine, readyRecord('sha-a', engine.nowIso()));
    await rejection(reconcile(engine, r, 'release', [failing('gates', 'GATES_FAILED')]));
    // a promote's `gates` step succeeding says nothing of the release's gates
    r = await reconcile(engine, (await engine.store.get('sha-a'))!, 'promote', [ok('gates')]);
    expect(r.checkpoints.failed).toMatchObject({ step: 'gates', code: 'GATES_FAILED' });
    // the release's gates succeeding clears it
    r = await reconcile(engine, r, 'release', [ok('gates')]);
    expect(r.checkpoints.failed).toBeUndefined();
  });

  it('clears a failure when the failed step is found done (its effect in place), and a legacy failure without verb by step name', async () => {
    const engine = fakeEngine();
    const legacy = readyRecord('sha-a', engine.nowIso(), { failed: { step: 'backup', code: 'X', message: 'm', at: engine.nowIso() } });
    let r = await seeded(engine, legacy);
    r = await reconcile(engine, r, 'teardown', [ok('stop-app')]);
    expect(r.checkpoints.failed).toMatchObject({ step: 'backup' });
    r = await reconcile(engine, r, 'teardown', [{ name: 'backup', done: () => true, run: async () => undefined }]);
    expect(r.checkpoints.failed).toBeUndefined();
  });
});

describe('reconcile: every run of a verb is recorded', () => {
  it('GIVEN two promotes of one release WHEN both ran THEN runs holds both, each with its start, end, outcome and who', async () => {
    const engine = fakeEngine();
    let r = await seeded(engine, readyRecord('sha-a', engine.nowIso()));
    engine.tick(60_000);
    r = await reconcile(engine, r, 'promote', [
      {
        name: 'flip',
        done: () => false,
        run: async () => {
          engine.tick(5_000);
        },
      },
    ]);
    engine.tick(60_000);
    await rejection(reconcile(engine, r, 'promote', [failing('flip', 'ROUTE_UNHEALTHY')]));
    const runs = (await engine.store.get('sha-a'))!.runs!;
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ verb: 'promote', outcome: 'done', startedAt: '2030-01-01T00:01:00.000Z', endedAt: '2030-01-01T00:01:05.000Z' });
    expect(runs[0].by).toMatch(/@/);
    expect(runs[1]).toMatchObject({ verb: 'promote', outcome: 'failed', failedStep: 'flip', code: 'ROUTE_UNHEALTHY', startedAt: '2030-01-01T00:02:05.000Z' });
  });

  it('closes a run a kill left running as interrupted, where it was, when the next run starts', async () => {
    const engine = fakeEngine();
    const r = await seeded(engine, readyRecord('sha-a', engine.nowIso()));
    void reconcile(engine, r, 'rollback', [ok('syncs'), { name: 'flip', done: () => false, run: () => never() }]);
    await settle();
    expect((await engine.store.get('sha-a'))!.runs).toEqual([expect.objectContaining({ verb: 'rollback', outcome: 'running', step: 'flip' })]);
    const again = await reconcile(engine, (await engine.store.get('sha-a'))!, 'rollback', [ok('flip')]);
    expect(again.runs!.map((x) => [x.verb, x.outcome, x.step])).toEqual([
      ['rollback', 'interrupted', 'flip'],
      ['rollback', 'done', 'flip'],
    ]);
    expect(again.runs![0].endedAt).toBeUndefined();
  });
});
