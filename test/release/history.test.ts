/**
 * `history` keeps every run (issue 15): each verb run is an event in the release record, so a
 * second promote no longer overwrites the first (step timings are keyed by verb), and the table has
 * one line per run. Records written before runs were recorded still render, from their timings.
 */
import { describe, expect, it } from 'vitest';
import { renderHistory } from '../../bin/render';
import { userError } from '../../lib/errors';
import { reconcile, type Step } from '../../lib/release/reconcile';
import type { ReleaseRecord, Verb } from '../../lib/ledger/release-records';
import { historyView } from '../../lib/release/views';
import { fakeEngine, never, readyRecord, settle, type FakeEngine } from './fake-engine';

/** A step that takes `seconds` on the fake clock, or fails with `code`. */
const step = (engine: FakeEngine, name: string, seconds: number, code?: string): Step => ({
  name,
  done: () => false,
  run: async () => {
    engine.tick(seconds * 1000);
    if (code) throw userError(code, `${name} failed`);
  },
});

async function run(engine: FakeEngine, releaseId: string, verb: Verb, steps: Step[]): Promise<void> {
  engine.tick(60_000);
  await reconcile(engine, (await engine.store.get(releaseId))!, verb, steps).catch(() => undefined);
}

/** A record as versions before `runs` wrote it: step timings keyed by verb, no runs. */
function legacyRecord(at: string): ReleaseRecord {
  return {
    ...readyRecord('sha-old', at, { promoted: { at: '2029-12-01T10:00:40.000Z', previousReleaseId: null, steps: [100] } }),
    createdAt: '2029-12-01T09:00:00.000Z',
    steps: {
      'release:tag': { startedAt: '2029-12-01T09:00:00.000Z', endedAt: '2029-12-01T09:00:02.000Z' },
      'release:ready': { startedAt: '2029-12-01T09:05:00.000Z', endedAt: '2029-12-01T09:05:00.000Z' },
      'promote:flip': { startedAt: '2029-12-01T10:00:00.000Z', endedAt: '2029-12-01T10:00:40.000Z' },
    },
    version: 1,
  };
}

describe('history: one event per verb run', () => {
  it('GIVEN a release promoted, rolled back, promoted (failing, then again) WHEN history is read THEN every run is there, in order, and rendered one line each', async () => {
    const engine = fakeEngine();
    await engine.store.put({ ...readyRecord('sha-b', engine.nowIso()), steps: {} });
    await engine.store.put(legacyRecord(engine.nowIso()));
    await run(engine, 'sha-b', 'release', [step(engine, 'tag', 1), step(engine, 'ready', 2)]);
    await run(engine, 'sha-b', 'promote', [step(engine, 'gates', 3), step(engine, 'flip', 30)]);
    await run(engine, 'sha-b', 'rollback', [step(engine, 'flip', 10), step(engine, 'drain', 5)]);
    await run(engine, 'sha-b', 'promote', [step(engine, 'gates', 1), step(engine, 'flip', 4, 'ROUTE_UNHEALTHY')]);
    await run(engine, 'sha-b', 'promote', [step(engine, 'gates', 2), step(engine, 'flip', 20)]);

    const entries = await historyView(engine);
    const b = entries.find((e) => e.releaseId === 'sha-b')!;
    expect(b.runs.map((r) => [r.verb, r.outcome, r.seconds])).toEqual([
      ['release', 'done', 3],
      ['promote', 'done', 33],
      ['rollback', 'done', 15],
      ['promote', 'failed', 5],
      ['promote', 'done', 22],
    ]);
    expect(b.runs[3]).toMatchObject({ failedStep: 'flip', code: 'ROUTE_UNHEALTHY' });
    expect(b.runs.every((r) => /@/.test(r.by))).toBe(true);
    // the fields history had before runs are kept
    expect(b).toMatchObject({ releaseId: 'sha-b', by: 'dev@host', durations: expect.objectContaining({ promote: 22, rollback: 15 }) });

    const lines = renderHistory(entries).split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+RELEASE\s+SHA\/BRANCH\s+VERB\s+OUTCOME\s+DURATION\s+BY/);
    const bLines = lines.filter((l) => l.includes('sha-b'));
    expect(bLines).toHaveLength(5);
    expect(bLines.map((l) => l.split(/\s{2,}/).slice(3, 6))).toEqual([
      ['release', 'done', '3s'],
      ['promote', 'done', '33s'],
      ['rollback', 'done', '15s'],
      ['promote', 'failed', '5s'],
      ['promote', 'done', '22s'],
    ]);
    expect(bLines[3]).toMatch(/at flip \(ROUTE_UNHEALTHY\)$/);
    expect(bLines[0]).toMatch(/^2030-01-01 00:01:00\s+sha-b\s+b0000000000/);
  });

  it('renders a record written before runs were recorded, from its step timings', async () => {
    const engine = fakeEngine();
    await engine.store.put(legacyRecord(engine.nowIso()));
    const [old] = await historyView(engine);
    expect(old.runs).toEqual([
      expect.objectContaining({ verb: 'release', outcome: 'done', seconds: 300, fromStepTimings: true }),
      expect.objectContaining({ verb: 'promote', outcome: 'done', seconds: 40, startedAt: '2029-12-01T10:00:00.000Z' }),
    ]);
    const lines = renderHistory([old]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^2029-12-01 10:00:00\s+sha-old\s+old0{9}\s+promote\s+done\s+40s\s+unknown$/);
  });

  it('shows a run left running by a killed process as interrupted, and a running one as running while the lock is held', async () => {
    const engine = fakeEngine();
    await engine.store.put(readyRecord('sha-b', engine.nowIso()));
    void reconcile(engine, (await engine.store.get('sha-b'))!, 'promote', [{ name: 'flip', done: () => false, run: () => never() }]);
    await settle();
    expect((await historyView(engine))[0].runs[0]).toMatchObject({ verb: 'promote', outcome: 'interrupted', step: 'flip' });

    (engine.ledger as unknown as { client: { send: () => Promise<unknown> } }).client.send = async () => ({ Item: { expiresAtMs: engine.clock() + 30_000 } });
    const [b] = await historyView(engine);
    expect(b.runs[0]).toMatchObject({ outcome: 'running' });
    expect(b.runs[0].seconds).toBeUndefined();
    expect(renderHistory([b])).toMatch(/promote\s+running\s+…/);
  });
});
