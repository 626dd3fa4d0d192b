/**
 * npm run bench:copy -- --items N [--latency-ms L] [--json]
 *
 * One run, one emulator, one item shape (the example catalog, ~300-byte v1 items):
 *   (a) ceiling     BatchWriteItem of pre-built target items, no scan, no transform, best concurrency found
 *   (b) copy        the copy engine with the channel migration, as `npm run copy` in a child process
 *   (c) sequential  the seed's loop: get → transform → put, one item at a time (timed on a sample)
 * then verify (must be 0). With --latency-ms, every DynamoDB call goes through a loopback proxy that
 * delays it by L ms, as a network to AWS would. The last line is one JSON object.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, UpdateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Command, Option } from 'commander';
import { generateV1Products } from '../examples/catalog/data';
import type { Item, KeyNames } from '../lib/item/item';
import { verifyCopy } from '../lib/data/verify/verify-copy';
import { BatchWriter } from '../lib/data/write/batch-writer';
import { silentIoHost } from '../lib/io';
import { createLedgerClient, createLedgerTable, DeadLetters, Ledger } from '../lib/ledger';
import { defaultStateDir, localAwsEnv, startLocalAws, stopLocalAws } from '../lib/local';
import { registry } from '../test/_helpers/catalog';
import { createTable } from '../test/_helpers/tables';
import { startLatencyProxy } from './latency-proxy';
import { writeAll } from './write-all';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };

const opts = new Command('bench:copy')
  .addOption(new Option('--items <n>', 'source items (3 per product)').argParser(Number).default(30_000))
  .addOption(new Option('--latency-ms <n>', 'added latency per DynamoDB call').argParser(Number).default(0))
  .addOption(new Option('--sequential-seconds <n>', 'time box of the sequential loop').argParser(Number).default(15))
  .addOption(new Option('--concurrency <n>', 'segments the copy works on at once').argParser(Number).default(8))
  .addOption(new Option('--write-concurrency <n>', 'BatchWriteItem calls the copy keeps in flight').argParser(Number).default(32))
  .addOption(new Option('--max-heap-mb <n>', 'V8 heap limit of the copy process (its memory budget)').argParser(Number).default(160))
  .option('--target-stream', 'give the copy target (and the ceiling table) a stream, as the release tables have on AWS')
  .option('--json', 'JSON lines progress on stderr')
  .parse()
  .opts<{ items: number; latencyMs: number; concurrency: number; writeConcurrency: number; maxHeapMb: number; sequentialSeconds: number; targetStream?: boolean; json?: boolean }>();

const log = (msg: string) => process.stderr.write(`${opts.json ? JSON.stringify({ bench: msg }) : `[bench] ${msg}`}\n`);
const chain = registry.chain('products', 1, 2, { keyNames: KEYS });
const products = Math.max(1, Math.round(opts.items / 3));
const items = products * 3;
const id = randomBytes(3).toString('hex');

async function main(): Promise<void> {
  // Emulators of this run's own, stopped at the end: a 1M-item DynamoDB Local left running holds
  // gigabytes and makes later runs (and demos) on this machine incomparable.
  const stateDir = mkdtempSync(join(defaultStateDir(), 'bench-copy-'));
  const { state } = await startLocalAws({ ioHost: silentIoHost, stateDir });
  Object.assign(process.env, localAwsEnv(state));
  const direct = process.env.AWS_ENDPOINT_URL_DYNAMODB!;
  const proxy = opts.latencyMs > 0 ? await startLatencyProxy({ target: direct, latencyMs: opts.latencyMs }) : undefined;
  try {
    await measure(proxy?.url ?? direct);
  } finally {
    // (a proxy left listening would hold a failed run open for ever)
    await proxy?.close();
    await stopLocalAws({ ioHost: silentIoHost, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function measure(endpoint: string): Promise<void> {
  const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint }), { marshallOptions: { removeUndefinedValues: true } });

  const source = `bench-src-${id}`;
  const target = `bench-dst-${id}`;
  const ceilingTable = `bench-ceiling-${id}`;
  const seqTarget = `bench-seq-${id}`;
  const ledgerName = `bench-ledger-${id}`;

  // Production's stream holds only its last 24 h of changes: seed first, then turn the stream on
  // (and a stream that holds the seed would make this a different benchmark).
  await createTable(source, KEYS);
  await createTable(target, KEYS, { stream: Boolean(opts.targetStream) });
  await createTable(ceilingTable, KEYS, { stream: Boolean(opts.targetStream) });
  await createTable(seqTarget, KEYS, { stream: Boolean(opts.targetStream) });
  await createLedgerTable(createLedgerClient(), ledgerName);
  log(`seeding ${items} items`);
  await writeAll(new BatchWriter({ client: client(), concurrency: 16 }), source, generateV1Products({ products }), KEYS);
  const raw = new DynamoDBClient({});
  await raw.send(new UpdateTableCommand({ TableName: source, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
  await waitUntilTableExists({ client: raw, maxWaitTime: 60 }, { TableName: source });

  // (a) the ceiling: pre-built target items, the same count the copy writes, best concurrency.
  const prebuilt = (n: number) => targetItems(n);
  const targetCount = products * 4;
  let best = { concurrency: 0, rate: 0 };
  for (const concurrency of [8, 16, 32]) {
    const sample = Math.min(targetCount, 8000);
    const t0 = performance.now();
    await writeAll(new BatchWriter({ client: client(), concurrency }), `${ceilingTable}`, prebuilt(sample), KEYS);
    const rate = sample / ((performance.now() - t0) / 1000);
    log(`ceiling probe: ${concurrency} in flight → ${Math.round(rate)} items/s`);
    if (rate > best.rate) best = { concurrency, rate };
  }
  const ceilingN = Math.min(targetCount, 300_000);
  const ta = performance.now();
  await writeAll(new BatchWriter({ client: client(), concurrency: best.concurrency }), ceilingTable, prebuilt(ceilingN), KEYS);
  const ceilingItemsPerSec = ceilingN / ((performance.now() - ta) / 1000);
  log(`ceiling: ${Math.round(ceilingItemsPerSec)} items/s (${ceilingN} items, ${best.concurrency} in flight)`);

  // (b) the copy engine, as the user runs it.
  const copy = await runCopy(source, target, ledgerName, endpoint);
  const copySeconds = copy.seconds; // the engine's own time, without the child's start-up
  const itemsPerSec = items / copySeconds;
  const writesPerSec = copy.itemsWritten / copySeconds;
  log(`copy: ${Math.round(itemsPerSec)} source items/s, ${Math.round(writesPerSec)} target writes/s, peak RSS ${copy.peakRssMb} MB`);

  // (c) the seed's sequential loop, time-boxed.
  const doc = client();
  const tc = performance.now();
  let done = 0;
  const deadline = tc + opts.sequentialSeconds * 1000;
  for (const v1 of generateV1Products({ products })) {
    const got = await doc.send(new GetCommand({ TableName: source, Key: { pk: v1.pk, sk: v1.sk } }));
    for (const out of chain.applySync(got.Item!) ?? []) await doc.send(new PutCommand({ TableName: seqTarget, Item: out }));
    done++;
    if (done >= items || performance.now() > deadline) break;
  }
  const sequentialItemsPerSec = done / ((performance.now() - tc) / 1000);
  log(`sequential: ${Math.round(sequentialItemsPerSec)} items/s over ${done} items`);

  const tv = performance.now();
  const verify = await verifyCopy({
    ioHost: silentIoHost,
    dynamodb: new DynamoDBClient({}),
    sourceTable: source,
    targetTable: target,
    keyNames: KEYS,
    chain,
    deadLetters: new DeadLetters(new Ledger({ tableName: ledgerName }), `bench#${id}`),
  });
  const verifySeconds = (performance.now() - tv) / 1000;

  const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
  process.stdout.write(
    JSON.stringify({
      items,
      targetItems: copy.itemsWritten,
      latencyMs: opts.latencyMs,
      targetStream: Boolean(opts.targetStream),
      itemsPerSec: round(itemsPerSec),
      writesPerSec: round(writesPerSec),
      ceilingItemsPerSec: round(ceilingItemsPerSec),
      ceilingConcurrency: best.concurrency,
      ratio: round(writesPerSec / ceilingItemsPerSec, 3),
      sourceItemsRatio: round(itemsPerSec / ceilingItemsPerSec, 3),
      sequentialItemsPerSec: round(sequentialItemsPerSec, 1),
      speedup: round(itemsPerSec / sequentialItemsPerSec, 1),
      peakRssMb: copy.peakRssMb,
      copyConcurrency: opts.concurrency,
      copyWriteConcurrency: opts.writeConcurrency,
      copyMaxHeapMb: opts.maxHeapMb,
      copySeconds: round(copySeconds, 1),
      verifyDifferences: verify.differences,
      verifySeconds: round(verifySeconds, 1),
    }) + '\n',
  );
}

function* targetItems(n: number): Generator<Item> {
  // Pre-built v2 items of the shape the copy writes: per product, one product item and 3 listings.
  let i = 0;
  let lastProduct = '';
  for (const v1 of generateV1Products({ products: Math.ceil(n / 4) + 1, firstId: 5_000_000 })) {
    for (const out of chain.applySync(v1) ?? []) {
      if (out.sk === 'PRODUCT') {
        if (out.pk === lastProduct) continue;
        lastProduct = out.pk as string;
      }
      if (i++ >= n) return;
      yield out;
    }
  }
}

async function runCopy(source: string, target: string, ledger: string, endpoint: string): Promise<{ itemsWritten: number; peakRssMb: number; seconds: number }> {
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${opts.maxHeapMb}`, '--max-semi-space-size=8', '--import', 'tsx', 'bin/cli.ts', 'copy', '--job', `bench#${id}`, '--table', 'products', '--source', source, '--target', target, '--ledger', ledger,
      '--concurrency', String(opts.concurrency), '--write-concurrency', String(opts.writeConcurrency), '--json'],
    // STACKSHIFT_TARGET=aws: the CLI takes the endpoints given here (this run's emulators, through the
    // latency proxy) instead of starting or reusing the project's local AWS and overriding them.
    { env: { ...process.env, STACKSHIFT_TARGET: 'aws', AWS_ENDPOINT_URL_DYNAMODB: endpoint }, stdio: ['ignore', 'pipe', opts.json ? 'inherit' : 'ignore'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`copy exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as { itemsWritten: number; peakRssMb: number; seconds: number };
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 2;
});
