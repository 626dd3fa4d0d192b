import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { conflictingProduct, generateV1Products } from '../../examples/catalog/data';
import { META, stableJson, type Item, type KeyNames } from '../../lib/item/item';
import { itemSizeBytes } from '../../lib/item/item-size';
import { MIGRATION_THREW, SCHEMA_INVALID, isMigrationItemError } from '../../lib/data/migrations/chain';
import { createMigrationContext } from '../../lib/data/migrations/context';
import type { MigrationContext } from '../../lib/data/migrations/migration';
import { productV1Schema, productV2Schema, productsV2ChannelListings } from '../../release/migrations/products-v2-channel-listings';
import { registry } from '../_helpers/catalog';
import { tables } from '../_helpers/catalog';
import { PRODUCT_KEYS, createTable, uniqueName } from '../_helpers/tables';

const spec = tables.tables.find((t) => t.name === 'products')!;
const keyNames: KeyNames = { partitionKey: spec.partitionKey.name, sortKey: spec.sortKey?.name };
const up = registry.chain('products', 1, 2, { keyNames });
const down = registry.chain('products', 2, 1, { keyNames });

/** A MigrationContext over items held in memory (what the v2 table holds). */
function memoryContext(items: readonly Item[]): MigrationContext {
  const byKey = new Map(items.map((item) => [`${item.pk}\u0000${item.sk}`, item]));
  return {
    get: async (key) => byKey.get(`${key.pk}\u0000${key.sk}`),
    queryPartition: async (pk) => [...byKey.values()].filter((i) => i.pk === pk).sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0)),
  };
}

const noReads: MigrationContext = {
  get: () => Promise.reject(new Error('up does not read')),
  queryPartition: () => Promise.reject(new Error('up does not read')),
};

/** Every v2 item of some v1 items, shared product items written once (as the engine does when they agree). */
function v2Of(v1: readonly Item[]): Item[] {
  const out = new Map<string, Item>();
  for (const item of v1) for (const o of up.applySync(item)!) out.set(`${o.pk}\u0000${o.sk}`, o);
  return [...out.values()];
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

const [us, gb, eu] = [...generateV1Products({ products: 1, seed: 7 })];

describe('products v2: the registry', () => {
  it('has products at version 2, reversible, and a pure up chain (sync fast path)', () => {
    expect(registry.latestVersion('products')).toBe(2);
    expect(registry.latestVersion('orders')).toBe(1);
    expect(registry.chainIsReversible('products', 1, 2)).toBe(true);
    expect(up.applySync(us)).toBeDefined();
  });
});

describe('products v2: up', () => {
  it('turns the three channel items into 3 listings and 3 equal shared product items', async () => {
    // GIVEN the US, GB and EU copies of one product
    // WHEN each is migrated
    const outputs = [await up.apply(us, noReads), await up.apply(gb, noReads), await up.apply(eu, noReads)];
    // THEN each gives a product item and its listing
    const products = outputs.map((o) => o.find((i) => i.sk === 'PRODUCT')!);
    const listings = outputs.map((o) => o.find((i) => i.sk !== 'PRODUCT')!);
    expect(outputs.map((o) => o.length)).toEqual([2, 2, 2]);
    // the product items are equal (the engine writes them once), and shared
    expect(new Set(products.map(stableJson)).size).toBe(1);
    expect(products[0]).toEqual({
      pk: us.pk,
      sk: 'PRODUCT',
      title: us.title,
      artist: us.artist,
      format: us.format,
      releaseYear: us.releaseYear,
      description: us.description,
    });
    expect(products.every((p) => up.isShared(p))).toBe(true);
    // the listings carry the channel's own fields only
    expect(listings.map((l) => l.sk)).toEqual(['LISTING#US', 'LISTING#GB', 'LISTING#EU']);
    expect(listings[1]).toEqual({ pk: gb.pk, sk: 'LISTING#GB', sku: gb.sku, channel: 'GB', price: gb.price, currency: 'GBP', stock: gb.stock, published: gb.published });
    expect(listings.some((l) => up.isShared(l))).toBe(false);
    expect(up.merge).toBeUndefined();
  });

  it('names the sources of each v2 item', () => {
    const [product, listing] = up.applySync(eu)!;
    expect(up.sourcesOf(product)).toEqual({ partition: eu.pk });
    expect(up.sourcesOf(listing)).toEqual([{ pk: eu.pk, sk: 'CHANNEL#EU' }]);
  });

  it('gives different product items for channel copies that drifted apart (no merge: dead letters)', () => {
    // GIVEN a product whose GB title differs
    const copies = conflictingProduct('0000001');
    // WHEN migrated
    const products = copies.map((c) => up.applySync(c)!.find((i) => i.sk === 'PRODUCT')!);
    // THEN the shared items disagree on the title only, and nothing declares how to merge them
    expect(new Set(products.map((p) => p.title)).size).toBe(2);
    expect(new Set(products.map(({ title: _t, ...rest }) => stableJson(rest))).size).toBe(1);
    expect(productsV2ChannelListings.merge).toBeUndefined();
  });

  it('dead-letters a v1 item with a bad sort key (MIGRATION_THREW) or a missing field (SCHEMA_INVALID)', () => {
    const codeOf = (item: Item): string => {
      try {
        up.applySync(item);
      } catch (err) {
        if (isMigrationItemError(err)) return err.code;
      }
      return 'none';
    };
    expect(codeOf({ ...us, sk: 'CHANNEL#JP' })).toBe(MIGRATION_THREW);
    const untitled = { ...us };
    delete untitled.title;
    expect(codeOf(untitled)).toBe(SCHEMA_INVALID);
    expect(codeOf({ ...us, price: '12.99' })).toBe(SCHEMA_INVALID);
  });
});

describe('products v2: down', () => {
  it('turns a listing back into the original v1 item exactly, reading the product item', async () => {
    // GIVEN the v2 items of the product
    const v2 = v2Of([us, gb, eu]);
    const ctx = memoryContext(v2);
    // WHEN the GB listing goes down
    const out = await down.apply(v2.find((i) => i.sk === 'LISTING#GB')!, ctx);
    // THEN it is the GB channel item, field for field
    expect(out).toEqual([gb]);
  });

  it('rebuilds every channel item of a changed product item, with the new title', async () => {
    // GIVEN the v2 items and a product item whose title was changed on v2
    const v2 = v2Of([us, gb, eu]);
    const product = { ...v2.find((i) => i.sk === 'PRODUCT')!, title: 'Ride the Lightning (Remastered)' };
    const ctx = memoryContext(v2.map((i) => (i.sk === 'PRODUCT' ? product : i)));
    // WHEN it goes down
    const out = await down.apply(product, ctx);
    // THEN the three channel copies come back, each with the new title and its own listing fields
    expect(out).toEqual([eu, gb, us].map((item) => ({ ...item, title: 'Ride the Lightning (Remastered)' })));
  });

  it('makes nothing of a listing whose product item is missing: v2 reads that as no product, and so does v1', async () => {
    // GIVEN only the listings (a product changed, then deleted, on v2)
    const v2 = v2Of([us]);
    const ctx = memoryContext(v2.filter((i) => i.sk !== 'PRODUCT'));
    // WHEN the listing goes down
    const out = await down.apply(v2.find((i) => i.sk === 'LISTING#US')!, ctx);
    // THEN no v1 item
    expect(out).toEqual([]);
  });

  it('fails a listing of a channel v1 does not have (the reverse sync dead-letters it)', async () => {
    // GIVEN a listing for channel FR
    const listing = { ...v2Of([us]).find((i) => i.sk === 'LISTING#US')!, sk: 'LISTING#FR', channel: 'FR' };
    // WHEN it goes down
    const err = await rejectionOf(down.apply(listing, memoryContext(v2Of([us]))));
    // THEN
    expect(isMigrationItemError(err) && err.code).toBe(MIGRATION_THREW);
  });

  it('keeps attributes beyond the v1 schema on the listing and brings them back', async () => {
    // GIVEN a v1 item with an attribute the schemas do not know
    const tagged = { ...us, promo: 'spring' };
    // WHEN it goes up and down
    const v2 = v2Of([tagged]);
    // THEN the listing holds it and the round trip restores it
    expect(v2.find((i) => i.sk === 'LISTING#US')!.promo).toBe('spring');
    expect(await down.apply(v2.find((i) => i.sk === 'LISTING#US')!, memoryContext(v2))).toEqual([tagged]);
  });
});

describe('products v2: property, over 200 generated products', () => {
  const v1 = [...generateV1Products({ products: 200, seed: 42 })];

  it('down(up(x)) == x for every channel item, and down(product) gives back every copy', async () => {
    // GIVEN the v2 items of 600 channel items
    const v2 = v2Of(v1);
    const ctx = memoryContext(v2);
    expect(v2).toHaveLength(800);
    // WHEN every listing goes down
    const listings = v2.filter((i) => i.sk !== 'PRODUCT');
    const back = (await Promise.all(listings.map((l) => down.apply(l, ctx)))).flat();
    // THEN each is its source, exactly
    expect(back).toHaveLength(v1.length);
    const byKey = new Map(v1.map((i) => [`${i.pk}|${i.sk}`, i]));
    for (const item of back) expect(item).toEqual(byKey.get(`${item.pk}|${item.sk}`));
    // and every product item gives back its three copies
    const fromProducts = (await Promise.all(v2.filter((i) => i.sk === 'PRODUCT').map((p) => down.apply(p, ctx)))).flat();
    expect(fromProducts.map(stableJson).sort()).toEqual(v1.map(stableJson).sort());
  });

  it('the schemas accept the generator output and both directions of the migration', () => {
    // GIVEN / WHEN / THEN v1 items pass productV1Schema, their up outputs productV2Schema
    for (const item of v1) expect(productV1Schema.safeParse(item).success).toBe(true);
    for (const item of v2Of(v1)) expect(productV2Schema.safeParse(item).success).toBe(true);
    // and the schemas are not vacuous: a v2 item is not a v1 item and vice versa
    expect(productV1Schema.safeParse(v2Of([us])[1]).success).toBe(false);
    expect(productV2Schema.safeParse(us).success).toBe(false);
  });
});

describe('examples/catalog generator', () => {
  it('is deterministic, lazy, 3 channel items of about 300 bytes per product with equal shared fields', () => {
    // GIVEN / WHEN
    const a = [...generateV1Products({ products: 50, seed: 3 })];
    const b = [...generateV1Products({ products: 50, seed: 3 })];
    const other = [...generateV1Products({ products: 50, seed: 4 })];
    // THEN
    expect(a).toEqual(b);
    expect(a).not.toEqual(other);
    expect(a).toHaveLength(150);
    for (const item of a) expect(itemSizeBytes(item)).toBeGreaterThan(250);
    for (const item of a) expect(itemSizeBytes(item)).toBeLessThan(350);
    for (let i = 0; i < a.length; i += 3) {
      const shared = a.slice(i, i + 3).map(({ title, artist, format, releaseYear, description }) => stableJson({ title, artist, format, releaseYear, description }));
      expect(new Set(shared).size).toBe(1);
      expect(a.slice(i, i + 3).map((x) => x.currency)).toEqual(['USD', 'GBP', 'EUR']);
    }
    // a million products start at once: nothing is built ahead
    expect(generateV1Products({ products: 1_000_000 }).next().value).toMatchObject({ pk: 'PRODUCT#0000000', sk: 'CHANNEL#US' });
    expect([...generateV1Products({ products: 2, channels: ['EU'], firstId: 10 })].map((x) => x.sku)).toEqual(['0000010-EU', '0000011-EU']);
  });
});

describe('products v2 down through DynamoDB Local', () => {
  it('reads the v2 table through the batching context, meta attributes and all', async () => {
    // GIVEN a v2 table holding the engine-written items of 20 products (with meta attributes)
    const ddb = new DynamoDBClient({});
    const doc = DynamoDBDocumentClient.from(ddb);
    const tableName = uniqueName('products-v2');
    await createTable(tableName, PRODUCT_KEYS, { client: ddb });
    try {
      const v1 = [...generateV1Products({ products: 20, seed: 9 })];
      const v2 = v2Of(v1).map((i) => ({ ...i, [META.source]: '{}', [META.origin]: 'copy' }));
      for (let i = 0; i < v2.length; i += 25) {
        await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: v2.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      }
      const ctx = createMigrationContext({ client: doc, tableName, keyNames });
      // WHEN every v2 item goes down concurrently
      const back = (await Promise.all(v2.map((item) => down.apply(item, ctx)))).flat();
      // THEN listings and products give back exactly the v1 items (each twice: once per listing, once per product)
      const expected = v1.map(stableJson).sort();
      expect(back.map(stableJson).sort()).toEqual(expected.flatMap((s) => [s, s]));
    } finally {
      await ddb.send(new DeleteTableCommand({ TableName: tableName }));
      ddb.destroy();
    }
  });
});
