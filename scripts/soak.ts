/**
 * `npm run soak -- --sequences N --seed S [--from K] [--max-commands M] [--json] [--path P] [--keep]`: the
 * model-based lifecycle property (test/integ/lifecycle-model.test.ts) for many more sequences than
 * CI runs. Starts a local AWS of its own in a fresh state directory (never a developer's running
 * one) and stops it, and every app and sync its sequences started, at the end.
 *
 * Every violation is shrunk (within --shrink-minutes) and printed — seed, path and the command
 * list — then the soak goes on with the next seed (S+1, S+2, …) for the sequences left. Replay a
 * printed one with `--seed <its seed> --path <its path> --sequences 1`.
 *
 * A long soak can run in parts: `--from K` skips the first K sequences of the seed (they are
 * generated, not run), so `--seed S --sequences 100` then `--seed S --from 100 --sequences 100` run
 * the same 200 sequences as `--seed S --sequences 200`. Ctrl-C (or SIGTERM) stops it and still
 * prints the totals of the sequences that ended, with `"interrupted": true`: the next part starts
 * at `--from <from + sequences>`.
 *
 * With --json, the last stdout line is {"sequences","commands","kills","violations","seed","from","seconds"};
 * the journal of each sequence goes to stderr either way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as fc from 'fast-check';
import { userError } from '../lib/errors';
import { LocalFleet } from '../lib/infra/local-fleet';
import { defaultIoHost } from '../lib/io';
import { defaultStateDir, LOCAL_AWS_UNSET, localAwsEnv, startLocalAws, stopLocalAws } from '../lib/local';
import { buildCliBundle, CLI_BUNDLE_ENV } from '../test/_helpers/cli-bundle';
import { lifecycleCommands, runSequence, type SequenceStats } from '../test/integ/lifecycle-model/sequence';
import { processesWithEnv, VerbTimings } from '../test/integ/lifecycle-model/system-under-test';
import { terminate } from '../lib/local/processes';
import { runMain } from '../bin/run-main';

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw userError('OPTION_INVALID', `"${v}" is not a positive whole number`, { fix: 'pass e.g. 20' });
  return n;
}

function skip(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw userError('OPTION_INVALID', `--from "${v}" is not a whole number of sequences`, { fix: 'pass how many sequences earlier parts ran, e.g. --from 100' });
  return n;
}

function seed(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw userError('OPTION_INVALID', `seed "${v}" is not a whole number`, { fix: 'pass the seed a report printed, e.g. --seed 1234567' });
  return n;
}

const program = new Command('soak')
  .description('run the model-based release lifecycle property for many sequences against a local AWS of its own')
  .addOption(new Option('--sequences <n>', 'sequences to run').argParser(count).default(10))
  .addOption(new Option('--seed <s>', 'fast-check seed (default: random, printed)').argParser(seed))
  .addOption(new Option('--from <k>', 'skip the first k sequences of the seed (a soak run in parts)').argParser(skip).default(0))
  .addOption(new Option('--max-commands <m>', 'most commands a sequence runs').argParser(count).default(14))
  .addOption(new Option('--shrink-minutes <m>', 'how long to shrink each violation').argParser(count).default(20))
  .option('--path <p>', 'replay: the path fast-check printed with the seed (runs that case alone, no shrinking)')
  .option('--keep', 'leave local AWS running and keep its state directory at the end')
  .option('--json', 'JSON lines on stderr; the totals as one JSON object on the last stdout line')
  .parse();
const opts = program.opts<{ sequences: number; seed?: number; from: number; maxCommands: number; shrinkMinutes: number; path?: string; keep?: boolean; json?: boolean }>();
const io = defaultIoHost({ json: opts.json });

runMain(io, async () => {
  const t0 = Date.now();
  const firstSeed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  // A local AWS of the soak's own, in a fresh state directory: DynamoDB Local slows down as stream
  // records pile up, and a developer's set is never touched.
  const stateDir = path.join(defaultStateDir(), `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(stateDir, { recursive: true });
  // Its CLIs run a build of the sources, as a team runs the package: each starts faster than
  // through tsx, and a sequence starts dozens (test/_helpers/cli-bundle.ts).
  const [cliBundle, { state }] = await Promise.all([buildCliBundle(path.join(stateDir, 'cli')), startLocalAws({ ioHost: io, stateDir })]);
  for (const name of LOCAL_AWS_UNSET) delete process.env[name];
  Object.assign(process.env, localAwsEnv(state), { STACKSHIFT_LOCAL_STATE_DIR: stateDir, [CLI_BUNDLE_ENV]: cliBundle });

  // Everything left running in this state directory is this soak's: the CLIs and sync daemons of
  // its sequences (they carry the state directory in their environment), the apps (fleet records),
  // then the emulators. Also on Ctrl-C: a sequence cut short leaves them running otherwise.
  const stopEverything = async () => {
    for (const pid of processesWithEnv('STACKSHIFT_LOCAL_STATE_DIR', stateDir)) await terminate(pid, 5000).catch(() => undefined);
    const fleet = new LocalFleet({ stateDir });
    for (const m of fleet.list()) await fleet.stop(m.releaseId).catch(() => undefined);
    if (!opts.keep) {
      await stopLocalAws({ ioHost: io, stateDir });
      fs.rmSync(stateDir, { recursive: true, force: true });
    } else {
      process.stderr.write(`soak: local AWS keeps running: STACKSHIFT_LOCAL_STATE_DIR=${stateDir}\n`);
    }
  };
  const timings = new VerbTimings();
  const stats: SequenceStats = { sequences: 0, commands: 0, kills: 0 };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let violations = 0;
  const report = (interrupted: boolean, ended: SequenceStats = stats) => {
    const seconds = Math.round((Date.now() - t0) / 1000);
    const totals = { sequences: ended.sequences, commands: ended.commands, kills: ended.kills, violations, seed: firstSeed, from: opts.from, seconds, ...(interrupted ? { interrupted } : {}) };
    if (opts.json) {
      log(`soak: per-verb seconds ${JSON.stringify(timings.summary())}`);
      process.stdout.write(`${JSON.stringify(totals)}\n`);
      return;
    }
    process.stdout.write(`\nper-verb seconds (n, median, max):\n`);
    for (const [label, t] of Object.entries(timings.summary())) process.stdout.write(`  ${label.padEnd(34)} ${String(t.n).padStart(4)} ${String(t.median).padStart(6)} ${String(t.max).padStart(6)}\n`);
    const next = interrupted && violations === 0 ? `; interrupted: go on with --seed ${firstSeed} --from ${opts.from + ended.sequences}` : '';
    process.stdout.write(`${totals.sequences} sequences, ${totals.commands} commands, ${totals.kills} kills, ${violations} violation(s); seed ${firstSeed} from ${opts.from}; ${seconds} s${next}\n`);
  };
  // Set on Ctrl-C: the sequence running then fails as its processes go, which is no violation;
  // the totals count the sequences that ended.
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      // The sequences that ended by now: the one running counts itself as it fails below.
      const ended = { ...stats };
      process.stderr.write(`soak: ${signal}: stopping what it started\n`);
      void stopEverything().finally(() => {
        report(true, ended);
        process.exit(130);
      });
    });
  }

  try {
    let left = opts.sequences;
    for (let round = 0; left > 0; round++) {
      const roundSeed = firstSeed + round;
      // Only the first round starts part-way into its seed.
      const skipped = round === 0 && !opts.path ? opts.from : 0;
      log(`soak: ${left} sequence(s) from seed ${roundSeed}${skipped ? ` after its first ${skipped}` : ''}, at most ${opts.maxCommands} commands each`);
      stats.firstFailureAt = undefined;
      // fast-check calls the property once per run, in order, and shrinks only after a failure: the
      // first `skipped` calls are the runs an earlier part made.
      let calls = 0;
      const property = fc.asyncProperty(lifecycleCommands(opts.maxCommands), async (cmds) => {
        if (calls++ < skipped) return;
        await runSequence(cmds, { stateDir, maxSteps: opts.maxCommands, timings, stats, shrinkBudgetMs: opts.shrinkMinutes * 60_000, log });
      });
      const details = await fc.check(property, {
        seed: roundSeed,
        numRuns: left + skipped,
        ...(opts.path ? { path: opts.path, endOnFailure: true } : {}),
      });
      if (!details.failed || interrupted) break;
      violations++;
      // The shrunk sequence (seed, path, command list), then the error with its journal, before the totals.
      const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      process.stdout.write(
        `\n=== violation ${violations} (seed ${details.seed}, path ${details.counterexamplePath}, --max-commands ${opts.maxCommands}) ===\n${await fc.asyncDefaultReportMessage(details)}\n${error}\n`,
      );
      left -= details.numRuns - skipped;
      if (opts.path) break;
    }
  } finally {
    await stopEverything();
  }
  if (interrupted) return; // the signal handler reports the totals and exits
  report(false);
  if (violations > 0) process.exitCode = 1;
});
