import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { META, keyString, stableJson, withoutMeta, type Item, type Key } from '../../../lib/item/item';
import { MigrationChain } from '../../../lib/data/migrations/chain';
import type { Migration } from '../../../lib/data/migrations/migration';
import { ChangeApplier, IMAGE_UNDECODABLE, KEY_HELD, REMOVE_UNRESOLVED, SHARED_CONFLICT, type ApplyBatchResult } from '../../../lib/data/stream/change-applier';
import type { ChangeRecord } from '../../../lib/data/stream/change-record';
import { isEcho, type SyncOrigin } from '../../../lib/data/stream/echo';
import { DATA_IO, RecordingIoHost } from '../../../lib/io';
import { createLedgerClient, createLedgerTable, DeadLetters, Ledger } from '../../../lib/ledger';
import { registry } from '../../_helpers/catalog';
import { createTable, documentClient, PRODUCT_KEYS, scanAll, uniqueName } from '../../_helpers/tables';
import { countingClient } from './call-counter';

const up = registry.chain('products', 1, 2, { keyNames: PRODUCT_KEYS });
const down = registry.chain('products', 2, 1, { keyNames: PRODUCT_KEYS });
const doc = documentClient();
const ledgerName = uniqueName('ledger');
let ledger: Ledger;

beforeAll(async () => {
  await createLedgerTable(createLedgerClient(), ledgerName);
  ledger = new Ledger({ tableName: ledgerName });
});

let sequence = 0;
function nextSequence(): string {
  return String(++sequence).padStart(21, '0');
}

/**
 * The source table and the stream records its changes would produce: each change is made to the
 * table (the applier reads remaining sources from it) and returned as the record, built by hand.
 */
class Source {
  private readonly items = new Map<string, Item>();

  public constructor(public readonly table: string) {}

  public async put(item: Item): Promise<ChangeRecord> {
    const id = keyString(item, PRODUCT_KEYS);
    const old = this.items.get(id);
    await doc.send(new PutCommand({ TableName: this.table, Item: item }));
    this.items.set(id, item);
    return record(old ? 'MODIFY' : 'INSERT', item, old);
  }

  public async remove(key: Key): Promise<ChangeRecord> {
    const id = keyString(key, PRODUCT_KEYS);
    const old = this.items.get(id);
    if (!old) throw new Error(`test bug: ${id} is not in the source`);
    await doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: key.pk, sk: key.sk } }));
    this.items.delete(id);
    return record('REMOVE', undefined, old);
  }
}

function record(eventName: ChangeRecord['eventName'], newImage: Item | undefined, oldImage: Item | undefined): ChangeRecord {
  const image = (newImage ?? oldImage)!;
  return { eventName, sequenceNumber: nextSequence(), approximateCreationMs: Date.now() - 1000, keys: { pk: image.pk, sk: image.sk }, newImage, oldImage };
}

function channel(id: string, ch: 'US' | 'GB' | 'EU', overrides: Item = {}): Item {
  const currency = { US: 'USD', GB: 'GBP', EU: 'EUR' }[ch];
  return {
    pk: `PRODUCT#${id}`,
    sk: `CHANNEL#${ch}`,
    sku: `${id}-${ch}`,
    title: 'Electric Horizon',
    artist: 'Mara Vellum',
    format: 'LP',
    releaseYear: 1979,
    description: 'remastered from the original tapes',
    price: 1999,
    currency,
    stock: 5,
    published: true,
    ...overrides,
  };
}

interface World {
  readonly source: Source;
  readonly target: string;
  readonly deadLetters: DeadLetters;
  readonly io: RecordingIoHost;
  applier(origin?: SyncOrigin): ChangeApplier;
  /** The target's items without meta, by `pk|sk`. */
  targetItems(): Promise<Record<string, Item>>;
  /** The target's items as stored (meta included), by `pk|sk`. */
  rawTargetItems(): Promise<Record<string, Item>>;
}

async function world(options: { targetStream?: boolean; chain?: MigrationChain; versionAttribute?: string } = {}): Promise<World> {
  const sourceTable = uniqueName('sync-src');
  const target = uniqueName('sync-dst');
  await Promise.all([createTable(sourceTable), createTable(target, PRODUCT_KEYS, { stream: options.targetStream ?? false })]);
  const deadLetters = new DeadLetters(ledger, uniqueName('job'));
  const io = new RecordingIoHost();
  const raw = async () => Object.fromEntries((await scanAll(target)).map((i) => [`${i.pk}|${i.sk}`, i]));
  return {
    source: new Source(sourceTable),
    target,
    deadLetters,
    io,
    applier: (origin = 'sync') =>
      new ChangeApplier({ ioHost: io, client: doc, sourceTable, targetTable: target, keyNames: PRODUCT_KEYS, chain: options.chain ?? up, deadLetters, origin, versionAttribute: options.versionAttribute }),
    rawTargetItems: raw,
    targetItems: async () => Object.fromEntries(Object.entries(await raw()).map(([k, v]) => [k, withoutMeta(v)])),
  };
}

/** A product listed in the given channels, synced into the target by INSERT records. */
async function syncedProduct(w: World, id: string, channels: ReadonlyArray<'US' | 'GB' | 'EU'> = ['US', 'GB', 'EU']): Promise<void> {
  const inserts: ChangeRecord[] = [];
  for (const ch of channels) inserts.push(await w.source.put(channel(id, ch)));
  const r = await w.applier().applyBatch(inserts);
  expect(r).toMatchObject({ applied: channels.length, deadLetters: 0 });
}

/** A key-changing migration: orders filed under their status, (pk, sk) → (pk, <status>#<sk>). */
const orderByStatus: Migration = {
  table: 'orders',
  version: 2,
  description: 'sort orders by status',
  up: (item) => ({ ...item, sk: `${String(item.status)}#${String(item.sk)}` }),
};

/** What the migration makes of `items`, by `pk|sk`, without meta. */
function migrated(...items: Item[]): Record<string, Item> {
  return Object.fromEntries(items.flatMap((i) => up.applySync(i)!).map((o) => [`${o.pk}|${o.sk}`, o]));
}

describe('ChangeApplier (forward sync through products v1 → v2)', () => {
  it('turns an INSERT of a v1 channel item into the product item and its listing, stamped', async () => {
    // GIVEN an empty target
    const w = await world();
    const us = channel('0000001', 'US');
    const insert = await w.source.put(us);

    // WHEN the INSERT is applied
    const r = await w.applier().applyBatch([insert]);

    // THEN the target holds the migrated items, each recording its source, origin and write token
    expect(r).toMatchObject({ applied: 1, puts: 2, deletes: 0, deadLetters: 0, echoesSkipped: 0 });
    expect(r.lagMs).toBeGreaterThanOrEqual(1000);
    expect(await w.targetItems()).toEqual(migrated(us));
    const raw = await w.rawTargetItems();
    for (const item of Object.values(raw)) {
      expect(item[META.source]).toBe(stableJson({ pk: us.pk, sk: us.sk }));
      expect(item[META.origin]).toBe('sync');
      expect(item[META.write]).toBe(`sync:${w.source.table}:${insert.sequenceNumber}`);
    }
    expect(typeof raw['PRODUCT#0000001|PRODUCT'][META.contentHash]).toBe('string');
    expect(w.io.withCode(DATA_IO.SYNC_D5100.code)).toHaveLength(1);
  });

  it('applies a MODIFY of a price to that channel listing only', async () => {
    // GIVEN a product synced in three channels
    const w = await world();
    await syncedProduct(w, '0000002');
    const before = await w.targetItems();

    // WHEN the GB price changes
    const modify = await w.source.put(channel('0000002', 'GB', { price: 1599 }));
    const r = await w.applier().applyBatch([modify]);

    // THEN only the GB listing changed
    expect(r).toMatchObject({ applied: 1, deadLetters: 0 });
    const after = await w.targetItems();
    expect(after['PRODUCT#0000002|LISTING#GB'].price).toBe(1599);
    expect({ ...after, 'PRODUCT#0000002|LISTING#GB': undefined }).toEqual({ ...before, 'PRODUCT#0000002|LISTING#GB': undefined });
  });

  it('dead-letters a MODIFY that changes shared fields on one channel only, and writes none of it', async () => {
    // GIVEN a product synced in three channels
    const w = await world();
    await syncedProduct(w, '0000003');
    const before = await w.targetItems();

    // WHEN the US copy alone gets a new title (and a new price in the same write)
    const modify = await w.source.put(channel('0000003', 'US', { title: 'Electric Horizon (Deluxe)', price: 2999 }));
    const r = await w.applier().applyBatch([modify]);

    // THEN it is a SHARED_CONFLICT dead letter, and the target is as it was: product, all listings
    expect(r).toMatchObject({ applied: 0, puts: 0, deadLetters: 1 });
    expect(await w.targetItems()).toEqual(before);
    const [dl] = await w.deadLetters.list();
    expect(dl).toMatchObject({ errorCode: SHARED_CONFLICT, sequenceNumber: modify.sequenceNumber, phase: 'sync', sourceKey: { pk: 'PRODUCT#0000003', sk: 'CHANNEL#US' } });
    expect(dl.image).toMatchObject({ title: 'Electric Horizon (Deluxe)' });
    expect(w.io.withCode(DATA_IO.SYNC_W5101.code)).toHaveLength(1);
  });

  it('applies a shared change made on every channel once the channels agree', async () => {
    // GIVEN a product synced in three channels
    const w = await world();
    await syncedProduct(w, '0000004');

    // WHEN every channel takes the new title, and the three MODIFYs are applied together
    const title = 'Silent Machine';
    const mods = [];
    for (const ch of ['US', 'GB', 'EU'] as const) mods.push(await w.source.put(channel('0000004', ch, { title })));
    const r = await w.applier().applyBatch(mods);

    // THEN the product item has the new title, without a dead letter
    expect(r).toMatchObject({ applied: 3, deadLetters: 0 });
    expect((await w.targetItems())['PRODUCT#0000004|PRODUCT'].title).toBe(title);
  });

  it('applies a stale record whose product has moved on since (a later transaction still ahead in the stream)', async () => {
    // GIVEN a product synced in three channels
    const w = await world();
    await syncedProduct(w, '0000014');

    // WHEN two transactions retitle every channel (A, then B) and the applier meets the records of
    // the first one alone, one per batch, while the table already holds B everywhere
    const modsA = [];
    for (const ch of ['US', 'GB', 'EU'] as const) modsA.push(await w.source.put(channel('0000014', ch, { title: 'A' })));
    const modsB = [];
    for (const ch of ['US', 'GB', 'EU'] as const) modsB.push(await w.source.put(channel('0000014', ch, { title: 'B' })));
    const first = await w.applier().applyBatch([modsA[0]]);

    // THEN it is no conflict: the sources agree now, on B, which is written at once
    expect(first).toMatchObject({ applied: 1, deadLetters: 0 });
    expect((await w.targetItems())['PRODUCT#0000014|PRODUCT'].title).toBe('B');
    // AND the rest of the stream converges on the same content without a dead letter
    for (const mod of [...modsA.slice(1), ...modsB]) expect(await w.applier().applyBatch([mod])).toMatchObject({ applied: 1, deadLetters: 0 });
    expect((await w.targetItems())['PRODUCT#0000014|PRODUCT'].title).toBe('B');
    expect(await w.deadLetters.list()).toEqual([]);
  });

  it("does not dead-letter a product read while the app's transaction is half visible: a conflict must outlast a re-read", async () => {
    // GIVEN a product synced in three channels, and a transaction retitling all three of which the
    // source shows US and EU done and GB not yet (Query is read-committed: it can see that)
    const w = await world();
    await syncedProduct(w, '0000015');
    const us = await w.source.put(channel('0000015', 'US', { title: 'Half Seen' }));
    await w.source.put(channel('0000015', 'EU', { title: 'Half Seen' }));
    // the applier's client finishes the transaction (GB) right after its first read of the partition
    const client = documentClient();
    let finished = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (!finished && context.commandName === 'QueryCommand') {
          finished = true;
          await w.source.put(channel('0000015', 'GB', { title: 'Half Seen' }));
        }
        return out;
      },
      { step: 'initialize', name: 'finishTransactionAfterFirstQuery' },
    );
    const applier = new ChangeApplier({ ioHost: w.io, client, sourceTable: w.source.table, targetTable: w.target, keyNames: PRODUCT_KEYS, chain: up, deadLetters: w.deadLetters, origin: 'sync' });

    // WHEN the US record is applied
    const r = await applier.applyBatch([us]);

    // THEN the first read saw GB disagree, and a re-read saw the transaction whole: no dead letter
    expect(finished).toBe(true);
    expect(r).toMatchObject({ applied: 1, deadLetters: 0 });
    expect((await w.targetItems())['PRODUCT#0000015|PRODUCT'].title).toBe('Half Seen');
    expect(await w.deadLetters.list()).toEqual([]);
  });

  it('on REMOVE of one channel deletes its listing and keeps the product the other channels still produce', async () => {
    // GIVEN a product synced in three channels, the product item recorded under the US copy
    const w = await world();
    await syncedProduct(w, '0000005', ['GB', 'EU']);
    await syncedProduct(w, '0000005', ['US']);
    const usKey = stableJson({ pk: 'PRODUCT#0000005', sk: 'CHANNEL#US' });
    expect((await w.rawTargetItems())['PRODUCT#0000005|PRODUCT'][META.source]).toBe(usKey);

    // WHEN the US copy is removed
    const remove = await w.source.remove({ pk: 'PRODUCT#0000005', sk: 'CHANNEL#US' });
    const r = await w.applier().applyBatch([remove]);

    // THEN the US listing is gone; the product stays, now recorded under a remaining channel
    expect(r).toMatchObject({ applied: 1, deletes: 1, deadLetters: 0 });
    const after = await w.rawTargetItems();
    expect(Object.keys(after).sort()).toEqual(['PRODUCT#0000005|LISTING#EU', 'PRODUCT#0000005|LISTING#GB', 'PRODUCT#0000005|PRODUCT']);
    expect(withoutMeta(after['PRODUCT#0000005|PRODUCT'])).toEqual(migrated(channel('0000005', 'GB'))['PRODUCT#0000005|PRODUCT']);
    expect(after['PRODUCT#0000005|PRODUCT'][META.source]).not.toBe(usKey);
  });

  it('on REMOVE of a channel keeps the product another remaining channel is recorded for, reading only that channel', async () => {
    // GIVEN a product synced in three channels, the product item recorded under the US copy
    const w = await world();
    await syncedProduct(w, '0000015', ['GB', 'EU']);
    await syncedProduct(w, '0000015', ['US']);
    const before = await w.rawTargetItems();

    // WHEN the GB copy is removed, through an applier whose calls are counted
    const remove = await w.source.remove({ pk: 'PRODUCT#0000015', sk: 'CHANNEL#GB' });
    const { doc: counted, calls } = countingClient();
    const applier = new ChangeApplier({ ioHost: w.io, client: counted, sourceTable: w.source.table, targetTable: w.target, keyNames: PRODUCT_KEYS, chain: up, deadLetters: w.deadLetters, origin: 'sync' });
    const r = await applier.applyBatch([remove]);

    // THEN the GB listing is gone, the product is untouched, and no source partition was queried
    expect(r).toMatchObject({ applied: 1, deletes: 1, puts: 0, deadLetters: 0 });
    const after = await w.rawTargetItems();
    expect(after['PRODUCT#0000015|PRODUCT']).toEqual(before['PRODUCT#0000015|PRODUCT']);
    expect(after['PRODUCT#0000015|LISTING#GB']).toBeUndefined();
    expect(calls.QueryCommand ?? 0).toBe(0);
  });

  it('on REMOVE of the last channels deletes the product too', async () => {
    // GIVEN a product synced in two channels
    const w = await world();
    await syncedProduct(w, '0000006', ['US', 'GB']);
    await syncedProduct(w, '0000007', ['US']);

    // WHEN both channels of product 6 are removed, in one batch
    const removes = [await w.source.remove({ pk: 'PRODUCT#0000006', sk: 'CHANNEL#US' }), await w.source.remove({ pk: 'PRODUCT#0000006', sk: 'CHANNEL#GB' })];
    const r = await w.applier().applyBatch(removes);

    // THEN nothing of product 6 is left, and product 7 is untouched
    expect(r).toMatchObject({ applied: 2, deadLetters: 0 });
    expect(r.deletes).toBeGreaterThanOrEqual(3);
    expect(Object.keys(await w.targetItems()).sort()).toEqual(['PRODUCT#0000007|LISTING#US', 'PRODUCT#0000007|PRODUCT']);
  });

  it('deletes a whole product (a price change, then every channel removed) in one batch without racing for the product item', async () => {
    // GIVEN a product synced in three channels
    const w = await world();
    await syncedProduct(w, '0000008');

    // WHEN one batch holds a price change of US and the removal of all three channels
    const batch = [
      await w.source.put({ ...channel('0000008', 'US'), price: 4242 }),
      await w.source.remove({ pk: 'PRODUCT#0000008', sk: 'CHANNEL#US' }),
      await w.source.remove({ pk: 'PRODUCT#0000008', sk: 'CHANNEL#GB' }),
      await w.source.remove({ pk: 'PRODUCT#0000008', sk: 'CHANNEL#EU' }),
    ];
    const r = await w.applier().applyBatch(batch);

    // THEN every record applied, none dead-lettered, and nothing of the product is left
    expect(r).toMatchObject({ applied: 4, deadLetters: 0 });
    expect(Object.keys(await w.targetItems())).toEqual([]);
  });

  it('applies INSERT, MODIFY, REMOVE, INSERT of one key in order: the target ends as the last image', async () => {
    // GIVEN the four changes of one key (the product has no other channel)
    const w = await world();
    const batch = [
      await w.source.put(channel('0000008', 'EU', { price: 100 })),
      await w.source.put(channel('0000008', 'EU', { price: 200, title: 'Hollow Signal' })),
      await w.source.remove({ pk: 'PRODUCT#0000008', sk: 'CHANNEL#EU' }),
    ];
    const last = channel('0000008', 'EU', { price: 300, title: 'Golden Tide' });
    batch.push(await w.source.put(last));

    // WHEN they are applied as one batch
    const r = await w.applier().applyBatch(batch);

    // THEN the target is exactly what the last image migrates to
    expect(r).toMatchObject({ applied: 4, deadLetters: 0 });
    expect(await w.targetItems()).toEqual(migrated(last));
  });

  it('keeps the order of each key across batches applied at once (read-ahead)', async () => {
    // GIVEN three batches in stream order over one key (and another product's key)
    const w = await world();
    const key = { pk: 'PRODUCT#0000021', sk: 'CHANNEL#US' };
    const first = [await w.source.put(channel('0000021', 'US', { price: 1 })), await w.source.put(channel('0000022', 'GB')), await w.source.put(channel('0000021', 'US', { price: 2 }))];
    const second = [await w.source.put(channel('0000021', 'US', { price: 3 })), await w.source.remove(key)];
    const last = channel('0000021', 'US', { price: 4 });
    const third = [await w.source.put(last)];

    // WHEN one applier is given all three without waiting
    const applier = w.applier();
    const results = await Promise.all([applier.applyBatch(first), applier.applyBatch(second), applier.applyBatch(third)]);

    // THEN the key ends as its last image, as if the batches were applied one after the other
    expect(results.map((r) => r.applied)).toEqual([3, 2, 1]);
    expect(await w.targetItems()).toEqual(migrated(last, channel('0000022', 'GB')));
  });

  it('gives the same target when a batch is applied twice (a re-delivery after a crash)', async () => {
    // GIVEN a batch over several keys: three INSERTs, a MODIFY, a REMOVE
    const w = await world();
    const batch = [];
    for (const ch of ['US', 'GB', 'EU'] as const) batch.push(await w.source.put(channel('0000009', ch)));
    batch.push(await w.source.put(channel('0000009', 'GB', { stock: 0, published: false })));
    batch.push(await w.source.remove({ pk: 'PRODUCT#0000009', sk: 'CHANNEL#EU' }));

    // WHEN it is applied, then applied again
    const first = await w.applier().applyBatch(batch);
    const once = await w.targetItems();
    const second = await w.applier().applyBatch(batch);

    // THEN the second run changed nothing, and the target is what the source migrates to
    expect(first).toMatchObject({ applied: 5, deadLetters: 0 });
    expect(second).toMatchObject({ applied: 5, deadLetters: 0 });
    expect(await w.targetItems()).toEqual(once);
    expect(once).toEqual(migrated(channel('0000009', 'US'), channel('0000009', 'GB', { stock: 0, published: false })));
  });

  it('dead-letters a poison new image with its sequence number and carries on with the batch', async () => {
    // GIVEN a valid INSERT and one whose item fails the v1 → v2 schema
    const w = await world();
    const good = await w.source.put(channel('0000010', 'US'));
    const poison = await w.source.put({ pk: 'PRODUCT#P0', sk: 'CHANNEL#US', title: 42 });

    // WHEN both are applied
    const r = await w.applier().applyBatch([poison, good]);

    // THEN the poison one is a dead letter, the good one is applied
    expect(r).toMatchObject({ applied: 1, deadLetters: 1 });
    const [dl] = await w.deadLetters.list();
    expect(dl).toMatchObject({ errorCode: 'SCHEMA_INVALID', sequenceNumber: poison.sequenceNumber, phase: 'sync', image: { pk: 'PRODUCT#P0', title: 42 } });
    expect(Object.keys(await w.targetItems()).sort()).toEqual(['PRODUCT#0000010|LISTING#US', 'PRODUCT#0000010|PRODUCT']);

    // AND a later REMOVE of that key waits behind it (the key's order is kept): a dead letter too,
    // counted on the key's one ledger record, which keeps the first failure; nothing deleted
    const remove = await w.source.remove({ pk: 'PRODUCT#P0', sk: 'CHANNEL#US' });
    const again = await w.applier().applyBatch([remove]);
    expect(again).toMatchObject({ applied: 0, deletes: 0, deadLetters: 1 });
    expect(await w.deadLetters.get(stableJson({ pk: 'PRODUCT#P0', sk: 'CHANNEL#US' }))).toMatchObject({ errorCode: 'SCHEMA_INVALID', sequenceNumber: poison.sequenceNumber, occurrences: 2 });
    expect(w.io.withCode(DATA_IO.SYNC_W5101.code).map((m) => (m.data as { code: string }).code)).toContain(KEY_HELD);

    // AND once the dead letter is gone (what redrive does after re-reading the source), the key applies again
    await w.deadLetters.remove(stableJson({ pk: 'PRODUCT#P0', sk: 'CHANNEL#US' }));
    const back = await w.source.put(channel('0000011', 'US', { pk: 'PRODUCT#P0' }));
    expect(await w.applier().applyBatch([back])).toMatchObject({ applied: 1, deadLetters: 0 });
  });

  it('dead-letters a record whose image did not decode, holds its key, and applies the other keys', async () => {
    // GIVEN a record marked undecodable by the reader and a good record of another key
    const w = await world();
    const good = await w.source.put(channel('0000012', 'US'));
    const bad = await w.source.put(channel('0000013', 'US'));
    const undecodable = { ...bad, newImage: undefined, undecodable: { error: 'stream record 42 of shard s: an image does not decode', image: { raw: '{}' } } };
    const later = await w.source.put(channel('0000013', 'US', { price: 1 }));

    // WHEN they are applied
    const r = await w.applier().applyBatch([undecodable, good, later]);

    // THEN the bad one and the later record of its key are dead letters; the good key is applied
    expect(r).toMatchObject({ applied: 1, deadLetters: 2 });
    expect(await w.deadLetters.get(stableJson({ pk: 'PRODUCT#0000013', sk: 'CHANNEL#US' }))).toMatchObject({ errorCode: IMAGE_UNDECODABLE, sequenceNumber: bad.sequenceNumber, occurrences: 2 });
    expect(Object.keys(await w.targetItems()).sort()).toEqual(['PRODUCT#0000012|LISTING#US', 'PRODUCT#0000012|PRODUCT']);
  });

  it('a REMOVE whose old image does not migrate cannot say what to delete: REMOVE_UNRESOLVED, nothing deleted', async () => {
    const w = await world();
    const poison = await w.source.put({ pk: 'PRODUCT#P1', sk: 'CHANNEL#US', title: 42 });
    const remove = await w.source.remove({ pk: 'PRODUCT#P1', sk: 'CHANNEL#US' });
    const r = await w.applier().applyBatch([{ ...remove, oldImage: poison.newImage }]);
    expect(r).toMatchObject({ applied: 0, deletes: 0, deadLetters: 1 });
    expect((await w.deadLetters.get(stableJson({ pk: 'PRODUCT#P1', sk: 'CHANNEL#US' })))?.errorCode).toBe(REMOVE_UNRESOLVED);
  });

  it('deletes the stale target of a key-changing MODIFY', async () => {
    // GIVEN a migration that files orders under their status: (pk, sk) → (pk, <status>#<sk>)
    const chain = new MigrationChain({ table: 'orders', fromVersion: 1, toVersion: 2, steps: [orderByStatus], keyNames: PRODUCT_KEYS });
    const w = await world({ chain });
    const open = { pk: 'ORDER#1', sk: '2030-01-01', status: 'OPEN' };
    await w.applier().applyBatch([await w.source.put(open)]);

    // WHEN the order is closed
    const r = await w.applier().applyBatch([await w.source.put({ ...open, status: 'CLOSED' })]);

    // THEN the item moved: the OPEN one is deleted, the CLOSED one written
    expect(r).toMatchObject({ applied: 1, puts: 1, deletes: 1 });
    expect(Object.keys(await w.targetItems())).toEqual(['ORDER#1|CLOSED#2030-01-01']);
  });

  it('moves a target away and back within one batch: the held puts keep their order against the deletes', async () => {
    // GIVEN the orders-by-status migration and an OPEN order in the target
    const chain = new MigrationChain({ table: 'orders', fromVersion: 1, toVersion: 2, steps: [orderByStatus], keyNames: PRODUCT_KEYS });
    const w = await world({ chain });
    const open = { pk: 'ORDER#2', sk: '2030-01-02', status: 'OPEN' };
    await w.applier().applyBatch([await w.source.put(open)]);

    // WHEN one batch closes it, reopens it, closes it and reopens it again
    const batch = [];
    for (const status of ['CLOSED', 'OPEN', 'CLOSED', 'OPEN']) batch.push(await w.source.put({ ...open, status }));
    const r = await w.applier().applyBatch(batch);

    // THEN the target holds the OPEN item only, as the records applied one by one would leave it
    expect(r).toMatchObject({ applied: 4, deadLetters: 0 });
    expect(await w.targetItems()).toEqual({ 'ORDER#2|OPEN#2030-01-02': { ...open, sk: 'OPEN#2030-01-02' } });
  });

  it("coalesces a batch's writes: 60 price changes of 60 products in a handful of calls", async () => {
    // GIVEN 60 products synced in the US channel
    const w = await world();
    const ids = Array.from({ length: 60 }, (_, i) => `00005${String(i).padStart(2, '0')}`);
    const inserts = [];
    for (const id of ids) inserts.push(await w.source.put(channel(id, 'US')));
    await w.applier().applyBatch(inserts);

    // WHEN one batch changes every price, through an applier whose calls are counted
    const mods = [];
    for (const id of ids) mods.push(await w.source.put(channel(id, 'US', { price: 4321 })));
    const { doc: counted, total } = countingClient();
    const applier = new ChangeApplier({ ioHost: w.io, client: counted, sourceTable: w.source.table, targetTable: w.target, keyNames: PRODUCT_KEYS, chain: up, deadLetters: w.deadLetters, origin: 'sync' });
    const r = await applier.applyBatch(mods);

    // THEN every listing has the new price, and the 120 writes (a shared product and a listing per
    // record) took a few transactions and batch writes instead of 120 round trips
    expect(r).toMatchObject({ applied: 60, puts: 120, deadLetters: 0 });
    const items = await w.targetItems();
    for (const id of ids) expect(items[`PRODUCT#${id}|LISTING#US`]?.price).toBe(4321);
    expect(total()).toBeLessThanOrEqual(12);
  });
});

describe('ChangeApplier with a version attribute (RULE 7: newer wins)', () => {
  /** What a client's write on the new stack leaves there: the migrated items, as the app writes them. */
  async function writtenOnTarget(w: World, item: Item): Promise<void> {
    for (const out of migrated(item) ? Object.values(migrated(item)) : []) await doc.send(new PutCommand({ TableName: w.target, Item: out }));
  }

  it('does not apply a change older than what the target holds: a client wrote rev 5 on the old stack, then rev 6 on the new one', async () => {
    // GIVEN a product synced at rev 4, then written at rev 5 on the source (its record not applied yet)
    const w = await world({ versionAttribute: 'rev' });
    const v4 = channel('0000301', 'US', { rev: 4 });
    await w.applier().applyBatch([await w.source.put(v4)]);
    const late = await w.source.put(channel('0000301', 'US', { rev: 5, price: 555 }));
    // AND the client, moved to the target's stack, wrote rev 6 there
    const v6 = channel('0000301', 'US', { rev: 6, price: 666 });
    await writtenOnTarget(w, v6);

    // WHEN the late record arrives
    const r = await w.applier().applyBatch([late]);

    // THEN it is superseded: the target keeps the client's later write
    expect(r).toMatchObject({ applied: 0, superseded: 1, puts: 0 });
    expect((await w.targetItems())['PRODUCT#0000301|LISTING#US']).toMatchObject({ rev: 6, price: 666 });
  });

  it('applies newer and equal versions (a re-delivery), and judges no item without a version', async () => {
    const w = await world({ versionAttribute: 'rev' });
    const v1 = await w.source.put(channel('0000302', 'US', { rev: 1 }));
    const v2 = await w.source.put(channel('0000302', 'US', { rev: 2, price: 222 }));
    expect(await w.applier().applyBatch([v1, v2])).toMatchObject({ applied: 2, superseded: 0 });
    expect(await w.applier().applyBatch([v2])).toMatchObject({ applied: 1, superseded: 0 });
    expect((await w.targetItems())['PRODUCT#0000302|LISTING#US']).toMatchObject({ rev: 2, price: 222 });
    // an item without rev over a target with one: not judged, applied
    const bare = await w.source.put(channel('0000302', 'US', { price: 1 }));
    expect(await w.applier().applyBatch([bare])).toMatchObject({ applied: 1, superseded: 0 });
  });

  it('does not apply a delete of a version older than what the target holds', async () => {
    // GIVEN a product synced at rev 3 and deleted on the source (its REMOVE not applied yet)
    const w = await world({ versionAttribute: 'rev' });
    await w.applier().applyBatch([await w.source.put(channel('0000303', 'US', { rev: 3 }))]);
    const removal = await w.source.remove({ pk: 'PRODUCT#0000303', sk: 'CHANNEL#US' });
    // AND rewritten at rev 4 on the target's stack meanwhile
    await writtenOnTarget(w, channel('0000303', 'US', { rev: 4, price: 444 }));

    // WHEN the REMOVE arrives, THEN it is superseded and the rewrite stays
    expect(await w.applier().applyBatch([removal])).toMatchObject({ superseded: 1, deletes: 0 });
    expect((await w.targetItems())['PRODUCT#0000303|LISTING#US']).toMatchObject({ rev: 4, price: 444 });
  });

  it('without a version attribute, the late change overwrites the later write (the hazard RULE 7 closes)', async () => {
    const w = await world();
    await w.applier().applyBatch([await w.source.put(channel('0000304', 'US', { rev: 4 }))]);
    const late = await w.source.put(channel('0000304', 'US', { rev: 5, price: 555 }));
    await writtenOnTarget(w, channel('0000304', 'US', { rev: 6, price: 666 }));
    expect(await w.applier().applyBatch([late])).toMatchObject({ applied: 1, superseded: 0 });
    expect((await w.targetItems())['PRODUCT#0000304|LISTING#US']).toMatchObject({ rev: 5, price: 555 });
  });
});

describe('echo suppression', () => {
  it('skips a record of a reverse-sync write in the forward sync, and applies a user UpdateItem of that item', async () => {
    // GIVEN a channel item the reverse sync wrote into the old table (token reverse:…)
    const w = await world();
    const written: Item = { ...channel('0000011', 'US'), [META.origin]: 'reverse', [META.write]: 'reverse:000000000000000000777' };
    const echo: ChangeRecord = { eventName: 'INSERT', sequenceNumber: nextSequence(), approximateCreationMs: Date.now(), keys: { pk: written.pk, sk: written.sk }, newImage: written };

    // WHEN the forward sync gets its INSERT record
    const skipped = await w.applier('sync').applyBatch([echo]);

    // THEN it is skipped: nothing written
    expect(skipped).toMatchObject({ applied: 0, echoesSkipped: 1, puts: 0 });
    expect(await w.targetItems()).toEqual({});

    // WHEN a user then updates the item's price with UpdateItem (the token stays as it was)
    const updated = { ...written, price: 1234 };
    const user: ChangeRecord = { eventName: 'MODIFY', sequenceNumber: nextSequence(), approximateCreationMs: Date.now(), keys: echo.keys, newImage: updated, oldImage: written };
    const applied = await w.applier('sync').applyBatch([user]);

    // THEN that is a user change, applied
    expect(applied).toMatchObject({ applied: 1, echoesSkipped: 0 });
    expect((await w.targetItems())['PRODUCT#0000011|LISTING#US'].price).toBe(1234);
  });

  it('recognises the records of its own puts, stamps and deletes in the target stream as echoes, and user writes as not', async () => {
    // GIVEN a target table with a stream, and a product synced in two channels, then one removed
    const w = await world({ targetStream: true });
    await syncedProduct(w, '0000012', ['US', 'GB']);
    const remove = await w.source.remove({ pk: 'PRODUCT#0000012', sk: 'CHANNEL#US' });
    expect(await w.applier('sync').applyBatch([remove])).toMatchObject({ deletes: 1 });

    // WHEN users write the target directly: an UpdateItem on the GB listing, a PutItem of the product
    await doc.send(
      new UpdateCommand({ TableName: w.target, Key: { pk: 'PRODUCT#0000012', sk: 'LISTING#GB' }, UpdateExpression: 'SET price = :p', ExpressionAttributeValues: { ':p': 777 } }),
    );
    const product = (await doc.send(new GetCommand({ TableName: w.target, Key: { pk: 'PRODUCT#0000012', sk: 'PRODUCT' } }))).Item!;
    await doc.send(new PutCommand({ TableName: w.target, Item: { ...withoutMeta(product), description: 'by hand' } }));

    // THEN the stream holds: the sync's INSERTs, the stamp (MODIFY) and REMOVE of the US listing,
    // then the two user writes; only the sync's are echoes, and only to the reverse direction
    const records = await readStream(w.target);
    const kinds = records.map((r) => `${r.eventName} ${String(r.keys.sk)}`);
    expect(kinds).toEqual(expect.arrayContaining(['MODIFY LISTING#US', 'REMOVE LISTING#US', 'MODIFY LISTING#GB']));
    const userRecords = records.slice(-2);
    const syncRecords = records.slice(0, -2);
    expect(userRecords.map((r) => `${r.eventName} ${String(r.keys.sk)}`)).toEqual(['MODIFY LISTING#GB', 'MODIFY PRODUCT']);
    const removed = records.find((r) => r.eventName === 'REMOVE')!;
    expect(removed.oldImage?.[META.deleting]).toBe(`sync:${w.source.table}:${remove.sequenceNumber}`);
    expect(syncRecords.map((r) => isEcho(r, 'reverse', w.source.table))).toEqual(syncRecords.map(() => true));
    expect(syncRecords.map((r) => isEcho(r, 'sync', w.source.table))).toEqual(syncRecords.map(() => false));
    expect(userRecords.map((r) => isEcho(r, 'reverse', w.source.table))).toEqual([false, false]);
    // A reverse sync from this table to a release other than the one that wrote them: not echoes
    expect(syncRecords.map((r) => isEcho(r, 'reverse', 'another-table'))).toEqual(syncRecords.map(() => false));

    // AND a reverse applier given the whole stream skips the echoes and applies the user's price change
    const reverse = new ChangeApplier({
      ioHost: w.io,
      client: doc,
      sourceTable: w.target,
      targetTable: w.source.table,
      keyNames: PRODUCT_KEYS,
      chain: down,
      deadLetters: w.deadLetters,
      origin: 'reverse',
    });
    const r: ApplyBatchResult = await reverse.applyBatch(records);
    expect(r).toMatchObject({ echoesSkipped: syncRecords.length, applied: 2, deadLetters: 0 });
    const gb = (await doc.send(new GetCommand({ TableName: w.source.table, Key: { pk: 'PRODUCT#0000012', sk: 'CHANNEL#GB' }, ConsistentRead: true }))).Item!;
    expect(gb).toMatchObject({ price: 777, description: 'by hand', [META.write]: expect.stringMatching(/^reverse:/) });
    // The US channel item stays deleted: the stamp's MODIFY was not written back.
    expect((await doc.send(new GetCommand({ TableName: w.source.table, Key: { pk: 'PRODUCT#0000012', sk: 'CHANNEL#US' }, ConsistentRead: true }))).Item).toBeUndefined();
  });

  it('isEcho: new tokens of the other direction from our own target are echoes; unchanged, dropped, own or third-table tokens are not', () => {
    const base = { pk: 'a', sk: 'b' };
    const rec = (eventName: ChangeRecord['eventName'], newImage?: Item, oldImage?: Item) => ({ eventName, newImage, oldImage });
    // A reverse sync T → S (reading T, writing S) meets tokens of the forward sync S → T.
    const echo = (r: ReturnType<typeof rec>) => isEcho(r, 'reverse', 'S');
    expect(echo(rec('INSERT', { ...base, [META.write]: 'sync:S:1' }))).toBe(true);
    expect(isEcho(rec('INSERT', { ...base, [META.write]: 'sync:S:1' }), 'sync', 'S')).toBe(false);
    expect(echo(rec('MODIFY', { ...base, [META.write]: 'sync:S:2' }, { ...base, [META.write]: 'sync:S:1' }))).toBe(true);
    expect(echo(rec('MODIFY', { ...base, x: 1, [META.write]: 'sync:S:1' }, { ...base, [META.write]: 'sync:S:1' }))).toBe(false);
    expect(echo(rec('MODIFY', { ...base, x: 1 }, { ...base, [META.write]: 'sync:S:1' }))).toBe(false);
    expect(echo(rec('MODIFY', { ...base, [META.write]: 'sync:S:1', [META.deleting]: 'sync:S:3' }, { ...base, [META.write]: 'sync:S:1' }))).toBe(true);
    expect(echo(rec('REMOVE', undefined, { ...base, [META.deleting]: 'sync:S:3' }))).toBe(true);
    expect(echo(rec('REMOVE', undefined, { ...base, [META.write]: 'sync:S:1' }))).toBe(false);
    // Written by a sync from a third table (v2 → v1 while v1 → fix reads v1): applied, not skipped.
    expect(isEcho(rec('INSERT', { ...base, [META.write]: 'reverse:V2:1' }), 'sync', 'FIX')).toBe(false);
    expect(isEcho(rec('REMOVE', undefined, { ...base, [META.deleting]: 'reverse:V2:3' }), 'sync', 'FIX')).toBe(false);
    expect(isEcho(rec('INSERT', { ...base, [META.write]: 'reverse:FIX:1' }), 'sync', 'FIX')).toBe(true);
    // Tokens written before they named their table are judged by direction, as then.
    expect(echo(rec('INSERT', { ...base, [META.write]: 'sync:1' }))).toBe(true);
    expect(isEcho(rec('INSERT', { ...base, [META.write]: 'sync:1' }), 'sync', 'S')).toBe(false);
  });
});

/** Every record of a table's stream so far, as ChangeRecords (DynamoDB Local: one open shard per fresh table). */
async function readStream(table: string): Promise<ChangeRecord[]> {
  const arn = (await new DynamoDBClient({}).send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
  const streams = new DynamoDBStreamsClient({});
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards ?? [];
  const out: ChangeRecord[] = [];
  for (const shard of shards) {
    let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      out.push(...(page.Records ?? []).map(toChangeRecord));
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out.sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
}

function toChangeRecord(r: _Record): ChangeRecord {
  const d = r.dynamodb!;
  const image = (i: typeof d.NewImage) => (i ? unmarshall(i as Parameters<typeof unmarshall>[0]) : undefined);
  return {
    eventName: r.eventName as ChangeRecord['eventName'],
    sequenceNumber: d.SequenceNumber!,
    approximateCreationMs: d.ApproximateCreationDateTime?.getTime() ?? Date.now(),
    keys: image(d.Keys)!,
    newImage: image(d.NewImage),
    oldImage: image(d.OldImage),
  };
}
