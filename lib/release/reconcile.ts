/**
 * The reconcile loop (DESIGN.md, "Release state"): a verb is a fixed list of idempotent steps.
 * Each step first asks its checkpoint whether it is done (then it is skipped), else runs and
 * returns the checkpoints it adds, which are written before the next step starts. A process killed
 * anywhere re-runs the same verb and continues at the first step not done; a step interrupted
 * half-way runs again, so every step's effects must be safe to repeat.
 *
 * Every call is one run of the verb, recorded in the release record's `runs` (history): appended
 * before the first step, completed as `done` after the last or `failed` at the step that threw. A
 * run found still `running` when the next one starts was killed: it is closed as `interrupted`.
 */
import { ReleaseError, messageOf } from '../errors';
import { whoAmI, type AppLock } from '../ledger/app-lock';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';
import type { Checkpoints, ReleaseRecord, RunEvent, RunOutcome, Verb } from '../ledger/release-records';

export interface Step {
  readonly name: string;
  /** True when the record shows the step's effect is in place. */
  done(record: ReleaseRecord): boolean;
  /** Does the step; returns the checkpoints to record. Must be safe to run again after a crash. */
  run(record: ReleaseRecord): Promise<Partial<Checkpoints> | void>;
}

export async function reconcile(
  engine: ReleaseEngine,
  record: ReleaseRecord,
  verb: Verb,
  steps: readonly Step[],
  lock?: AppLock,
): Promise<ReleaseRecord> {
  // The run, by its place in `runs`: only this process writes the record while it holds the lock.
  const open = closeOpenRuns(record.runs ?? [], 'interrupted');
  const run = open.length;
  let current = await engine.store.update(record, () => ({ runs: [...open, { verb, by: whoAmI(), startedAt: engine.nowIso(), outcome: 'running' as const }] }));
  for (const step of steps) {
    lock?.check();
    const base = { releaseId: current.releaseId, verb, step: step.name };
    if (step.done(current)) {
      RELEASE_IO.STEP_I3102.emit(engine.io, `${verb} ${current.releaseId}: ${step.name} already done`, base);
      // Its effect is in place (a later step, or another run, did it): a failure of it is over.
      if (isFailureOf(current.checkpoints.failed, verb, step.name)) {
        current = await engine.store.update(current, (r) => ({ checkpoints: { ...r.checkpoints, failed: undefined } }));
      }
      continue;
    }
    const startedAt = engine.nowIso();
    const t0 = engine.clock();
    current = await engine.store.update(current, (r) => ({
      steps: { ...r.steps, [stepKey(verb, step.name)]: { startedAt } },
      runs: changeRun(r.runs, run, { step: step.name }),
    }));
    RELEASE_IO.STEP_I3100.emit(engine.io, `${verb} ${current.releaseId}: ${step.name}…`, base);
    let added: Partial<Checkpoints> | void;
    try {
      added = await step.run(current);
    } catch (e) {
      const code = ReleaseError.isReleaseError(e) ? e.code : ((e as Error)?.name ?? 'Error');
      RELEASE_IO.STEP_W3103.emit(engine.io, `${verb} ${current.releaseId}: ${step.name} failed: ${messageOf(e)}`, { ...base, code });
      const fresh = (await engine.store.get(current.releaseId)) ?? current;
      const at = engine.nowIso();
      await engine.store.update(fresh, (r) => ({
        checkpoints: { ...r.checkpoints, failed: { step: step.name, verb, code, message: messageOf(e), at } },
        runs: changeRun(r.runs, run, { outcome: 'failed', endedAt: at, failedStep: step.name, code }),
      }));
      throw e;
    }
    // A step may have written the record itself (long steps checkpoint as they go): re-read it.
    const fresh = (await engine.store.get(current.releaseId)) ?? current;
    current = await engine.store.update(fresh, (r) => ({
      // The failure recorded stays until the step that failed succeeds: another step's success says nothing of it.
      checkpoints: { ...r.checkpoints, ...(added ?? {}), failed: isFailureOf(r.checkpoints.failed, verb, step.name) ? undefined : r.checkpoints.failed },
      steps: { ...r.steps, [stepKey(verb, step.name)]: { startedAt, endedAt: engine.nowIso() } },
    }));
    const seconds = Math.round((engine.clock() - t0) / 100) / 10;
    RELEASE_IO.STEP_I3101.emit(engine.io, `${verb} ${current.releaseId}: ${step.name} done in ${seconds} s`, { ...base, seconds, detail: added ?? undefined });
  }
  const fresh = (await engine.store.get(current.releaseId)) ?? current;
  return engine.store.update(fresh, (r) => ({ runs: changeRun(r.runs, run, { outcome: 'done', endedAt: engine.nowIso() }) }));
}

/** Steps are timed per verb: a release promoted twice keeps both promote timings apart by name. */
export function stepKey(verb: Verb, step: string): string {
  return `${verb}:${step}`;
}

/** True when `failed` is the failure of this step of this verb (by name alone in records that did not name the verb). */
export function isFailureOf(failed: Checkpoints['failed'], verb: Verb, step: string): boolean {
  return Boolean(failed) && failed!.step === step && (failed!.verb === undefined || failed!.verb === verb);
}

/** Runs still `running` closed with `outcome` (and `endedAt` when it is known). */
export function closeOpenRuns(runs: readonly RunEvent[], outcome: Exclude<RunOutcome, 'running'>, endedAt?: string): RunEvent[] {
  return runs.map((x) => (x.outcome === 'running' ? { ...x, outcome, ...(endedAt ? { endedAt } : {}) } : x));
}

function changeRun(runs: readonly RunEvent[] | undefined, index: number, change: Partial<RunEvent>): RunEvent[] {
  return (runs ?? []).map((x, i) => (i === index ? { ...x, ...change } : x));
}
