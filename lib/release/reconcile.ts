/**
 * The reconcile loop (DESIGN.md, "Release state"): a verb is a fixed list of idempotent steps.
 * Each step first asks its checkpoint whether it is done (then it is skipped), else runs and
 * returns the checkpoints it adds, which are written before the next step starts. A process killed
 * anywhere re-runs the same verb and continues at the first step not done; a step interrupted
 * half-way runs again, so every step's effects must be safe to repeat.
 */
import { ReleaseError, messageOf } from '../errors';
import type { AppLock } from './app-lock';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';
import type { Checkpoints, ReleaseRecord, Verb } from './release-record';

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
  let current = record;
  for (const step of steps) {
    lock?.check();
    const base = { releaseId: current.releaseId, verb, step: step.name };
    if (step.done(current)) {
      RELEASE_IO.STEP_I3102.emit(engine.io, `${verb} ${current.releaseId}: ${step.name} already done`, base);
      continue;
    }
    const startedAt = engine.nowIso();
    const t0 = engine.clock();
    current = await engine.store.update(current, (r) => ({ steps: { ...r.steps, [stepKey(verb, step.name)]: { startedAt } } }));
    RELEASE_IO.STEP_I3100.emit(engine.io, `${verb} ${current.releaseId}: ${step.name}…`, base);
    let added: Partial<Checkpoints> | void;
    try {
      added = await step.run(current);
    } catch (e) {
      const code = ReleaseError.isReleaseError(e) ? e.code : ((e as Error)?.name ?? 'Error');
      RELEASE_IO.STEP_W3103.emit(engine.io, `${verb} ${current.releaseId}: ${step.name} failed: ${messageOf(e)}`, { ...base, code });
      const fresh = (await engine.store.get(current.releaseId)) ?? current;
      await engine.store.update(fresh, (r) => ({
        checkpoints: { ...r.checkpoints, failed: { step: step.name, code, message: messageOf(e), at: engine.nowIso() } },
      }));
      throw e;
    }
    // A step may have written the record itself (long steps checkpoint as they go): re-read it.
    const fresh = (await engine.store.get(current.releaseId)) ?? current;
    current = await engine.store.update(fresh, (r) => ({
      checkpoints: { ...r.checkpoints, ...(added ?? {}), failed: undefined },
      steps: { ...r.steps, [stepKey(verb, step.name)]: { startedAt, endedAt: engine.nowIso() } },
    }));
    const seconds = Math.round((engine.clock() - t0) / 100) / 10;
    RELEASE_IO.STEP_I3101.emit(engine.io, `${verb} ${current.releaseId}: ${step.name} done in ${seconds} s`, { ...base, seconds, detail: added ?? undefined });
  }
  return current;
}

/** Steps are timed per verb: a release promoted twice keeps both promote timings apart by name. */
export function stepKey(verb: Verb, step: string): string {
  return `${verb}:${step}`;
}
