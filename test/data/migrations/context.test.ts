import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, QueryCommand, type BatchGetCommandInput } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReleaseError } from '../../../lib/errors';
import type { Item } from '../../../lib/item/item';
import {
  MIGRATION_CONTEXT_KEY_INVALID,
  MIGRATION_CONTEXT_UNPROCESSED,
  createMigrationContext,
} from '../../../lib/data/migrations/context';
import { createTable, uniqueName } from '../../_helpers/tables';

const keyNames = { partitionKey: 'pk', sortKey: 'sk' };
const tableName = uniqueName('ctx-test');
const ddb = new DynamoDBClient({});
const doc = DynamoDBDocumentClient.from(ddb);

/** 150 items in partitions A#0..A#149 (sk 'x'), and 40 in partition WIDE (sk 000..039). */
const items: Item[] = [
  ...Array.from({ length: 150 }, (_, i) => ({ pk: `A#${i}`, sk: 'x', n: i, _ssSrc: `{"id":${i}}`, _ssOrigin: 'copy' })),
  ...Array.from({ length: 40 }, (_, i) => ({ pk: 'WIDE', sk: String(i).padStart(3, '0'), n: i, _ssOrigin: 'copy' })),
];

beforeAll(async () => {
  await createTable(tableName, keyNames, { client: ddb });
  for (let i = 0; i < items.length; i += 25) {
    await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
});

afterAll(async () => {
  await ddb.send(new DeleteTableCommand({ TableName: tableName }));
  ddb.destroy();
});

/** A client whose `send` is counted per command type. */
function countingClient(): { client: DynamoDBDocumentClient; batchGets: () => BatchGetCommandInput[]; queries: () => number } {
  const client = DynamoDBDocumentClient.from(ddb);
  const send = vi.spyOn(client, 'send');
  const commands = () => send.mock.calls.map((call) => call[0] as unknown);
  return {
    client,
    batchGets: () => commands().filter((c): c is BatchGetCommand => c instanceof BatchGetCommand).map((c) => c.input),
    queries: () => commands().filter((c) => c instanceof QueryCommand).length,
  };
}

describe('createMigrationContext: get (DynamoDB Local)', () => {
  it('coalesces 50 concurrent gets into one BatchGetItem, items without meta attributes', async () => {
    // GIVEN a context over the table
    const counting = countingClient();
    const ctx = createMigrationContext({ client: counting.client, tableName, keyNames });
    // WHEN 50 gets are made in the same tick
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => ctx.get({ pk: `A#${i}`, sk: 'x' })));
    // THEN one BatchGetItem of 50 keys served them all, and the engine's meta attributes are gone
    expect(counting.batchGets()).toHaveLength(1);
    expect(counting.batchGets()[0].RequestItems![tableName].Keys).toHaveLength(50);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => ({ pk: `A#${i}`, sk: 'x', n: i })));
  });

  it('splits 250 concurrent gets into BatchGetItem calls of at most 100 keys and reads a repeated key once', async () => {
    // GIVEN
    const counting = countingClient();
    const ctx = createMigrationContext({ client: counting.client, tableName, keyNames });
    // WHEN 250 gets: 150 existing keys, 100 missing ones, and A#7 asked for a second time
    const keys = [...Array.from({ length: 150 }, (_, i) => `A#${i}`), ...Array.from({ length: 100 }, (_, i) => `MISSING#${i}`)];
    const [got, again] = await Promise.all([Promise.all(keys.map((pk) => ctx.get({ pk, sk: 'x' }))), ctx.get({ pk: 'A#7', sk: 'x' })]);
    // THEN ceil(250 / 100) = 3 calls, none over 100 keys, no key twice
    const sizes = counting.batchGets().map((input) => input.RequestItems![tableName].Keys!.length);
    expect(sizes.sort((a, b) => b - a)).toEqual([100, 100, 50]);
    // and existing keys resolve to their items, missing keys to undefined
    expect(got.slice(0, 150).map((item) => item?.n)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(got.slice(150).every((item) => item === undefined)).toBe(true);
    expect(again).toEqual({ pk: 'A#7', sk: 'x', n: 7 });
  });

  it('resolves a missing key to undefined', async () => {
    const ctx = createMigrationContext({ client: doc, tableName, keyNames });
    expect(await ctx.get({ pk: 'NOPE', sk: 'x' })).toBeUndefined();
  });

  it('ignores attributes other than the key and rejects a key without the sort key', async () => {
    // GIVEN a context
    const ctx = createMigrationContext({ client: doc, tableName, keyNames });
    // WHEN given a whole item as the key, and a key without sk
    const whole = await ctx.get({ pk: 'A#3', sk: 'x', n: 999 });
    const err = await ctx.get({ pk: 'A#3' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // THEN the item is read by its key; the partial key is a user error
    expect(whole).toEqual({ pk: 'A#3', sk: 'x', n: 3 });
    expect(ReleaseError.isUserError(err)).toBe(true);
    expect((err as ReleaseError).code).toBe(MIGRATION_CONTEXT_KEY_INVALID);
  });
});

describe('createMigrationContext: queryPartition (DynamoDB Local)', () => {
  it('reads every page of a partition, in sort-key order, without meta attributes', async () => {
    // GIVEN 40 items under WIDE and pages of 7
    const counting = countingClient();
    const ctx = createMigrationContext({ client: counting.client, tableName, keyNames, queryPageSize: 7 });
    // WHEN
    const got = await ctx.queryPartition('WIDE');
    // THEN all 40 came back over ceil(40 / 7) = 6 pages (plus possibly a last empty one)
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => ({ pk: 'WIDE', sk: String(i).padStart(3, '0'), n: i })));
    expect(counting.queries()).toBeGreaterThanOrEqual(6);
    expect(counting.queries()).toBeLessThanOrEqual(7);
  });

  it('gives an empty array for an empty partition', async () => {
    const ctx = createMigrationContext({ client: doc, tableName, keyNames });
    expect(await ctx.queryPartition('EMPTY')).toEqual([]);
  });
});

describe('createMigrationContext: UnprocessedKeys', () => {
  /** A client that answers BatchGetItem from `script`, one response per call. */
  function scriptedClient(script: (keys: Item[], call: number) => { found: Item[]; unprocessed: Item[] }) {
    let call = 0;
    const send = vi.fn(async (command: BatchGetCommand) => {
      const keys = command.input.RequestItems![tableName].Keys as Item[];
      const { found, unprocessed } = script(keys, call++);
      return {
        Responses: { [tableName]: found },
        UnprocessedKeys: unprocessed.length > 0 ? { [tableName]: { Keys: unprocessed } } : {},
      };
    });
    return { client: { send } as unknown as DynamoDBDocumentClient, send };
  }

  it('retries unprocessed keys with backoff until they are read', async () => {
    // GIVEN a table that leaves the second key unprocessed on the first call
    const { client, send } = scriptedClient((keys, call) =>
      call === 0 ? { found: [{ ...keys[0], v: 1 }], unprocessed: [keys[1]] } : { found: keys.map((k) => ({ ...k, v: 2 })), unprocessed: [] },
    );
    const sleeps: number[] = [];
    const ctx = createMigrationContext({
      client,
      tableName,
      keyNames,
      retry: { backoff: { sleep: async (ms) => void sleeps.push(ms), random: () => 1 } },
    });
    // WHEN two keys are read
    const got = await Promise.all([ctx.get({ pk: 'a', sk: 'x' }), ctx.get({ pk: 'b', sk: 'x' })]);
    // THEN the second call asked only for the unprocessed key, after one backoff
    expect(got).toEqual([
      { pk: 'a', sk: 'x', v: 1 },
      { pk: 'b', sk: 'x', v: 2 },
    ]);
    expect(send).toHaveBeenCalledTimes(2);
    expect(send.mock.calls[1][0].input.RequestItems![tableName].Keys).toEqual([{ pk: 'b', sk: 'x' }]);
    expect(sleeps).toHaveLength(1);
  });

  it('rejects the gets still unprocessed after the last attempt with MIGRATION_CONTEXT_UNPROCESSED', async () => {
    // GIVEN a table that never processes key b
    const { client, send } = scriptedClient((keys) => ({ found: keys.filter((k) => k.pk === 'a'), unprocessed: keys.filter((k) => k.pk === 'b') }));
    const ctx = createMigrationContext({ client, tableName, keyNames, retry: { maxAttempts: 3, backoff: { sleep: async () => undefined } } });
    // WHEN
    const [a, b] = await Promise.allSettled([ctx.get({ pk: 'a', sk: 'x' }), ctx.get({ pk: 'b', sk: 'x' })]);
    // THEN a was served, b failed after 3 attempts with a tool error
    expect(a).toEqual({ status: 'fulfilled', value: { pk: 'a', sk: 'x' } });
    expect(b.status).toBe('rejected');
    expect(((b as PromiseRejectedResult).reason as ReleaseError).code).toBe(MIGRATION_CONTEXT_UNPROCESSED);
    expect(send).toHaveBeenCalledTimes(3);
  });
});
