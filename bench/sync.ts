/**
 * npm run bench:sync -- [--items N] [--writes-per-sec W] [--warmup-seconds U] [--after-seconds S] [--json]
 *
 * One run, one emulator, one item shape (the example catalog, ~300-byte v1 items), under live v1
 * traffic of W operations/s (price/stock updates, inserts, channel and product deletes) that stamps
 * every put and update with `writtenAtMs`:
 *   copy      the copy engine (in-process) into an empty target, while the traffic runs
 *   backlog   the stream sync (copyJobId = the copy) replays everything since T0: the time until it
 *             first catches up (it applies a record written after it started)
 *   warm-up   U more seconds of traffic: the sync works off what was written while it caught up
 *             (at that moment it is as far behind as the catch-up took); timed, reported apart
 *   steady    S more seconds of traffic: lag = apply time − writtenAtMs of every record written in
 *             those S seconds (records of deletes carry no image and are not timed); a writer of its
 *             own, so `writesPerSec` is the rate of these S seconds (`writesPerSecBeforeSteady` the
 *             rate before, while the copy and the catch-up loaded the emulator)
 * then the traffic stops, the running sync gets 1 s to apply the tail, and is stopped and run again
 * until caught up (the drain); verify runs (must be 0).
 * The last line is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, UpdateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Command, Option } from 'commander';
import { generateV1Products } from '../examples/catalog/data';
import { CopyJob } from '../lib/data/copy/copy-job';
import type { Item, KeyNames } from '../lib/item/item';
import type { StreamRecord } from '../lib/data/stream/stream-records';
import { TableSync } from '../lib/data/stream/table-sync';
import { verifyCopy } from '../lib/data/verify/verify-copy';
import { BatchWriter } from '../lib/data/write/batch-writer';
import { silentIoHost } from '../lib/io';
import { createLedgerClient, createLedgerTable, DeadLetters, Ledger } from '../lib/ledger';
import { defaultStateDir, localAwsEnv, startLocalAws, stopLocalAws } from '../lib/local';
import { registry } from '../test/_helpers/catalog';
import { createTable } from '../test/_helpers/tables';
import { runV1Writer } from '../test/_helpers/v1-writer';
import { writeAll } from './write-all';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };

const opts = new Command('bench:sync')
  .addOption(new Option('--items <n>', 'source items (3 per product)').argParser(Number).default(30_000))
  .addOption(new Option('--writes-per-sec <n>', 'v1 operations a second on the source').argParser(Number).default(500))
  .addOption(new Option('--warmup-seconds <n>', 'traffic after the first catch-up that is not measured as steady state').argParser(Number).default(5))
  .addOption(new Option('--after-seconds <n>', 'traffic measured as steady state, after the warm-up').argParser(Number).default(10))
  .addOption(new Option('--writer-concurrency <n>', 'operations the writer keeps in flight (paced to --writes-per-sec)').argParser(Number).default(64))
  .addOption(new Option('--batch-limit <n>', 'records per GetRecords call of the sync').argParser(Number))
  .addOption(new Option('--batches-in-flight <n>', 'batches of a shard the sync applies at once').argParser(Number))
  .addOption(new Option('--concurrency <n>', 'segments the copy works on at once').argParser(Number).default(8))
  .addOption(new Option('--write-concurrency <n>', 'BatchWriteItem calls the copy keeps in flight').argParser(Number).default(32))
  .option('--json', 'JSON lines progress on stderr')
  .parse()
  .opts<{ items: number; writesPerSec: number; warmupSeconds: number; afterSeconds: number; batchLimit?: number; batchesInFlight?: number; writerConcurrency: number; concurrency: number; writeConcurrency: number; json?: boolean }>();

const log = (msg: string) => process.stderr.write(`${opts.json ? JSON.stringify({ bench: msg }) : `[bench] ${msg}`}\n`);
const chain = registry.chain('products', 1, 2, { keyNames: KEYS });
const products = Math.max(1, Math.round(opts.items / 3));
const items = products * 3;
const id = randomBytes(3).toString('hex');
/** The live traffic; stopped in any case before the emulators are. */
const traffic = new AbortController();

async function main(): Promise<void> {
  // Emulators of this run's own: a DynamoDB Local that earlier runs (or tests) filled with stream
  // records is slower, and would make runs incomparable.
  const stateDir = mkdtempSync(join(defaultStateDir(), 'bench-sync-'));
  const { state } = await startLocalAws({ ioHost: silentIoHost, stateDir });
  Object.assign(process.env, localAwsEnv(state));
  try {
    await measure();
  } finally {
    traffic.abort();
    await stopLocalAws({ ioHost: silentIoHost, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function measure(): Promise<void> {
  const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

  const source = `bench-sync-src-${id}`;
  const target = `bench-sync-dst-${id}`;
  const ledgerName = `bench-sync-ledger-${id}`;
  const jobId = `bench-sync#${id}`;
  const ledger = new Ledger({ tableName: ledgerName });

  // Production's stream holds only its last 24 h of changes: seed first, then turn the stream on
  // (the sync replays changes since T0, not the seed).
  await createTable(source, KEYS);
  await createTable(target, KEYS);
  await createLedgerTable(createLedgerClient(), ledgerName);
  log(`seeding ${items} items`);
  await writeAll(new BatchWriter({ client: client(), concurrency: 16 }), source, generateV1Products({ products }), KEYS);
  const raw = new DynamoDBClient({});
  await raw.send(new UpdateTableCommand({ TableName: source, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
  await waitUntilTableExists({ client: raw, maxWaitTime: 60 }, { TableName: source });

  // Live traffic from here to the end of the steady state.
  // Two writers one after the other, so that the rate of the steady state (the one the lag is
  // measured at) is known on its own: the first until the steady state starts, the second during it.
  log(`traffic: ${opts.writesPerSec} operations/s (${opts.writerConcurrency} in flight at most)`);
  const beforeSteady = new AbortController();
  const startWriter = (signal: AbortSignal, seed: number) => {
    const w = runV1Writer(source, { existingProducts: products, perSecond: opts.writesPerSec, signal, concurrency: opts.writerConcurrency, seed });
    w.catch(() => traffic.abort());
    return w;
  };
  const writer = startWriter(AbortSignal.any([beforeSteady.signal, traffic.signal]), 7);

  // The copy, under traffic.
  const copy = await new CopyJob({
    ioHost: silentIoHost,
    jobId,
    sourceTable: source,
    targetTable: target,
    keyNames: KEYS,
    chain,
    ledger,
    concurrency: opts.concurrency,
    writeConcurrency: opts.writeConcurrency,
  }).run();
  if (!copy.complete) throw new Error(`copy ${jobId} did not complete`);
  log(`copy: ${copy.itemsRead} source items → ${copy.itemsWritten} target items in ${copy.seconds.toFixed(1)} s, ${copy.deadLetters} dead letters`);

  // The sync: backlog since T0, then steady state.
  const backlogLags: number[] = [];
  const warmupLags: number[] = [];
  const steadyLags: number[] = [];
  let timedRecords = 0;
  let untimedRecords = 0;
  let caughtUpAt: number | undefined;
  const stop = new AbortController();
  const syncStart = Date.now();
  const sync = new TableSync({
    ioHost: silentIoHost,
    syncId: `${jobId}#forward`,
    ledger,
    sourceTable: source,
    targetTable: target,
    keyNames: KEYS,
    chain,
    copyJobId: jobId,
    batchLimit: opts.batchLimit,
    batchesInFlight: opts.batchesInFlight,
    onBatch: (records: readonly StreamRecord[]) => {
      const now = Date.now();
      for (const record of records) {
        const writtenAtMs = writtenAt(record.newImage);
        if (writtenAtMs === undefined) {
          untimedRecords++;
          continue;
        }
        timedRecords++;
        if (caughtUpAt === undefined && writtenAtMs >= syncStart) caughtUpAt = now;
        const lag = now - writtenAtMs;
        if (caughtUpAt === undefined || writtenAtMs < caughtUpAt) backlogLags.push(lag);
        else if (writtenAtMs < caughtUpAt + opts.warmupSeconds * 1000) warmupLags.push(lag);
        else if (writtenAtMs < caughtUpAt + (opts.warmupSeconds + opts.afterSeconds) * 1000) steadyLags.push(lag);
      }
    },
  });
  const running = sync.run({ signal: stop.signal, stopWhenCaughtUp: false });
  running.catch(() => stop.abort());
  let settled = false;
  running.then(() => (settled = true), () => (settled = true));

  // Until the first catch-up: the backlog. Caught up = it applied a record written after it started
  // (an empty read is no proof here: DynamoDB Local answers the first reads of a busy shard with none).
  while (caughtUpAt === undefined && !settled) {
    await sleep(2000);
    log(`backlog: ${timedRecords + untimedRecords} records applied, reader lag ${sync.lag()?.maxMs ?? '?'} ms`);
  }
  if (caughtUpAt === undefined) await running; // the sync failed: its error ends the run
  const backlogCatchUpSeconds = (caughtUpAt! - syncStart) / 1000;
  const backlogRecords = timedRecords + untimedRecords;
  log(`caught up after ${backlogCatchUpSeconds.toFixed(1)} s, ${backlogRecords} records; warm-up ${opts.warmupSeconds} s, then steady state for ${opts.afterSeconds} s`);

  // Warm-up and steady state: U + S more seconds of traffic.
  const steadyFrom = caughtUpAt! + opts.warmupSeconds * 1000;
  const steadyEnd = steadyFrom + opts.afterSeconds * 1000;
  const progress = async (until: number) => {
    while (Date.now() < until && !settled) {
      await sleep(Math.min(2000, Math.max(0, until - Date.now())));
      log(
        `warm-up: ${warmupLags.length} timed records, p99 ${percentile(warmupLags, 99)} ms; steady: ${steadyLags.length} timed records, p50 ${percentile(steadyLags, 50)} ms, p99 ${percentile(steadyLags, 99)} ms`,
      );
    }
  };
  await progress(steadyFrom);
  beforeSteady.abort();
  const steadyWriter = startWriter(traffic.signal, 8);
  await progress(steadyEnd);
  traffic.abort();
  const [earlier, writes] = await Promise.all([writer, steadyWriter]);
  const writesPerSec = writes.operations / writes.seconds;
  const all = { ...earlier };
  for (const k of ['updates', 'inserts', 'channelDeletes', 'productDeletes', 'updatesMissed', 'operations'] as const) all[k] += writes[k];
  log(`traffic stopped: ${writes.operations} operations in the ${writes.seconds.toFixed(1)} s of the steady state = ${Math.round(writesPerSec)}/s; before it ${Math.round(earlier.operations / earlier.seconds)}/s (${JSON.stringify(all)})`);

  // Drain: every write is in the stream now (the writer has returned). The running sync applies the
  // tail (the last steady records are timed as it applies them, not after a restart); then it is
  // stopped and run once more until caught up: it resumes from its shard checkpoints and returns at
  // the first empty read of every shard.
  await sleep(1000);
  const drainStart = Date.now();
  stop.abort();
  const first = await running;
  const result = await sync.run({ stopWhenCaughtUp: true });
  const drainSeconds = (Date.now() - drainStart) / 1000;
  const recordsApplied = first.recordsApplied + result.recordsApplied;
  log(`sync: ${recordsApplied} records (${result.puts} puts, ${result.deletes} deletes, ${result.deadLetters} dead letters), drained in ${drainSeconds.toFixed(1)} s`);

  const tv = performance.now();
  const deadLetters = new DeadLetters(ledger, jobId);
  const verify = await verifyCopy({ ioHost: silentIoHost, dynamodb: new DynamoDBClient({}), sourceTable: source, targetTable: target, keyNames: KEYS, chain, deadLetters });
  const verifySeconds = (performance.now() - tv) / 1000;
  if (verify.differences > 0) log(`verify: ${verify.differences} differences, samples: ${JSON.stringify(verify.samples)}`);

  const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
  process.stdout.write(
    JSON.stringify({
      items,
      writesPerSec: round(writesPerSec, 1),
      writesPerSecTarget: opts.writesPerSec,
      writesPerSecBeforeSteady: round(earlier.operations / earlier.seconds, 1),
      writerOperations: all.operations,
      writer: { updates: all.updates, updatesMissed: all.updatesMissed, inserts: all.inserts, channelDeletes: all.channelDeletes, productDeletes: all.productDeletes },
      copySeconds: round(copy.seconds, 1),
      copyTargetItems: copy.itemsWritten,
      records: recordsApplied,
      drainRecords: result.recordsApplied,
      timedRecords,
      untimedRecords,
      steadyRecords: steadyLags.length,
      steadyTimedRecordsPerSec: round(steadyLags.length / opts.afterSeconds, 1),
      lagP50Ms: percentile(steadyLags, 50),
      lagP90Ms: percentile(steadyLags, 90),
      lagP99Ms: percentile(steadyLags, 99),
      lagMaxMs: percentile(steadyLags, 100),
      backlogRecords,
      backlogCatchUpSeconds: round(backlogCatchUpSeconds, 1),
      backlogLagMaxMs: percentile(backlogLags, 100),
      warmupSeconds: opts.warmupSeconds,
      warmupRecords: warmupLags.length,
      warmupLagMaxMs: percentile(warmupLags, 100),
      afterSeconds: opts.afterSeconds,
      drainSeconds: round(drainSeconds, 1),
      syncPuts: result.puts,
      syncDeletes: result.deletes,
      verifyDifferences: verify.differences,
      verifySeconds: round(verifySeconds, 1),
      deadLetters: await deadLetters.count(),
    }) + '\n',
  );
}

function writtenAt(image: Item | undefined): number | undefined {
  const value = image?.writtenAtMs;
  return typeof value === 'number' ? value : undefined;
}

/** Nearest-rank percentile (p = 100: the largest); null for no values. */
function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 2;
});
