/**
 * The round trip of a release (DESIGN.md, Data, point 8): after the promote, the new release's
 * writes flow back to the old table through `down` (reverse sync) while the old table's writes
 * still flow forward, and neither direction re-applies the other's writes (no ping-pong).
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import { keyString, META, withoutMeta, type Item } from '../../../lib/item/item';
import { TableSync, type TableSyncResult } from '../../../lib/data/stream/table-sync';
import { verifyCopy } from '../../../lib/data/verify/verify-copy';
import { RecordingIoHost } from '../../../lib/io';
import { createLedgerClient, createLedgerTable, DeadLetters, Ledger } from '../../../lib/ledger';
import { generateV1Products, productId } from '../../../examples/catalog/data';
import { registry } from '../../_helpers/catalog';
import { createTable, documentClient, PRODUCT_KEYS, putAll, scanAll, uniqueName } from '../../_helpers/tables';

const up = registry.chain('products', 1, 2, { keyNames: PRODUCT_KEYS });
const down = registry.chain('products', 2, 1, { keyNames: PRODUCT_KEYS });
const ledgerName = uniqueName('ledger');
const doc = documentClient();
let ledger: Ledger;

beforeAll(async () => {
  await createLedgerTable(createLedgerClient(), ledgerName);
  ledger = new Ledger({ tableName: ledgerName });
});

interface Release {
  readonly prod: string;
  readonly release: string;
  readonly jobId: string;
  readonly io: RecordingIoHost;
  forward(): Promise<TableSyncResult>;
  reverse(): Promise<TableSyncResult>;
}

/** GIVEN: a v1 prod table with `products` products, copied to a v2 release table, forward sync caught up. */
async function copiedRelease(products: number): Promise<Release> {
  const prod = uniqueName('prod');
  const release = uniqueName('rel');
  const jobId = uniqueName('job');
  const io = new RecordingIoHost();
  // Both tables with a stream, created before anything is written (DynamoDB Local slows down on a
  // stream table created after another stream holds many records).
  await createTable(prod, PRODUCT_KEYS, { stream: true });
  await createTable(release, PRODUCT_KEYS, { stream: true });
  await putAll(prod, generateV1Products({ products }));
  await new CopyJob({ ioHost: io, jobId, sourceTable: prod, targetTable: release, keyNames: PRODUCT_KEYS, chain: up, ledger, totalSegments: 2 }).run();
  const common = { ioHost: io, ledger, keyNames: PRODUCT_KEYS, pollIntervalMs: 50 };
  const forward = () =>
    new TableSync({ ...common, syncId: `${jobId}#forward`, sourceTable: prod, targetTable: release, chain: up, origin: 'sync', copyJobId: jobId }).run({ stopWhenCaughtUp: true });
  // The promote: the reverse sync has its own checkpoints, no copy, and the down chain.
  const reverse = () =>
    new TableSync({ ...common, syncId: `${jobId}#reverse`, sourceTable: release, targetTable: prod, chain: down, origin: 'reverse' }).run({ stopWhenCaughtUp: true });
  const first = await forward();
  expect(first.deadLetters).toBe(0);
  return { prod, release, jobId, io, forward, reverse };
}

const get = async (table: string, pk: string, sk: string): Promise<Item | undefined> =>
  (await doc.send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true }))).Item;

const verify = (r: Release) =>
  verifyCopy({ ioHost: r.io, sourceTable: r.prod, targetTable: r.release, keyNames: PRODUCT_KEYS, chain: up, deadLetters: new DeadLetters(ledger, r.jobId) });

const writes = (s: TableSyncResult) => s.puts + s.deletes;

describe('reverse sync after a promote (release → prod through down)', () => {
  it('new-table writes reach the old table migrated down, old-table writes still go forward, no ping-pong, verify = 0', async () => {
    // GIVEN a finished copy of 50 products and a forward sync caught up
    const r = await copiedRelease(50);
    const [p0, p2] = [0, 2].map((n) => `PRODUCT#${productId(n)}`);

    // WHEN the release is promoted: the reverse sync starts (it replays the release's stream, the
    // copy's writes included: down(up(x)) = x, so the old table keeps its content) and the forward
    // sync skips the echoes of those writes
    const promoted = await r.reverse();
    expect(promoted.deadLetters).toBe(0);
    const settle = await r.forward();
    expect(writes(settle)).toBe(0);
    // The listing withdrawn below: any channel copy of another product. The promote wrote nothing
    // to prod (the copy's records are echoes of the forward direction), so its v1 copy records no
    // source and the reverse sync may delete it.
    const ownCopy = (await scanAll(r.prod)).find((i) => i.pk !== p0 && i.pk !== p2);
    expect(ownCopy).toBeDefined();
    expect(ownCopy![META.source]).toBeUndefined();
    const p1 = ownCopy!.pk as string;
    const withdrawn = String(ownCopy!.sk).replace('CHANNEL#', 'LISTING#');

    // AND (a) the new release writes: a listing's price, a new product with 3 listings, a listing withdrawn
    await doc.send(new UpdateCommand({ TableName: r.release, Key: { pk: p0, sk: 'LISTING#US' }, UpdateExpression: 'SET price = :p', ExpressionAttributeValues: { ':p': 4242 } }));
    const newPk = 'PRODUCT#new-1';
    const newProduct = { pk: newPk, sk: 'PRODUCT', title: 'New Title', artist: 'New Artist', format: 'LP', releaseYear: 2026, description: 'made on v2' };
    await doc.send(new PutCommand({ TableName: r.release, Item: newProduct }));
    for (const [channel, currency] of [['US', 'USD'], ['GB', 'GBP'], ['EU', 'EUR']] as const) {
      await doc.send(new PutCommand({ TableName: r.release, Item: { pk: newPk, sk: `LISTING#${channel}`, channel, sku: `NEW-${channel}`, price: 1999, currency, stock: 5, published: true } }));
    }
    await doc.send(new DeleteCommand({ TableName: r.release, Key: { pk: p1, sk: withdrawn } }));
    const ra = await r.reverse();

    // THEN they are on the old table as v1 items
    expect(ra).toMatchObject({ deadLetters: 0 });
    expect(await get(r.prod, p0, 'CHANNEL#US')).toMatchObject({ price: 4242 });
    expect(await get(r.prod, p1, ownCopy!.sk as string)).toBeUndefined();
    for (const channel of ['US', 'GB', 'EU']) {
      const v1 = await get(r.prod, newPk, `CHANNEL#${channel}`);
      expect(v1 && withoutMeta(v1)).toEqual({
        pk: newPk,
        sk: `CHANNEL#${channel}`,
        sku: `NEW-${channel}`,
        price: 1999,
        currency: { US: 'USD', GB: 'GBP', EU: 'EUR' }[channel],
        stock: 5,
        published: true,
        title: 'New Title',
        artist: 'New Artist',
        format: 'LP',
        releaseYear: 2026,
        description: 'made on v2',
      });
    }
    // AND the forward sync sees those old-table writes as echoes and writes nothing back
    const fa = await r.forward();
    expect(fa.echoesSkipped).toBeGreaterThan(0);
    expect(writes(fa)).toBe(0);

    // WHEN (b) the old release (still live for some clients) writes a price
    await doc.send(new UpdateCommand({ TableName: r.prod, Key: { pk: p2, sk: 'CHANNEL#EU' }, UpdateExpression: 'SET price = :p', ExpressionAttributeValues: { ':p': 777 } }));
    const fb = await r.forward();
    // THEN it reaches the new table through the forward sync
    expect(fb.deadLetters).toBe(0);
    expect(await get(r.release, p2, 'LISTING#EU')).toMatchObject({ price: 777 });
    // AND the reverse sync skips its echo
    const rb = await r.reverse();
    expect(rb.echoesSkipped).toBeGreaterThan(0);
    expect(writes(rb)).toBe(0);

    // THEN (c) no ping-pong: both caught up twice in a row, a third round has no record at all
    for (let round = 0; round < 2; round++) {
      const [rr, ff] = [await r.reverse(), await r.forward()];
      expect(writes(rr) + writes(ff)).toBe(0);
    }
    const [r3, f3] = [await r.reverse(), await r.forward()];
    expect([r3.recordsApplied, f3.recordsApplied, writes(r3), writes(f3)]).toEqual([0, 0, 0, 0]);
    expect(await new DeadLetters(ledger, `${r.jobId}#reverse`).count()).toBe(0);

    // AND the old table, migrated up, equals the new one
    const v = await verify(r);
    expect(v, JSON.stringify(v.samples)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 180_000);

  // The v1 copies of a product are produced by TWO v2 items each (the PRODUCT item and the listing),
  // but the reverse sync records one source per written item (META.source, the last writer) and
  // ChangeTargets.dropUnique deletes only when that recorded source is the record's own key. These
  // helpers make the recorded source deterministic: after `fromProduct` every copy records the
  // PRODUCT item; after `fromListings` every copy records its listing.
  const fromProduct = async (r: Release, pk: string) => {
    await doc.send(new UpdateCommand({ TableName: r.release, Key: { pk, sk: 'PRODUCT' }, UpdateExpression: 'SET title = :t', ExpressionAttributeValues: { ':t': 'Retitled on v2' } }));
    await r.reverse();
    await r.forward();
    const copies = (await scanAll(r.prod)).filter((i) => i.pk === pk);
    expect(copies.map((c) => [c.title, c[META.source]])).toEqual(copies.map(() => ['Retitled on v2', keyString({ pk, sk: 'PRODUCT' }, PRODUCT_KEYS)]));
  };
  const fromListings = async (r: Release, pk: string) => {
    for (const channel of ['US', 'GB', 'EU']) {
      await doc.send(new UpdateCommand({ TableName: r.release, Key: { pk, sk: `LISTING#${channel}` }, UpdateExpression: 'SET stock = :s', ExpressionAttributeValues: { ':s': 99 } }));
    }
    await r.reverse();
    await r.forward();
    const copies = (await scanAll(r.prod)).filter((i) => i.pk === pk);
    expect(copies.map((c) => c[META.source]).sort()).toEqual(['EU', 'GB', 'US'].map((c) => keyString({ pk, sk: `LISTING#${c}` }, PRODUCT_KEYS)).sort());
  };
  const promoted = async (products: number) => {
    const r = await copiedRelease(products);
    await r.reverse();
    await r.forward();
    return r;
  };
  const copiesOf = async (table: string, pk: string) => (await scanAll(table)).filter((i) => i.pk === pk).map((i) => i.sk as string).sort();

  it('REMOVE of a v2 product item whose listings stay (copies last written from it): the old table loses every channel copy', async () => {
    // GIVEN a promoted release whose v1 copies of one product were last written from its PRODUCT item
    const r = await promoted(5);
    const pk = `PRODUCT#${productId(3)}`;
    await fromProduct(r, pk);

    // WHEN the new release deletes only the shared PRODUCT item (its 3 listings stay)
    await doc.send(new DeleteCommand({ TableName: r.release, Key: { pk, sk: 'PRODUCT' } }));
    const rr = await r.reverse();
    await r.forward();

    // THEN down(old product image) reads the listings still there and yields the 3 v1 copies, which
    // are deleted: v1 cannot hold a listing without the product's shared fields, and keeping the
    // copies would show on the old release a product the new one deleted. The new table keeps 3
    // listings that no v1 item produces: verify reports them as orphaned (3 differences), and any
    // later write to one of them is a dead letter on the reverse sync (down finds no product).
    expect(rr).toMatchObject({ deadLetters: 0, deletes: 3 });
    expect(await copiesOf(r.prod, pk)).toEqual([]);
    expect(await copiesOf(r.release, pk)).toEqual(['LISTING#EU', 'LISTING#GB', 'LISTING#US']);
    expect(await verify(r)).toMatchObject({ orphaned: 3, differences: 3 });
  }, 120_000);

  // Under the down chain a v1 copy has two producers (its listing and the product item) and records
  // only the last one. A delete refused by that record is retried against the recorded producer:
  // here the listings no longer produce a v1 item (down needs the product), so the copies go.
  it('REMOVE of a v2 product item whose copies were last written from their listings deletes the copies', async () => {
    const r = await promoted(5);
    const pk = `PRODUCT#${productId(3)}`;
    await fromListings(r, pk);
    await doc.send(new DeleteCommand({ TableName: r.release, Key: { pk, sk: 'PRODUCT' } }));
    const rr = await r.reverse();
    expect(rr.deadLetters).toBe(0);
    expect(await copiesOf(r.prod, pk)).toEqual([]);
  }, 120_000);

  // Same rule, other producer: after a title change on v2 the copies were last written from the
  // PRODUCT item, which no longer produces the withdrawn channel: its copy goes (no comeback on a rollback).
  it('a listing withdrawn on v2 after a product title change is withdrawn on the old table', async () => {
    const r = await promoted(5);
    const pk = `PRODUCT#${productId(2)}`;
    await fromProduct(r, pk);
    await doc.send(new DeleteCommand({ TableName: r.release, Key: { pk, sk: 'LISTING#GB' } }));
    const rr = await r.reverse();
    expect(rr.deadLetters).toBe(0);
    expect(await copiesOf(r.prod, pk)).toEqual(['CHANNEL#EU', 'CHANNEL#US']);
  }, 120_000);

  // The v2 app deletes a whole product (PRODUCT item and its 3 listings) before the reverse sync
  // applies those REMOVEs: down reads the newer table's current state, where they are gone, so the
  // old images are migrated with reads that fall back to the images of removed items.
  it('a whole product deleted on v2 (product + listings) is deleted on the old table', async () => {
    const r = await promoted(5);
    const pk = `PRODUCT#${productId(1)}`;
    for (const sk of ['PRODUCT', 'LISTING#US', 'LISTING#GB', 'LISTING#EU']) await doc.send(new DeleteCommand({ TableName: r.release, Key: { pk, sk } }));
    const rr = await r.reverse();
    expect(await copiesOf(r.prod, pk)).toEqual([]);
    expect(rr.deadLetters, JSON.stringify((await new DeadLetters(ledger, `${r.jobId}#reverse`).list()).map((d) => [d.errorCode, d.error]))).toBe(0);
  }, 120_000);

  // The reverse sync starts at the release stream's trim horizon, so it replays the copy's INSERTs:
  // they are echoes of the forward direction (echo.ts), or the copy's INSERT of the listing (old
  // price) would be applied back over the newer price the forward sync brought.
  it('an old-table write made before the promote survives the start of the reverse sync', async () => {
    const r = await copiedRelease(5);
    const pk = `PRODUCT#${productId(4)}`;
    await doc.send(new UpdateCommand({ TableName: r.prod, Key: { pk, sk: 'CHANNEL#US' }, UpdateExpression: 'SET price = :p', ExpressionAttributeValues: { ':p': 31337 } }));
    await r.forward();
    expect(await get(r.release, pk, 'LISTING#US')).toMatchObject({ price: 31337 });
    await r.reverse(); // the promote
    expect(await get(r.prod, pk, 'CHANNEL#US')).toMatchObject({ price: 31337 });
  }, 120_000);
});
