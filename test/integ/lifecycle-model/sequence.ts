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
  PromoteAbortCommand,
  PromoteCommand,
  ReleaseBranchCommand,
  ReleaseCommand,
  RollbackCommand,
  TeardownCommand,
  type Real,
} from './commands';
import { BRANCHES, COMMITS, initialModel, type LifecycleModel, type ReleaseName } from './model';
import { EMPTY_OBSERVATION } from './oracle';
import { SystemUnderTest, type VerbTimings } from './system-under-test';

export type LifecycleCommand = fc.AsyncCommand<LifecycleModel, Real>;

/** No crash (most runs), a crash at the k-th step started, or at the k-th message of any code. */
const killPoint: fc.Arbitrary<KillPoint | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }).map((k): KillPoint => ({ code: 'STEP_I3100', k })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((k): KillPoint => ({ k })) },
);

const commit = fc.constantFrom(...COMMITS);
const branch = fc.constantFrom(...BRANCHES);
const anyRelease: fc.Arbitrary<ReleaseName> = fc.oneof({ weight: 4, arbitrary: commit }, { weight: 1, arbitrary: branch });
const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** Every command, weighted towards the verbs that move a sequence forward. */
export function lifecycleCommandArbitraries(): fc.Arbitrary<LifecycleCommand>[] {
  const weighted: [number, fc.Arbitrary<LifecycleCommand>][] = [
    [4, fc.tuple(commit, killPoint).map(([c, k]) => new ReleaseCommand(c, k))],
    [4, fc.tuple(anyRelease, fc.boolean(), killPoint).map(([r, w, k]) => new PromoteCommand(r, w, k))],
    [1, fc.tuple(commit, fc.constantFrom(1 as const, 2 as const, 3 as const)).map(([c, s]) => new InterruptedPromoteCommand(c, s))],
    [1, killPoint.map((k) => new PromoteAbortCommand(k))],
    [2, killPoint.map((k) => new RollbackCommand(k))],
    [2, fc.tuple(anyRelease, fc.boolean(), killPoint).map(([r, f, k]) => new TeardownCommand(r, f, k))],
    [1, fc.tuple(branch, killPoint).map(([b, k]) => new ReleaseBranchCommand(b, k))],
    [1, fc.tuple(fc.subarray([...BRANCHES]), killPoint).map(([bs, k]) => new GcCommand(bs, k))],
    [3, fc.array(fc.record({ newProduct: fc.boolean(), pick: draw, draw }), { minLength: 1, maxLength: 3 }).map((ws) => new ClientWritesCommand(ws))],
  ];
  // fc.commands draws uniformly among its arbitraries: a weight is that many copies.
  return weighted.flatMap(([w, arb]) => Array.from({ length: w }, () => arb));
}

export function lifecycleCommands(maxCommands: number): fc.Arbitrary<Iterable<LifecycleCommand>> {
  return fc.commands(lifecycleCommandArbitraries(), { maxCommands });
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

/** The property's body: one sequence, from an empty app to its end, then everything it started is stopped. */
export async function runSequence(cmds: Iterable<LifecycleCommand>, options: RunSequenceOptions): Promise<void> {
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
  let executed = 0;
  const counted = [...cmds].map((c) => countingCommand(c, () => executed++));
  try {
    await fc.asyncModelRun(() => ({ model: initialModel(), real: { sut, last: EMPTY_OBSERVATION } }), counted);
  } catch (e) {
    stats.firstFailureAt ??= Date.now();
    const err = e as Error;
    err.message = `${err.message}\n--- journal of the failing sequence (app ${sut.app}) ---\n${journal.join('\n')}`;
    throw err;
  } finally {
    if (!shrinking) {
      stats.sequences++;
      stats.commands += executed;
      stats.kills += sut.kills;
    }
    await sut.stop();
  }
}

/** The same command, counting its runs (a command whose check fails is skipped, not counted). */
function countingCommand(c: LifecycleCommand, onRun: () => void): LifecycleCommand {
  return {
    check: (m) => c.check(m),
    run: async (m, r) => {
      onRun();
      await c.run(m, r);
    },
    toString: () => c.toString(),
  };
}
