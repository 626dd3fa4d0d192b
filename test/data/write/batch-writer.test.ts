import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, type BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Item, KeyNames } from '../../../lib/item/item';
import { BatchWriter, type WriteRequest, type WriteRetryEvent } from '../../../lib/data/write/batch-writer';
import { rejection } from '../../_helpers/rejection';

const TABLE = 'target';
const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };
const noWait = { sleep: async () => undefined, random: () => 1 };

type Req = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

/** A table in memory that counts how often each key was written. */
class FakeTable {
  public readonly items = new Map<string, Item>();
  public readonly writes = new Map<string, number>();
  public calls = 0;
  public maxRequestsPerCall = 0;
  public duplicateKeyCalls = 0;

  public apply(requests: readonly Req[]): void {
    const seen = new Set<string>();
    for (const r of requests) {
      const key = r.PutRequest ? id(r.PutRequest.Item!) : id(r.DeleteRequest!.Key!);
      if (seen.has(key)) this.duplicateKeyCalls++;
      seen.add(key);
      if (r.PutRequest) this.items.set(key, r.PutRequest.Item!);
      else this.items.delete(key);
      this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    }
  }

  public requestsOf(input: BatchWriteCommandInput): Req[] {
    this.calls++;
    const requests = input.RequestItems![TABLE]!;
    this.maxRequestsPerCall = Math.max(this.maxRequestsPerCall, requests.length);
    return requests;
  }
}

const id = (item: Record<string, unknown>) => `${String(item.pk)}#${String(item.sk)}`;
const itemsOf = (n: number, tag = 'v1'): Item[] => Array.from({ length: n }, (_, i) => ({ pk: `p${i % 7}`, sk: i, tag }));
const puts = (items: Item[]): WriteRequest[] => items.map((put) => ({ put }));

describe('BatchWriter (mocked DynamoDB)', () => {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddb = mockClient(client);
  let table: FakeTable;

  beforeEach(() => {
    ddb.reset();
    table = new FakeTable();
  });
  afterEach(() => ddb.reset());

  it('retries UnprocessedItems until accepted and writes every item exactly once', async () => {
    // GIVEN a table that returns every request as unprocessed the first two times it sees it
    const returned = new Map<string, number>();
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      const accepted: Req[] = [];
      const unprocessed: Req[] = [];
      for (const r of table.requestsOf(input)) {
        const key = id(r.PutRequest!.Item!);
        const n = returned.get(key) ?? 0;
        if (n < 2) {
          returned.set(key, n + 1);
          unprocessed.push(r);
        } else accepted.push(r);
      }
      table.apply(accepted);
      return unprocessed.length > 0 ? { UnprocessedItems: { [TABLE]: unprocessed } } : {};
    });
    const events: WriteRetryEvent[] = [];
    const writer = new BatchWriter({ client, backoff: noWait, onRetry: (e) => events.push(e) });
    const items = itemsOf(260);

    // WHEN 260 items are written
    const result = await writer.write(TABLE, puts(items), KEYS);

    // THEN each was written once, the table holds them all, and the retries were counted
    expect(result).toEqual({ written: 260, retries: 520 });
    expect([...table.writes.values()].every((n) => n === 1)).toBe(true);
    expect(table.items.size).toBe(260);
    expect(table.maxRequestsPerCall).toBe(25);
    expect(table.calls).toBe(11 * 3);
    expect(events.every((e) => e.reason === 'unprocessed' && e.table === TABLE)).toBe(true);
    expect(events.reduce((sum, e) => sum + e.items, 0)).toBe(520);
  });

  it('retries ProvisionedThroughputExceededException and loses nothing', async () => {
    // GIVEN a table that throttles the first three calls
    let throttles = 3;
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      const requests = table.requestsOf(input);
      if (throttles-- > 0) throw new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
      table.apply(requests);
      return {};
    });
    const writer = new BatchWriter({ client, backoff: noWait, concurrency: 1 });

    // WHEN 60 items are written
    const result = await writer.write(TABLE, puts(itemsOf(60)), KEYS);

    // THEN all 60 are there, after 3 failed calls
    expect(result.written).toBe(60);
    expect(table.items.size).toBe(60);
    expect(table.calls).toBe(3 + 3);
  });

  it('gives up with WRITE_EXHAUSTED and the number of items left when the table never accepts', async () => {
    // GIVEN a table that returns everything unprocessed, for ever
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => ({ UnprocessedItems: { [TABLE]: table.requestsOf(input) } }));
    const writer = new BatchWriter({ client, backoff: noWait, maxAttempts: 4 });

    // WHEN 30 items are written
    const err = await rejection(writer.write(TABLE, puts(itemsOf(30)), KEYS));

    // THEN it fails naming the table and the 30 items, after 4 calls per chunk
    expect(err.code).toBe('WRITE_EXHAUSTED');
    expect(err.source).toBe('tool');
    expect(err.message).toContain(`"${TABLE}"`);
    expect(err.message).toMatch(/\b30 of 30 items are not written/);
    expect(table.calls).toBe(2 * 4);
  });

  it('counts the items already written when it gives up on a throttled chunk', async () => {
    // GIVEN a table that accepts the first chunk and then throttles for ever
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      const requests = table.requestsOf(input);
      if (table.calls > 1) throw new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
      table.apply(requests);
      return {};
    });
    const writer = new BatchWriter({ client, backoff: noWait, maxAttempts: 3, concurrency: 1 });

    // WHEN 40 items (2 chunks) are written
    const err = await rejection(writer.write(TABLE, puts(itemsOf(40)), KEYS));

    // THEN the 15 of the second chunk are reported as left
    expect(err.code).toBe('WRITE_EXHAUSTED');
    expect(err.message).toMatch(/\b15 of 40 items are not written/);
    expect(table.items.size).toBe(25);
  });

  it('does not count a call that got part of a chunk accepted against maxAttempts', async () => {
    // GIVEN a table that accepts one request per call
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      const [first, ...rest] = table.requestsOf(input);
      table.apply([first!]);
      return rest.length > 0 ? { UnprocessedItems: { [TABLE]: rest } } : {};
    });
    const writer = new BatchWriter({ client, backoff: noWait, maxAttempts: 2 });

    // WHEN 25 items are written
    const result = await writer.write(TABLE, puts(itemsOf(25)), KEYS);

    // THEN all are written, in 25 calls
    expect(result.written).toBe(25);
    expect(table.calls).toBe(25);
  });

  it('fails with WRITE_FAILED at once on an error that is not retryable', async () => {
    // GIVEN a table that rejects the request as invalid
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      table.requestsOf(input);
      throw Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    });
    const writer = new BatchWriter({ client, backoff: noWait, concurrency: 1 });

    // WHEN 10 items are written
    const err = await rejection(writer.write(TABLE, puts(itemsOf(10)), KEYS));

    // THEN it fails after one call, with the count
    expect(err.code).toBe('WRITE_FAILED');
    expect(err.message).toMatch(/\b10 of 10 items are not written/);
    expect(table.calls).toBe(1);
  });

  it('keeps only the last request per key, even across chunks, so the table ends as if applied in order', async () => {
    // GIVEN 30 puts, then a second put of key 0, a delete of key 5 and a put of key 5 and a delete of key 7
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      table.apply(table.requestsOf(input));
      return {};
    });
    const items = itemsOf(30);
    const requests: WriteRequest[] = [
      ...puts(items),
      { put: { ...items[0]!, tag: 'v2' } },
      { delete: { pk: items[5]!.pk, sk: 5 } },
      { put: { ...items[5]!, tag: 'v3' } },
      { delete: { pk: items[7]!.pk, sk: 7 } },
      { put: { ...items[1]!, tag: 'v2' } },
    ];
    const writer = new BatchWriter({ client, backoff: noWait });

    // WHEN they are written in one call
    const result = await writer.write(TABLE, requests, KEYS);

    // THEN no call had two requests for one key, and the last request per key won
    expect(table.duplicateKeyCalls).toBe(0);
    expect(result.written).toBe(30);
    expect(table.items.get(id(items[0]!))?.tag).toBe('v2');
    expect(table.items.get(id(items[1]!))?.tag).toBe('v2');
    expect(table.items.get(id(items[5]!))?.tag).toBe('v3');
    expect(table.items.has(id(items[7]!))).toBe(false);
    expect(table.items.get(id(items[2]!))?.tag).toBe('v1');
    expect([...table.writes.values()].every((n) => n === 1)).toBe(true);
  });

  it('rejects an item without its key attribute instead of merging it with another', async () => {
    // GIVEN an item without the sort key
    const writer = new BatchWriter({ client, backoff: noWait });

    // WHEN it is written
    const err = await rejection(writer.write(TABLE, [{ put: { pk: 'a' } }], KEYS));

    // THEN it is refused before any call
    expect(err.code).toBe('WRITE_KEY_MISSING');
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it('never has more calls in flight than the concurrency, over concurrent callers', async () => {
    // GIVEN a slow table that counts calls in flight
    let inFlight = 0;
    let maxInFlight = 0;
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 3));
      inFlight--;
      const requests = table.requestsOf(input);
      // every third call returns part of its chunk, so retries queue for slots too
      if (table.calls % 3 === 0 && requests.length > 1) {
        table.apply(requests.slice(1));
        return { UnprocessedItems: { [TABLE]: requests.slice(0, 1) } };
      }
      table.apply(requests);
      return {};
    });
    const writer = new BatchWriter({ client, backoff: noWait, concurrency: 3 });

    // WHEN two callers write 400 items each at the same time
    const [a, b] = await Promise.all([
      writer.write(TABLE, puts(itemsOf(400, 'a')), KEYS),
      writer.write(TABLE, puts(itemsOf(400, 'b').map((item) => ({ ...item, pk: `q${String(item.pk)}` }))), KEYS),
    ]);

    // THEN the limit was reached but never exceeded, and everything was written
    expect(maxInFlight).toBe(3);
    expect(writer.inFlight).toBe(0);
    expect(a.written + b.written).toBe(800);
    expect(table.items.size).toBe(800);
  });
});
