/**
 * npm run bench:sync -- [--items N] [--writes-per-sec W] [--after-seconds S] [--json]
 *
 * One run, one emulator, one item shape (the example catalog, ~300-byte v1 items), under live v1
 * traffic of W operations/s (price/stock updates, inserts, channel and product deletes) that stamps
 * every put and update with `writtenAtMs`:
 *   copy      the copy engine (in-process) into an empty target, while the traffic runs
 *   backlog   the stream sync (copyJobId = the copy) replays everything since T0: the time until it
 *             first catches up (it applies a record written after it started, or a read comes back empty)
 *   steady    S more seconds of traffic: lag = apply time − writtenAtMs of every record written after
 *             that first catch-up (records of deletes carry no image and are not timed)
 * then the traffic stops, the sync drains (lag 0, no record for 1 s) and verify runs (must be 0).
 * The last line is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, UpdateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Command, Option } from 'commander';
import { generateV1Products } from '../examples/catalog/data';
import { CopyJob } from '../lib/data/copy/copy-job';
import type { Item, KeyNames } from '../lib/data/item';
import type { StreamRecord } from '../lib/data/stream/stream-records';
import { TableSync } from '../lib/data/stream/table-sync';
import { verifyCopy } from '../lib/data/verify/verify-copy';
import { BatchWriter } from '../lib/data/write/batch-writer';
import { silentIoHost } from '../lib/io';
import { createLedgerClient, createLedgerTable, DeadLetters, Ledger } from '../lib/ledger';
import { localAwsEnv, startLocalAws } from '../lib/local';
import { registry } from '../release/migrations';
import { createTable } from '../test/_helpers/tables';
import { runV1Writer } from '../test/_helpers/v1-writer';
import { writeAll } from './write-all';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };

const opts = new Command('bench:sync')
  .addOption(new Option('--items <n>', 'source items (3 per product)').argParser(Number).default(30_000))
  .addOption(new Option('--writes-per-sec <n>', 'v1 operations a second on the source').argParser(Number).default(500))
  .addOption(new Option('--after-seconds <n>', 'traffic kept up after the sync first caught up').argParser(Number).default(10))
  .addOption(new Option('--writer-concurrency <n>', 'operations the writer keeps in flight (paced to --writes-per-sec)').argParser(Number).default(8))
  .addOption(new Option('--concurrency <n>', 'segments the copy works on at once').argParser(Number).default(8))
  .addOption(new Option('--write-concurrency <n>', 'BatchWriteItem calls the copy keeps in flight').argParser(Number).default(32))
  .option('--json', 'JSON lines progress on stderr')
  .parse()
  .opts<{ items: number; writesPerSec: number; afterSeconds: number; writerConcurrency: number; concurrency: number; writeConcurrency: number; json?: boolean }>();

const log = (msg: string) => process.stderr.write(`${opts.json ? JSON.stringify({ bench: msg }) : `[bench] ${msg}`}\n`);
const chain = registry.chain('products', 1, 2, { keyNames: KEYS });
const products = Math.max(1, Math.round(opts.items / 3));
const items = products * 3;
const id = randomBytes(3).toString('hex');

async function main(): Promise<void> {
  const { state } = await startLocalAws({ ioHost: silentIoHost });
  Object.assign(process.env, localAwsEnv(state));
  const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

  const source = `bench-sync-src-${id}`;
  const target = `bench-sync-dst-${id}`;
  const ledgerName = `bench-sync-ledger-${id}`;
  const jobId = `bench-sync#${id}`;
  const ledger = new Ledger({ tableName: ledgerName });

  // Production's stream holds only its last 24 h of changes: seed first, then turn the stream on
  // (DynamoDB Local slows down badly once a stream holds ~100k records).
  await createTable(source, KEYS);
  await createTable(target, KEYS);
  await createLedgerTable(createLedgerClient(), ledgerName);
  log(`seeding ${items} items`);
  await writeAll(new BatchWriter({ client: client(), concurrency: 16 }), source, generateV1Products({ products }), KEYS);
  const raw = new DynamoDBClient({});
  await raw.send(new UpdateTableCommand({ TableName: source, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
  await waitUntilTableExists({ client: raw, maxWaitTime: 60 }, { TableName: source });

  // Live traffic from here to the end of the steady state.
  const traffic = new AbortController();
  log(`traffic: ${opts.writesPerSec} operations/s (${opts.writerConcurrency} in flight at most)`);
  const writer = runV1Writer(source, { existingProducts: products, perSecond: opts.writesPerSec, signal: traffic.signal, concurrency: opts.writerConcurrency });
  writer.catch(() => traffic.abort());

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
    onBatch: (records: readonly StreamRecord[]) => {
      const now = Date.now();
      for (const record of records) {
        const writtenAtMs = writtenAt(record.newImage);
        if (writtenAtMs === undefined) {
          untimedRecords++;
          continue;
        }
        timedRecords++;
        if (caughtUpAt === undefined && writtenAtMs >= syncStart) {
          caughtUpAt = now;
        }
        (caughtUpAt !== undefined && writtenAtMs > caughtUpAt ? steadyLags : backlogLags).push(now - writtenAtMs);
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
  log(`caught up after ${backlogCatchUpSeconds.toFixed(1)} s, ${backlogRecords} records; steady state for ${opts.afterSeconds} s`);

  // Steady state: S more seconds of traffic.
  const steadyEnd = Date.now() + opts.afterSeconds * 1000;
  while (Date.now() < steadyEnd && !settled) {
    await sleep(Math.min(2000, Math.max(0, steadyEnd - Date.now())));
    log(`steady: ${steadyLags.length} timed records, p50 ${percentile(steadyLags, 50)} ms, p99 ${percentile(steadyLags, 99)} ms`);
  }
  traffic.abort();
  const writes = await writer;
  const writesPerSec = writes.operations / writes.seconds;
  log(`traffic stopped: ${writes.operations} operations in ${writes.seconds.toFixed(1)} s = ${Math.round(writesPerSec)}/s (${JSON.stringify(writes)})`);

  // Drain: every write is in the stream now (the writer has returned). Stop the running sync and run
  // it once more until caught up: it resumes from its shard checkpoints and returns at the first
  // empty read of every shard.
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
      writerOperations: writes.operations,
      writer: { updates: writes.updates, updatesMissed: writes.updatesMissed, inserts: writes.inserts, channelDeletes: writes.channelDeletes, productDeletes: writes.productDeletes },
      copySeconds: round(copy.seconds, 1),
      copyTargetItems: copy.itemsWritten,
      records: recordsApplied,
      drainRecords: result.recordsApplied,
      timedRecords,
      untimedRecords,
      steadyRecords: steadyLags.length,
      lagP50Ms: percentile(steadyLags, 50),
      lagP90Ms: percentile(steadyLags, 90),
      lagP99Ms: percentile(steadyLags, 99),
      lagMaxMs: percentile(steadyLags, 100),
      backlogRecords,
      backlogCatchUpSeconds: round(backlogCatchUpSeconds, 1),
      backlogLagMaxMs: percentile(backlogLags, 100),
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
