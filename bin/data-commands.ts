/**
 * The data engine's commands, for one table at a time (the release verbs run them for you):
 *
 *   stackshift copy --job <id> --table products --source <t> --target <t>     create (or resume) and work on a copy
 *   stackshift worker --job <id> ...                                         join a copy job from another process
 *   stackshift verify --job <id> ...                                         two-way diff; exit 1 on any difference
 *   stackshift sync --job <id> ...                                           follow the source's stream into the target (after the copy);
 *                                                                            with --shared, several processes split its shards by leases
 *   stackshift redrive --job <id> ...                                        retry dead letters from the current source
 *
 * Options shared by all: --from-version/--to-version (default 1 → latest migration of the table),
 * --ledger <table> (default the app's ledger), --json (JSON lines, and the result as the last line).
 */
import { Command, Option } from 'commander';
import { CopyJob } from '../lib/data/copy/copy-job';
import type { KeyNames } from '../lib/item/item';
import { redriveDeadLetters } from '../lib/data/redrive';
import { TableSync } from '../lib/data/stream/table-sync';
import { verifyCopy } from '../lib/data/verify/verify-copy';
import { userError } from '../lib/errors';
import type { IoHost } from '../lib/io';
import { DeadLetters, Ledger, SegmentTasks } from '../lib/ledger';
import { ledgerTableName } from '../lib/manifest/table-manifest';
import type { ReleaseDefinition } from '../lib/config/definition';

interface CommonOptions {
  readonly job: string;
  readonly table: string;
  readonly source: string;
  readonly target: string;
  readonly fromVersion?: number;
  readonly toVersion?: number;
  readonly ledger?: string;
}

function common(cmd: Command): Command {
  return cmd
    .requiredOption('--job <id>', 'copy job id, e.g. <release id>#<table>')
    .requiredOption('--table <name>', 'logical table name, as in the config\'s tables')
    .requiredOption('--source <table>', 'source (production) table name')
    .requiredOption('--target <table>', 'target (release) table name')
    .addOption(new Option('--from-version <n>', 'data version of the source').argParser(positiveInt))
    .addOption(new Option('--to-version <n>', 'data version of the target').argParser(positiveInt))
    .option('--ledger <table>', 'ledger table (default: the app\'s)');
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw userError('OPTION_INVALID', `"${v}" is not a positive whole number`, { fix: 'pass e.g. 1' });
  return n;
}

export interface DataCommandContext {
  readonly io: IoHost;
  /** --json (a global option): the result as one JSON object on stdout. */
  readonly json: boolean;
  /** Loads the team's config (only once a command runs: `--help` needs none). */
  readonly definition: () => Promise<ReleaseDefinition>;
}

async function setup(ctx: DataCommandContext, o: CommonOptions) {
  const { io } = ctx;
  const { tables, migrations: registry, config } = await ctx.definition();
  const spec = tables.tables.find((t) => t.name === o.table);
  if (!spec) {
    throw userError('TABLE_UNKNOWN', `table "${o.table}" is not in the config's tables (known: ${tables.tables.map((t) => t.name).join(', ')})`, {
      fix: 'pass one of the known logical names with --table',
    });
  }
  const keyNames: KeyNames = { partitionKey: spec.partitionKey.name, ...(spec.sortKey ? { sortKey: spec.sortKey.name } : {}) };
  const from = o.fromVersion ?? 1;
  const to = o.toVersion ?? registry.latestVersion(o.table);
  const chain = registry.chain(o.table, from, to, { keyNames });
  const ledger = new Ledger({ tableName: o.ledger ?? ledgerTableName(config.app) });
  return { keyNames, chain, io, ledger, spec };
}

/** With --json, the result is the last line on stdout; people read the IoHost's summary line. */
function printResult(json: boolean | undefined, result: object): void {
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
}

/** Adds copy, worker, verify, sync and redrive to the CLI. */
export function addDataCommands(program: Command, ctx: DataCommandContext): void {
  for (const [name, description] of [
    ['copy', 'create (or resume) a copy job and work on it until every segment is done'],
    ['worker', 'join an existing copy job and work on it until every segment is done'],
  ] as const) {
    common(program.command(name).description(description))
      .addOption(new Option('--segments <n>', 'parallel scan segments (fixed when the job is created)').argParser(positiveInt))
      .addOption(new Option('--concurrency <n>', 'segments this process works on at once').argParser(positiveInt).default(4))
      .addOption(new Option('--write-concurrency <n>', 'BatchWriteItem calls in flight').argParser(positiveInt).default(16))
      .addOption(new Option('--page-size <n>', 'scan page size in items').argParser(positiveInt))
      .option('--resume', 'allow copying into a target that already holds items')
      .action(async (o: CommonOptions & { segments?: number; concurrency: number; writeConcurrency: number; pageSize?: number; resume?: boolean }) => {
        const { keyNames, chain, io, ledger } = await setup(ctx, o);
        const job = new CopyJob({
          ioHost: io,
          jobId: o.job,
          sourceTable: o.source,
          targetTable: o.target,
          keyNames,
          chain,
          ledger,
          totalSegments: o.segments,
          concurrency: o.concurrency,
          writeConcurrency: o.writeConcurrency,
          pageSize: o.pageSize,
          resume: o.resume || name === 'worker',
        });
        if (name === 'worker' && !(await ledgerHasJob(ledger, o.job))) {
          throw userError('COPY_JOB_UNKNOWN', `no copy job "${o.job}" in ledger "${ledger.tableName}"`, { fix: 'start it with npm run copy first' });
        }
        const result = await job.run();
        // Peak resident memory of this process, for the memory bound the benchmark checks.
        const cpu = process.cpuUsage();
        printResult(ctx.json, { ...result, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), cpuSeconds: (cpu.user + cpu.system) / 1e6 });
        if (!result.complete) process.exitCode = 1;
      });
  }

  common(program.command('verify').description('two-way, transform-aware diff of source and target; exit 1 on any difference'))
    .addOption(new Option('--samples <n>', 'sample differences to show').argParser(positiveInt).default(10))
    .action(async (o: CommonOptions & { samples: number }) => {
      const { keyNames, chain, io, ledger } = await setup(ctx, o);
      const result = await verifyCopy({
        ioHost: io,
        sourceTable: o.source,
        targetTable: o.target,
        keyNames,
        chain,
        deadLetters: new DeadLetters(ledger, o.job),
        sampleLimit: o.samples,
      });
      printResult(ctx.json, result);
      if (result.differences > 0) process.exitCode = 1;
    });

  common(program.command('sync').description('follow the source table\'s stream into the target, through the migrations'))
    .option('--until-caught-up', 'stop once every shard is caught up (default: run until interrupted)')
    .option('--sync-id <id>', 'names the shard checkpoints (default: <job>#forward)')
    .option('--shared', 'share the sync with other processes run with --shared: each reads the shards it holds a lease on')
    .option('--worker-id <id>', 'this worker\'s name in the shard leases, unique per process (default: <host>:<pid>:<random>); implies --shared')
    .addOption(new Option('--lease-seconds <n>', 'shard lease length: a worker that died holds its shards this long (default: 30); implies --shared').argParser(positiveInt))
    .action(async (o: CommonOptions & { untilCaughtUp?: boolean; syncId?: string; shared?: boolean; workerId?: string; leaseSeconds?: number }) => {
      const { keyNames, chain, ledger, spec } = await setup(ctx, o);
      const stop = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
      const result = await new TableSync({
        ioHost: ctx.io,
        syncId: o.syncId ?? `${o.job}#forward`,
        ledger,
        sourceTable: o.source,
        targetTable: o.target,
        keyNames,
        chain,
        versionAttribute: spec.versionAttribute,
        copyJobId: o.job,
        leases:
          o.shared || o.workerId !== undefined || o.leaseSeconds !== undefined
            ? { owner: o.workerId, leaseMs: o.leaseSeconds !== undefined ? o.leaseSeconds * 1000 : undefined }
            : undefined,
      }).run({ signal: stop.signal, stopWhenCaughtUp: o.untilCaughtUp });
      printResult(ctx.json, result);
    });

  common(program.command('redrive').description('retry every dead letter of a job from the current source item'))
    .action(async (o: CommonOptions) => {
      const { keyNames, chain, io, ledger } = await setup(ctx, o);
      const result = await redriveDeadLetters({ ioHost: io, jobId: o.job, ledger, sourceTable: o.source, targetTable: o.target, keyNames, chain });
      printResult(ctx.json, result);
      if (result.stillFailing > 0) process.exitCode = 1;
    });
}

async function ledgerHasJob(ledger: Ledger, jobId: string): Promise<boolean> {
  return (await new SegmentTasks(ledger, jobId).getJob()) !== undefined;
}
