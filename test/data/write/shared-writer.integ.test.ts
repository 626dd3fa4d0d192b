import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { META, withoutMeta, type Item, type KeyNames } from '../../../lib/item/item';
import { createItemClient } from '../../../lib/item/numbers';
import { SharedItemWriter, contentHash } from '../../../lib/data/write/shared-writer';
import { createTable, uniqueName } from '../../_helpers/tables';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };

/** A shared item with its content hash set, as the engine writes it. */
function shared(pk: string, content: Item, source = 'src#1'): Item {
  const item: Item = { pk, sk: 'product', ...content, [META.source]: source };
  item[META.contentHash] = contentHash(item);
  return item;
}

describe('contentHash', () => {
  it('ignores meta attributes and key order, and tells different content apart', () => {
    const a = shared('p1', { name: 'lamp', price: 10 }, 'us');
    const b = shared('p1', { price: 10, name: 'lamp' }, 'gb');
    const c = shared('p1', { name: 'lamp', price: 11 }, 'us');
    expect(a[META.contentHash]).toBe(b[META.contentHash]);
    expect(a[META.contentHash]).not.toBe(c[META.contentHash]);
    expect(a[META.contentHash]).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe.each([25, 100, 1])('SharedItemWriter against DynamoDB Local (groupSize %i)', (groupSize) => {
  const ddb = new DynamoDBClient({});
  const doc = DynamoDBDocumentClient.from(ddb);
  const writer = new SharedItemWriter({ client: doc, groupSize });
  let table: string;

  const stored = async (pk: string) => (await doc.send(new GetCommand({ TableName: table, Key: { pk, sk: 'product' }, ConsistentRead: true }))).Item;

  beforeAll(async () => {
    table = uniqueName(`shared-writer-${groupSize}`);
    await createTable(table, KEYS, { client: ddb });
  });

  afterAll(async () => {
    await ddb.send(new DeleteTableCommand({ TableName: table }));
    ddb.destroy();
  });

  it('writes a new key', async () => {
    // GIVEN a key nobody wrote
    const item = shared('new', { name: 'lamp' });

    // WHEN it is written
    const outcomes = await writer.write(table, [item], KEYS);

    // THEN it is written and stored
    expect(outcomes).toEqual([{ status: 'written' }]);
    expect(await stored('new')).toEqual(item);
  });

  it('accepts the same content again from another source (idempotent)', async () => {
    // GIVEN a key written by one source
    await writer.write(table, [shared('same', { name: 'chair', price: 5 }, 'us')], KEYS);

    // WHEN another source writes the same content in a second call
    const outcomes = await writer.write(table, [shared('same', { price: 5, name: 'chair' }, 'gb')], KEYS);

    // THEN it is written
    expect(outcomes).toEqual([{ status: 'written' }]);
    expect(withoutMeta((await stored('same'))!)).toEqual({ pk: 'same', sk: 'product', name: 'chair', price: 5 });
  });

  it('refuses different content and returns the item already there', async () => {
    // GIVEN a key written with one content
    const first = shared('differs', { name: 'desk', price: 100 }, 'us');
    await writer.write(table, [first], KEYS);

    // WHEN another source writes different content
    const outcomes = await writer.write(table, [shared('differs', { name: 'desk', price: 120 }, 'eu')], KEYS);

    // THEN it is a conflict with the stored item, which is unchanged
    expect(outcomes).toEqual([{ status: 'conflict', existing: first }]);
    expect(await stored('differs')).toEqual(first);
  });

  it('finds exactly the 3 conflicts among 60 items', async () => {
    // GIVEN 3 keys already holding other content (written without the writer)
    const items = Array.from({ length: 60 }, (_, i) => shared(`batch-${i}`, { n: i, name: `item ${i}` }));
    const conflicting = [7, 31, 59];
    const before = conflicting.map((i) => shared(`batch-${i}`, { n: -i, name: 'older' }, 'old'));
    await doc.send(new BatchWriteCommand({ RequestItems: { [table]: before.map((Item) => ({ PutRequest: { Item } })) } }));

    // WHEN the 60 are written in one call
    const outcomes = await writer.write(table, items, KEYS);

    // THEN those 3 are conflicts with the older items, the 57 others are written
    const conflicts = outcomes.flatMap((o, i) => (o.status === 'conflict' ? [i] : []));
    expect(conflicts).toEqual(conflicting);
    expect(conflicting.map((i) => outcomes[i])).toEqual(before.map((existing) => ({ status: 'conflict', existing })));
    const inTable = new Map<string, Item>();
    for await (const page of paginateScan({ client: doc }, { TableName: table, ConsistentRead: true })) {
      for (const item of page.Items ?? []) inTable.set(String(item.pk), item);
    }
    for (let i = 0; i < 60; i++) expect(inTable.get(`batch-${i}`)).toEqual(conflicting.includes(i) ? before[conflicting.indexOf(i)] : items[i]);
  });

  it('writes a key repeated in one call once, and a differing repeat is a conflict against the first', async () => {
    // GIVEN one call with key A twice (same content) and key B twice (different content)
    const a1 = shared('dup-a', { v: 1 }, 'us');
    const a2 = shared('dup-a', { v: 1 }, 'gb');
    const b1 = shared('dup-b', { v: 1 }, 'us');
    const b2 = shared('dup-b', { v: 2 }, 'gb');

    // WHEN it is written
    const outcomes = await writer.write(table, [a1, b1, a2, b2], KEYS);

    // THEN A is written (both), B's first is written and its second conflicts with it
    expect(outcomes).toEqual([{ status: 'written' }, { status: 'written' }, { status: 'written' }, { status: 'conflict', existing: b1 }]);
    expect(await stored('dup-a')).toEqual(a1);
    expect(await stored('dup-b')).toEqual(b1);
  });

  it('writes 25 items of 300 KB (7.5 MB, over the 4 MB transaction limit) in one call', async () => {
    // GIVEN large items
    const items = Array.from({ length: 25 }, (_, i) => shared(`large-${i}`, { body: `${i}`.padEnd(300_000, 'x') }));

    // WHEN they are written in one call
    const outcomes = await writer.write(table, items, KEYS);

    // THEN all are written
    expect(outcomes.every((o) => o.status === 'written')).toBe(true);
    expect((await stored('large-24'))?.body).toBe(items[24]!.body);
  });

  it('refuses an item without a content hash', async () => {
    const err = await writer.write(table, [{ pk: 'nohash', sk: 'product' }], KEYS).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    expect(err?.code).toBe('WRITE_HASH_MISSING');
  });
});

describe('SharedItemWriter through the engine\'s item client (createItemClient)', () => {
  it.each([25, 1])('GIVEN a conflicting stored item WHEN groupSize %i writes over it THEN the outcome is a conflict with the stored item, not a failure', async (groupSize) => {
    // lib-dynamodb marks the client's unmarshall options convertWithoutMapWrapper; the conflict's
    // ALL_OLD item, read from the error in the wire format, must still be unwrapped as a map.
    const ddb = new DynamoDBClient({});
    const doc = createItemClient(ddb);
    const table = uniqueName(`shared-writer-item-client-${groupSize}`);
    await createTable(table, KEYS, { client: ddb });
    await doc.send(new PutCommand({ TableName: table, Item: shared('p', { price: 1 }, 'a') }));
    const out = await new SharedItemWriter({ client: doc, groupSize }).write(table, [shared('p', { price: 2 }, 'b'), shared('q', { price: 3 }, 'c')], KEYS);
    expect(out[0]).toMatchObject({ status: 'conflict', existing: { pk: 'p', price: 1, [META.source]: 'a' } });
    expect(out[1]).toEqual({ status: 'written' });
    await ddb.send(new DeleteTableCommand({ TableName: table }));
  });
});
