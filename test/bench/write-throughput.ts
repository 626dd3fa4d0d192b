/**
 * Write throughput of BatchWriter and of the SharedItemWriter variants on DynamoDB Local, direct
 * and through the latency proxy (per-call latency like real AWS).
 *
 *   npx tsx test/bench/write-throughput.ts [items=20000] [latencyMs=20] [runs=3]
 *
 * Each figure is the median of `runs` runs, each on a fresh table, after a warm-up run.
 *
 * Uses $AWS_ENDPOINT_URL_DYNAMODB when set (e.g. after `eval "$(npm run -s local:env)"`), else starts
 * a DynamoDB Local of its own in a temp folder and stops it at the end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLatencyProxy } from '../../bench/latency-proxy';
import { META, type Item, type KeyNames } from '../../lib/item/item';
import { BatchWriter } from '../../lib/data/write/batch-writer';
import { SharedItemWriter, contentHash } from '../../lib/data/write/shared-writer';
import { LOCAL_CREDENTIALS, startLocalAws, stopLocalAws } from '../../lib/local';
import { createTable, uniqueName } from '../_helpers/tables';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };
const ITEMS = Number(process.argv[2] ?? 20_000);
const LATENCY_MS = Number(process.argv[3] ?? 20);
const RUNS = Number(process.argv[4] ?? 3);
const CONCURRENCY = 16;

function itemsOf(n: number): Item[] {
  return Array.from({ length: n }, (_, i) => {
    const item: Item = { pk: `product#${i % 1000}`, sk: `v#${i}`, name: `product ${i}`, price: i % 997, tags: ['a', 'b'], note: 'x'.repeat(120) };
    item[META.contentHash] = contentHash(item);
    return item;
  });
}

async function withTable<T>(ddb: DynamoDBClient, run: (table: string) => Promise<T>): Promise<T> {
  const table = uniqueName('bench');
  await createTable(table, KEYS, { client: ddb });
  try {
    return await run(table);
  } finally {
    await ddb.send(new DeleteTableCommand({ TableName: table }));
  }
}

async function rate(n: number, run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return (n / (performance.now() - start)) * 1000;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]!);
}

interface Scenario {
  readonly name: string;
  /** Runs on a fresh table; returns one items/s figure per measured step. */
  run(ddb: DynamoDBClient, doc: DynamoDBDocumentClient): Promise<number[]>;
  readonly steps: readonly string[];
}

function scenarios(items: Item[], sharedItems: Item[]): Scenario[] {
  const out: Scenario[] = [
    {
      name: `BatchWriter, ${CONCURRENCY} in flight`,
      steps: [`${items.length} new items`],
      run: (ddb, doc) => {
        const batch = new BatchWriter({ client: doc, concurrency: CONCURRENCY });
        return withTable(ddb, async (t) => [await rate(items.length, () => batch.write(t, items.map((put) => ({ put })), KEYS))]);
      },
    },
  ];
  // 1 item in 50 has another hash than the stored one: a transaction holding it is cancelled and re-sent.
  const conflicting = sharedItems.map((item, i) => (i % 50 === 0 ? { ...item, [META.contentHash]: 'other' } : item));
  for (const groupSize of [25, 100, 1]) {
    out.push({
      name: `shared: ${groupSize === 1 ? 'conditional PutItem' : `TransactWriteItems x${groupSize}`}`,
      steps: [`${sharedItems.length} new items`, 'same items again (hash equal)', 'again, 2% conflicts', '2 workers writing the same new keys at once'],
      run: (ddb, doc) => {
        const writer = new SharedItemWriter({ client: doc, concurrency: CONCURRENCY, groupSize });
        return withTable(ddb, async (t) => [
          await rate(sharedItems.length, () => writer.write(t, sharedItems, KEYS)),
          await rate(sharedItems.length, () => writer.write(t, sharedItems, KEYS)),
          await rate(conflicting.length, () => writer.write(t, conflicting, KEYS)),
          // Two workers (writers of their own) write the same shared keys at the same time, in the
          // same order (the worst case): transactions collide (TransactionConflict) and are retried.
          await withTable(ddb, (t2) => {
            const other = new SharedItemWriter({ client: doc, concurrency: CONCURRENCY, groupSize });
            return rate(2 * sharedItems.length, () => Promise.all([writer.write(t2, sharedItems, KEYS), other.write(t2, sharedItems, KEYS)]));
          }),
        ]);
      },
    });
  }
  return out;
}

async function bench(endpoint: string, label: string): Promise<void> {
  const ddb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const doc = DynamoDBDocumentClient.from(ddb);
  const items = itemsOf(ITEMS);
  const sharedItems = items.slice(0, Math.min(ITEMS, 5_000));
  const lines: string[] = [];
  try {
    // Warm-up: JIT, sockets, DynamoDB Local's own warm-up.
    for (const s of scenarios(items.slice(0, 2_000), sharedItems.slice(0, 1_000))) await s.run(ddb, doc);
    for (const s of scenarios(items, sharedItems)) {
      const runs: number[][] = [];
      for (let r = 0; r < RUNS; r++) runs.push(await s.run(ddb, doc));
      s.steps.forEach((step, k) => {
        const rates = runs.map((x) => x[k]!);
        lines.push(`  ${s.name.padEnd(34)} ${String(median(rates)).padStart(6)} items/s  (${rates.map(Math.round).join(', ')})  ${step}`);
      });
    }
  } finally {
    ddb.destroy();
  }
  console.log(`\n${label}, median of ${RUNS}`);
  for (const line of lines) console.log(line);
}

async function main(): Promise<void> {
  let endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  let stateDir: string | undefined;
  if (!endpoint) {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackshift-bench-'));
    endpoint = (await startLocalAws({ stateDir })).state.dynamodb.endpoint;
  }
  try {
    await bench(endpoint, `DynamoDB Local direct (${endpoint})`);
    const proxy = await startLatencyProxy({ target: endpoint, latencyMs: LATENCY_MS });
    try {
      await bench(proxy.url, `through the latency proxy, ${LATENCY_MS} ms per call`);
    } finally {
      await proxy.close();
    }
  } finally {
    if (stateDir) {
      await stopLocalAws({ stateDir });
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  }
}

await main();
