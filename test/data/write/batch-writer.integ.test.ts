import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyString, stableJson, type Item, type KeyNames } from '../../../lib/item/item';
import { BatchWriter } from '../../../lib/data/write/batch-writer';
import { createTable, uniqueName } from '../../_helpers/tables';
import { injectBatchWriteFaults } from './fault-injection';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };
const N = 5_000;

/** A random-ish but reproducible sequence in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function itemsOf(n: number, run: string): Item[] {
  return Array.from({ length: n }, (_, i) => ({
    pk: `customer#${i % 97}`,
    sk: i,
    run,
    name: `item ${i}`,
    tags: new Set([`t${i % 3}`, 'all']),
    nested: { list: [i, String(i), i % 2 === 0], flag: i % 5 === 0 ? null : true },
  }));
}

/** A fresh table keyed pk (S) + sk (N). */
async function newTable(ddb: DynamoDBClient): Promise<string> {
  const name = uniqueName('batch-writer');
  await createTable(name, KEYS, { sortKeyType: 'N', client: ddb });
  return name;
}

async function scanAll(doc: DynamoDBDocumentClient, table: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const page of paginateScan({ client: doc }, { TableName: table })) {
    for (const item of page.Items ?? []) out.set(keyString(item, KEYS), stableJson(item));
  }
  return out;
}

function expected(items: Item[]): Map<string, string> {
  return new Map(items.map((item) => [keyString(item, KEYS), stableJson(item)]));
}

describe('BatchWriter against DynamoDB Local', () => {
  const ddb = new DynamoDBClient({});
  const doc = DynamoDBDocumentClient.from(ddb);
  const tables: string[] = [];

  beforeAll(async () => {
    tables.push(await newTable(ddb), await newTable(ddb));
  });

  afterAll(async () => {
    for (const TableName of tables) await ddb.send(new DeleteTableCommand({ TableName }));
    ddb.destroy();
  });

  it('writes 5,000 items: the table holds exactly them', async () => {
    // GIVEN an empty table and 5,000 items
    const items = itemsOf(N, 'clean');
    const writer = new BatchWriter({ client: doc });

    // WHEN they are written
    const result = await writer.write(tables[0]!, items.map((put) => ({ put })), KEYS);

    // THEN a Scan finds the same 5,000 items, content equal
    expect(result.written).toBe(N);
    const scanned = await scanAll(doc, tables[0]!);
    expect(scanned.size).toBe(N);
    expect(scanned).toEqual(expected(items));
  });

  it('loses nothing when ~20% of the calls come back half unprocessed or throttled', async () => {
    // GIVEN a real client whose BatchWriteItem calls fail now and then (the middleware on its stack)
    const faultyBase = new DynamoDBClient({});
    const faulty = DynamoDBDocumentClient.from(faultyBase);
    const faults = injectBatchWriteFaults(faulty, { rate: 0.2, random: seeded(42) });
    let retried = 0;
    const writer = new BatchWriter({ client: faulty, backoff: { baseMs: 5, capMs: 100 }, onRetry: (e) => (retried += e.items) });
    const items = itemsOf(N, 'faulty');

    try {
      // WHEN 5,000 items are written through it
      const result = await writer.write(tables[1]!, items.map((put) => ({ put })), KEYS);

      // THEN faults of both kinds happened, they were retried, and the table holds exactly the items
      expect(faults.stats.unprocessedCalls).toBeGreaterThan(0);
      expect(faults.stats.throttled).toBeGreaterThan(0);
      expect(result.written).toBe(N);
      expect(result.retries).toBe(retried);
      expect(result.retries).toBeGreaterThanOrEqual(faults.stats.unprocessedItems);
      const scanned = await scanAll(doc, tables[1]!);
      expect(scanned.size).toBe(N);
      expect(scanned).toEqual(expected(items));
    } finally {
      faults.remove();
      faultyBase.destroy();
    }
  });
});
