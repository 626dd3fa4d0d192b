import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogServer } from '../../examples/catalog/app';
import { generateV1Products } from '../../examples/catalog/data';
import { httpJson, type HttpReply } from '../../examples/catalog/http-client';
import type { ProductBody } from '../../examples/catalog/product';
import type { ProductStore } from '../../examples/catalog/store';
import type { Item } from '../../lib/item/item';
import { listingItemV2Schema, productItemV2Schema, productsV2ChannelListings, productV1Schema } from '../../release/migrations/products-v2-channel-listings';
import { putAll, scanAll } from '../_helpers/tables';
import { startCatalog, type RunningCatalog } from './catalog-helpers';

const V1_ITEM_KEYS = ['pk', 'sk', 'sku', 'title', 'artist', 'format', 'releaseYear', 'description', 'price', 'currency', 'stock', 'published', 'rev'];
const V2_PRODUCT_KEYS = ['pk', 'sk', 'title', 'artist', 'format', 'releaseYear', 'description'];
const V2_LISTING_KEYS = ['pk', 'sk', 'sku', 'channel', 'price', 'currency', 'stock', 'published', 'rev'];

function product(rev: number, overrides: Partial<ProductBody> = {}): ProductBody {
  return {
    title: 'Ride the Lightning',
    artist: 'Iron Lantern',
    format: 'LP',
    releaseYear: 1984,
    description: 'Remastered from the original tapes.',
    channels: {
      US: { sku: 'rtl-US', price: 2499, currency: 'USD', stock: 12, published: true },
      GB: { sku: 'rtl-GB', price: 1974, currency: 'GBP', stock: 3, published: false },
      EU: { sku: 'rtl-EU', price: 2299, currency: 'EUR', stock: 0, published: true },
    },
    rev,
    ...overrides,
  };
}

/** The same sequence of calls, made against one server: what a client sees of it. */
async function script(baseUrl: string): Promise<Array<{ call: string; status: number; json: unknown }>> {
  const calls: Array<[string, 'GET' | 'PUT' | 'DELETE', string, unknown?]> = [
    ['missing product', 'GET', '/products/p1'],
    ['create', 'PUT', '/products/p1', product(1)],
    ['read after create', 'GET', '/products/p1'],
    ['update: retitle, withdraw GB, reprice US', 'PUT', '/products/p1', product(2, { title: 'Ride the Lightning (2024)', channels: { US: { ...product(1).channels.US!, price: 1999 }, EU: product(1).channels.EU } })],
    ['read after update', 'GET', '/products/p1'],
    ['list GB again', 'PUT', '/products/p1', { ...product(3), id: 'p1' }],
    ['read after re-list', 'GET', '/products/p1'],
    ['no rev', 'PUT', '/products/p2', { ...product(0), rev: undefined, channels: { GB: product(0).channels.GB } }],
    ['read no rev', 'GET', '/products/p2'],
    ['invalid: no title', 'PUT', '/products/p3', { ...product(1), title: undefined }],
    ['invalid: no channel', 'PUT', '/products/p3', { ...product(1), channels: {} }],
    ['invalid: unknown channel', 'PUT', '/products/p3', { ...product(1), channels: { FR: product(1).channels.US } }],
    ['invalid: negative price', 'PUT', '/products/p3', { ...product(1), channels: { US: { ...product(1).channels.US!, price: -1 } } }],
    ['invalid: unknown field', 'PUT', '/products/p3', { ...product(1), colour: 'red' }],
    ['invalid: body id differs', 'PUT', '/products/p3', { ...product(1), id: 'p4' }],
    ['invalid: bad id', 'GET', '/products/a%20b'],
    ['nothing written by invalid calls', 'GET', '/products/p3'],
    ['delete', 'DELETE', '/products/p1'],
    ['read after delete', 'GET', '/products/p1'],
    ['delete again', 'DELETE', '/products/p1'],
    ['unknown route', 'GET', '/orders/1'],
  ];
  const out = [];
  for (const [call, method, path, body] of calls) {
    const reply = await httpJson({ baseUrl, method, path, body });
    out.push({ call, status: reply.status, json: reply.json });
  }
  // Raw requests the JSON client cannot make.
  out.push({ call: 'invalid JSON', ...(await raw(baseUrl, 'PUT', '/products/p3', '{"title":')) });
  out.push({ call: 'method not allowed', ...(await raw(baseUrl, 'POST', '/products/p2', '{}')) });
  return out;
}

async function raw(baseUrl: string, method: string, path: string, body: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(new URL(path, baseUrl), { method, body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: await res.json() };
}

function sortedKeys(item: Item): string[] {
  return Object.keys(item).sort();
}

describe('the catalog app, v1 and v2 storage behind the same HTTP API', () => {
  let v1: RunningCatalog;
  let v2: RunningCatalog;
  let v1Replies: Awaited<ReturnType<typeof script>>;
  let v2Replies: Awaited<ReturnType<typeof script>>;

  beforeAll(async () => {
    [v1, v2] = await Promise.all([startCatalog(1), startCatalog(2)]);
    // GIVEN the same script of calls made against each version
    [v1Replies, v2Replies] = await Promise.all([script(v1.baseUrl), script(v2.baseUrl)]);
  });

  afterAll(async () => {
    await Promise.all([v1?.close(), v2?.close()]);
  });

  it('answers every call of the script the same way in v1 and v2', () => {
    // THEN the replies are identical, call by call
    expect(v2Replies).toEqual(v1Replies);
    // AND they are the replies the contract promises
    expect(v1Replies.map((r) => `${r.call}: ${r.status}`)).toEqual([
      'missing product: 404',
      'create: 200',
      'read after create: 200',
      'update: retitle, withdraw GB, reprice US: 200',
      'read after update: 200',
      'list GB again: 200',
      'read after re-list: 200',
      'no rev: 200',
      'read no rev: 200',
      'invalid: no title: 400',
      'invalid: no channel: 400',
      'invalid: unknown channel: 400',
      'invalid: negative price: 400',
      'invalid: unknown field: 400',
      'invalid: body id differs: 400',
      'invalid: bad id: 400',
      'nothing written by invalid calls: 404',
      'delete: 204',
      'read after delete: 404',
      'delete again: 204',
      'unknown route: 404',
      'invalid JSON: 400',
      'method not allowed: 405',
    ]);
    const reply = (call: string) => v1Replies.find((r) => r.call === call)!.json;
    expect(reply('read after create')).toEqual({ id: 'p1', ...product(1) });
    expect(reply('read after update')).toEqual({
      id: 'p1',
      ...product(2, { title: 'Ride the Lightning (2024)', channels: { US: { ...product(1).channels.US!, price: 1999 }, EU: product(1).channels.EU } }),
    });
    expect(reply('read no rev')).toEqual({ id: 'p2', ...product(0, { channels: { GB: product(0).channels.GB } }), rev: undefined });
    expect(Object.keys(reply('read no rev') as object)).not.toContain('rev');
    for (const r of v1Replies.filter((x) => x.status >= 400)) expect(typeof (r.json as { error?: unknown }).error).toBe('string');
  });

  it('reports its data version on /health', async () => {
    expect((await httpJson({ baseUrl: v1.baseUrl, method: 'GET', path: '/health' })).json).toEqual({ ok: true, dataVersion: 1 });
    expect((await httpJson({ baseUrl: v2.baseUrl, method: 'GET', path: '/health' })).json).toEqual({ ok: true, dataVersion: 2 });
  });

  it('stores v1 items in the shape of the v1 schema: one item per channel, content duplicated', async () => {
    // WHEN the v1 table is read after the script (p2 remains, listed in GB only, without rev)
    await httpJson({ baseUrl: v1.baseUrl, method: 'PUT', path: '/products/p5', body: product(7) });
    const items = await scanAll(v1.table);

    // THEN every item passes the v1 schema and carries exactly the v1 attributes (rev as plain data)
    expect(items.map((i) => `${i.pk} ${i.sk}`).sort()).toEqual(['PRODUCT#p2 CHANNEL#GB', 'PRODUCT#p5 CHANNEL#EU', 'PRODUCT#p5 CHANNEL#GB', 'PRODUCT#p5 CHANNEL#US']);
    for (const item of items) {
      expect(productV1Schema.safeParse(item).success, JSON.stringify(item)).toBe(true);
      expect(sortedKeys(item)).toEqual(V1_ITEM_KEYS.filter((k) => k !== 'rev' || item.pk === 'PRODUCT#p5').sort());
    }
    expect(items.find((i) => i.sk === 'CHANNEL#EU')).toMatchObject({ title: 'Ride the Lightning', price: 2299, currency: 'EUR', rev: 7 });
  });

  it('stores v2 items in the shapes of the v2 schemas: a product item and a listing per channel', async () => {
    await httpJson({ baseUrl: v2.baseUrl, method: 'PUT', path: '/products/p5', body: product(7) });
    const items = await scanAll(v2.table);

    expect(items.map((i) => `${i.pk} ${i.sk}`).sort()).toEqual([
      'PRODUCT#p2 LISTING#GB',
      'PRODUCT#p2 PRODUCT',
      'PRODUCT#p5 LISTING#EU',
      'PRODUCT#p5 LISTING#GB',
      'PRODUCT#p5 LISTING#US',
      'PRODUCT#p5 PRODUCT',
    ]);
    for (const item of items) {
      if (item.sk === 'PRODUCT') {
        expect(productItemV2Schema.safeParse(item).success, JSON.stringify(item)).toBe(true);
        expect(sortedKeys(item)).toEqual([...V2_PRODUCT_KEYS].sort());
      } else {
        expect(listingItemV2Schema.safeParse(item).success, JSON.stringify(item)).toBe(true);
        expect(sortedKeys(item)).toEqual(V2_LISTING_KEYS.filter((k) => k !== 'rev' || item.pk === 'PRODUCT#p5').sort());
      }
    }
  });

  it("writes in v2 exactly what the migration's up makes of the v1 app's items, and down gives them back", async () => {
    // GIVEN the same PUT made against both versions
    const body = product(9, { channels: { US: product(9).channels.US, EU: product(9).channels.EU } });
    await Promise.all([v1, v2].map((s) => httpJson({ baseUrl: s.baseUrl, method: 'PUT', path: '/products/p6', body })));
    const v1Items = (await scanAll(v1.table)).filter((i) => i.pk === 'PRODUCT#p6');
    const v2Items = (await scanAll(v2.table)).filter((i) => i.pk === 'PRODUCT#p6');

    // WHEN the v1 items are migrated up, and the v2 listings down
    const up = new Map<string, Item>();
    for (const item of v1Items) for (const out of productsV2ChannelListings.up(item, { get: async () => undefined, queryPartition: async () => [] }) as Item[]) up.set(String(out.sk), out);
    const ctx = {
      get: async (key: Item) => v2Items.find((i) => i.pk === key.pk && i.sk === key.sk),
      queryPartition: async (pk: string | number) => v2Items.filter((i) => i.pk === pk),
    };
    const down: Item[] = [];
    for (const item of v2Items.filter((i) => i.sk !== 'PRODUCT')) down.push(...((await productsV2ChannelListings.down!(item, ctx)) as Item[]));

    // THEN they are exactly the other version's items
    expect([...up.values()].sort(bySk)).toEqual([...v2Items].sort(bySk));
    expect(down.sort(bySk)).toEqual([...v1Items].sort(bySk));
  });

  it('serves data written in the v1 layout by data.ts, and its migration to v2, with the same replies', async () => {
    // GIVEN generated v1 products in the v1 table, and their up-migration in the v2 table
    const items = [...generateV1Products({ products: 5, firstId: 4200, seed: 11 })];
    const migrated = new Map<string, Item>();
    for (const item of items) for (const out of productsV2ChannelListings.up(item, { get: async () => undefined, queryPartition: async () => [] }) as Item[]) migrated.set(`${out.pk} ${out.sk}`, out);
    await Promise.all([putAll(v1.table, items), putAll(v2.table, migrated.values())]);

    // WHEN each product is read from both versions
    const ids = [...new Set(items.map((i) => String(i.pk).slice('PRODUCT#'.length)))];
    const read = (baseUrl: string) => Promise.all(ids.map((id) => httpJson({ baseUrl, method: 'GET', path: `/products/${id}` })));
    const [fromV1, fromV2] = await Promise.all([read(v1.baseUrl), read(v2.baseUrl)]);

    // THEN the replies are the same, and have each product's three channels
    expect(fromV1.map((r) => r.status)).toEqual(ids.map(() => 200));
    expect(fromV2.map(pick)).toEqual(fromV1.map(pick));
    for (const r of fromV1) expect(Object.keys((r.json as { channels: object }).channels)).toEqual(['US', 'GB', 'EU']);
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, refuses new connections, then resolves', async () => {
    // GIVEN a server whose store takes 300 ms to write
    let writes = 0;
    const slow: ProductStore = {
      dataVersion: 2,
      get: async () => undefined,
      read: async () => undefined,
      put: async () => {
        await new Promise((r) => setTimeout(r, 300));
        writes++;
      },
      delete: async () => undefined,
    };
    const app = createCatalogServer({ store: slow, logError: () => undefined });
    await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
    const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const inFlight = httpJson({ baseUrl, method: 'PUT', path: '/products/slow', body: product(1) });
    await new Promise((r) => setTimeout(r, 100));

    // WHEN it is shut down while the write is in flight
    let shutDown = false;
    const shutdown = app.shutdown(5_000).then(() => (shutDown = true));
    const late = await httpJson({ baseUrl, method: 'GET', path: '/health' }).catch((err: NodeJS.ErrnoException) => err.code);

    // THEN the write is answered and done, new connections are refused, and shutdown waited for it
    const reply: HttpReply = await inFlight;
    expect(reply.status).toBe(200);
    expect(writes).toBe(1);
    expect(late).toBe('ECONNREFUSED');
    await shutdown;
    expect(shutDown).toBe(true);
  });
});

function bySk(a: Item, b: Item): number {
  return String(a.sk).localeCompare(String(b.sk));
}

function pick(r: HttpReply): unknown {
  return { status: r.status, json: r.json };
}
