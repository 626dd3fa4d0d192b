/**
 * Model-based test of the release lifecycle (DESIGN.md, "Style to follow"): random sequences of
 * release / promote (all at once, weighted, interrupted, aborted) / rollback / teardown / branch
 * stacks / gc, each verb possibly killed with -9 and run again, with client writes through the
 * public DNS name between verbs; after every command the oracle checks that every acknowledged
 * write is readable from the release DNS serves, that DNS, the ledger and `status --json` agree
 * with each other and with the model, and that a refused verb changed nothing.
 *
 * Each sequence runs under a fresh app name and repository. A failure shrinks (within a budget)
 * and prints the seed, the path and the command list: replay it with `npm run soak -- --seed S
 * --path P`, or here with LIFECYCLE_MODEL_SEED / LIFECYCLE_MODEL_PATH.
 *
 * Sized for CI: one sequence for a fixed seed and one for a random seed (printed), of at most
 * LIFECYCLE_MODEL_MAX_COMMANDS commands each. `npm run soak` runs many more.
 */
import { it as fcIt } from '@fast-check/vitest';
import { describe, inject } from 'vitest';
import { lifecycleCommands, runSequence, type SequenceStats } from './lifecycle-model/sequence';
import { VerbTimings } from './lifecycle-model/system-under-test';

const stateDir = inject('localStateDir');
const MAX_COMMANDS = Number(process.env.LIFECYCLE_MODEL_MAX_COMMANDS ?? 6);
const FIXED_SEED = 20_260_513;
const RANDOM_SEED = Number(process.env.LIFECYCLE_MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REPLAY_PATH = process.env.LIFECYCLE_MODEL_PATH;
/** Shrinking re-runs whole sequences against local AWS: bounded in CI, the soak shrinks longer. */
const SHRINK_BUDGET_MS = 4 * 60_000;
const TEST_TIMEOUT_MS = 15 * 60_000;

const timings = new VerbTimings();
const stats: SequenceStats = { sequences: 0, commands: 0, kills: 0 };
const options = { stateDir, timings, stats, shrinkBudgetMs: SHRINK_BUDGET_MS };

describe('release lifecycle, model-based (fast-check)', () => {
  // GIVEN an empty app and a repository with v1, v2 and a fix
  // WHEN a sequence of verbs (with kills, re-runs and client writes) runs
  // THEN after every command the real state matches the model and loses no acknowledged write
  fcIt.prop([lifecycleCommands(MAX_COMMANDS)], { seed: FIXED_SEED, numRuns: 1 })(
    `holds for the fixed seed ${FIXED_SEED}`,
    (cmds) => runSequence(cmds, options),
    TEST_TIMEOUT_MS,
  );

  process.stdout.write(`lifecycle model: random seed ${RANDOM_SEED}${REPLAY_PATH ? ` path ${REPLAY_PATH}` : ''} (replay: LIFECYCLE_MODEL_SEED=${RANDOM_SEED})\n`);
  fcIt.prop([lifecycleCommands(MAX_COMMANDS)], { seed: RANDOM_SEED, numRuns: 1, ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}) })(
    `holds for the random seed ${RANDOM_SEED}`,
    async (cmds) => {
      await runSequence(cmds, options);
      process.stdout.write(`lifecycle model: per-verb seconds ${JSON.stringify(timings.summary())}\n`);
    },
    TEST_TIMEOUT_MS,
  );
});
