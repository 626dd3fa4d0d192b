/**
 * The property both the CI test and the soak script run: random sequences of lifecycle commands
 * (fc.commands) run against local AWS through fc.asyncModelRun, each under a fresh app name and a
 * fresh release repository, so that sequences are independent and a printed one replays alone.
 */
import * as fc from 'fast-check';
import type { KillPoint } from './cli-process';
import {
  ClientWritesCommand,
  GcCommand,
  InterruptedPromoteCommand,
  KillSyncCommand,
  PromoteAbortCommand,
  PromoteCommand,
  ReleaseBranchCommand,
  ReleaseCommand,
  RollbackCommand,
  TeardownCommand,
  type Real,
} from './commands';
import { BRANCHES, COMMITS, initialModel, type LifecycleModel } from './model';
import { EMPTY_OBSERVATION } from './oracle';
import { SystemUnderTest, type VerbTimings } from './system-under-test';

export type LifecycleCommand = fc.AsyncCommand<LifecycleModel, Real>;

/** No crash (most runs), a crash at the k-th step started, or at the k-th message of any code. */
const killPoint: fc.Arbitrary<KillPoint | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }).map((k): KillPoint => ({ code: 'STEP_I3100', k })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((k): KillPoint => ({ k })) },
);

/** About one command drawn in ten runs whatever the state (see LifecycleCommand.check). */
const probe = fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const commit = fc.constantFrom(...COMMITS);
const branch = fc.constantFrom(...BRANCHES);
/** A uniform draw in [0, 1), two decimals (unbiased: fast-check would favour 0). */
const draw = fc.noBias(fc.integer({ min: 0, max: 99 })).map((n) => n / 100);

/**
 * Every command, weighted towards the verbs that move a sequence forward. Promote and teardown name
 * commits; branch stacks have their own, rarer, commands.
 */
export function lifecycleCommandArbitraries(): fc.Arbitrary<LifecycleCommand>[] {
  const weighted: [number, fc.Arbitrary<LifecycleCommand>][] = [
    [3, fc.tuple(commit, killPoint, probe).map(([c, k, p]) => new ReleaseCommand(c, k, p))],
    [5, fc.tuple(commit, fc.boolean(), killPoint, probe).map(([c, w, k, p]) => new PromoteCommand(c, w, k, p))],
    [2, fc.tuple(commit, fc.constantFrom(1 as const, 2 as const, 3 as const)).map(([c, s]) => new InterruptedPromoteCommand(c, s))],
    [2, fc.tuple(killPoint, probe).map(([k, p]) => new PromoteAbortCommand(k, p))],
    [3, fc.tuple(killPoint, probe).map(([k, p]) => new RollbackCommand(k, p))],
    [2, fc.tuple(commit, fc.boolean(), killPoint, probe).map(([c, f, k, p]) => new TeardownCommand(c, f, k, p))],
    [4, fc.array(fc.record({ newProduct: fc.boolean(), pick: draw, draw }), { minLength: 1, maxLength: 3 }).map((ws) => new ClientWritesCommand(ws))],
    [2, draw.map((p) => new KillSyncCommand(p))],
    // Branch stacks: made, torn down, collected once their branch is gone. (No promote: the CLI
    // names a release to promote by --sha only, and a branch's sha is a commit's release.)
    [1, fc.tuple(branch, killPoint, probe).map(([b, k, p]) => new ReleaseBranchCommand(b, k, p))],
    [1, fc.tuple(branch, killPoint, probe).map(([b, k, p]) => new TeardownCommand(b, false, k, p))],
    [1, fc.tuple(fc.subarray([...BRANCHES]), killPoint, probe).map(([bs, k, p]) => new GcCommand(bs, k, p))],
  ];
  // fc.commands draws uniformly among its arbitraries: a weight is that many copies.
  return weighted.flatMap(([w, arb]) => Array.from({ length: w }, () => arb));
}

/** Commands drawn per command run: most drawn ones do not apply to the state they meet and are skipped (free). */
const DRAWS_PER_STEP = 8;

/**
 * Sequences that run at most `maxSteps` commands (the model counts them): drawn blind to the state,
 * DRAWS_PER_STEP times as many, so that enough of them apply.
 */
export function lifecycleCommands(maxSteps: number): fc.Arbitrary<Iterable<LifecycleCommand>> {
  return fc.commands(lifecycleCommandArbitraries(), { maxCommands: maxSteps * DRAWS_PER_STEP, size: 'max' });
}

/** What a run of the property did, for the soak's report. */
export interface SequenceStats {
  sequences: number;
  commands: number;
  kills: number;
  /** When the first failing sequence ended (shrinking starts then). */
  firstFailureAt?: number;
}

export interface RunSequenceOptions {
  /** The local AWS state directory (the CLI's, the fleet's). */
  readonly stateDir: string;
  /** Commands a sequence runs at most (what `lifecycleCommands` was given). */
  readonly maxSteps: number;
  readonly timings: VerbTimings;
  readonly stats: SequenceStats;
  /**
   * Shrinking runs whole sequences again against local AWS: past this long after the first
   * failure, the remaining shrink candidates are skipped (fc.pre) and the smallest failing
   * sequence found so far is reported. @default 600_000 ms
   */
  readonly shrinkBudgetMs?: number;
  /** Journal lines of each sequence (the commands, the CLI runs, the writes). @default - kept only for the failure message */
  readonly log?: (line: string) => void;
}

/**
 * The property's body: one sequence, from an empty app to its end, then everything it started is
 * stopped. Returns how many commands ran (the others did not apply to the state they met).
 */
export async function runSequence(cmds: Iterable<LifecycleCommand>, options: RunSequenceOptions): Promise<number> {
  const { stats } = options;
  const shrinking = stats.firstFailureAt !== undefined;
  fc.pre(!shrinking || Date.now() - stats.firstFailureAt! < (options.shrinkBudgetMs ?? 600_000));
  const journal: string[] = [];
  const sut = new SystemUnderTest({
    stateDir: options.stateDir,
    timings: options.timings,
    log: (line) => {
      journal.push(line);
      options.log?.(line);
    },
  });
  sut.log(`sequence ${shrinking ? '(shrinking) ' : ''}as app ${sut.app}, repo ${sut.repo.dir}`);
  const model = initialModel(options.maxSteps);
  try {
    await fc.asyncModelRun(() => ({ model, real: { sut, last: EMPTY_OBSERVATION } }), cmds);
  } catch (e) {
    stats.firstFailureAt ??= Date.now();
    const err = e as Error;
    err.message = `${err.message}\n--- journal of the failing sequence (app ${sut.app}) ---\n${journal.join('\n')}`;
    throw err;
  } finally {
    if (!shrinking) {
      stats.sequences++;
      stats.commands += model.steps;
      stats.kills += sut.kills;
    }
    await sut.stop();
  }
  return model.steps;
}
