import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpJson } from '../../examples/catalog/http-client';
import { entityTagOfBody } from '../../examples/catalog/preconditions';
import type { ProductBody } from '../../examples/catalog/product';
import type { ProductStore } from '../../examples/catalog/store';
import { ProductStoreV1 } from '../../examples/catalog/store-v1';
import { ProductStoreV2 } from '../../examples/catalog/store-v2';
import type { Item } from '../../lib/item/item';
import { createTable, documentClient, scanAll, uniqueName } from '../_helpers/tables';
import { serve, type RunningCatalog } from './catalog-helpers';

function product(rev: number, price = 2499): ProductBody {
  return {
    title: 'Master of Puppets',
    artist: 'Iron Lantern',
    format: 'LP',
    releaseYear: 1986,
    description: 'First pressing.',
    channels: {
      US: { sku: 'mop-US', price, currency: 'USD', stock: 4, published: true },
      GB: { sku: 'mop-GB', price: 1999, currency: 'GBP', stock: 2, published: true },
    },
    rev,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([1, 2] as const)('If-Match on the catalog, data version %i', (version) => {
  const newStore = (tableName: string): ProductStore => (version === 1 ? new ProductStoreV1({ tableName }) : new ProductStoreV2({ tableName }));
  let catalog: RunningCatalog;
  /** The same table behind a server that waits only 300 ms for a precondition. */
  let impatient: RunningCatalog;
  let scratch: ProductStore;
  let scratchTable: string;
  let n = 0;

  beforeAll(async () => {
    const table = uniqueName(`precond-v${version}`);
    scratchTable = uniqueName(`precond-scratch-v${version}`);
    await Promise.all([createTable(table), createTable(scratchTable)]);
    scratch = newStore(scratchTable);
    // Waits long enough that a test which should not wait would run into its own timeout instead.
    catalog = await serve(newStore(table), table, { preconditionWaitMs: 600_000 });
    impatient = await serve(newStore(table), table, { preconditionWaitMs: 300 });
  });
  afterAll(async () => {
    await catalog?.close();
    await impatient?.close();
  });

  /** The items the store writes for `body`: what a sync would apply, one by one. */
  async function itemsOf(id: string, body: ProductBody): Promise<Item[]> {
    await scratch.put(id, body);
    return (await scanAll(scratchTable)).filter((i) => i.pk === `PRODUCT#${id}`);
  }

  /** Applies items one at a time, as a sync does, `gapMs` apart. */
  async function applyOneByOne(items: readonly Item[], gapMs: number): Promise<void> {
    for (const item of items) {
      await sleep(gapMs);
      await documentClient().send(new PutCommand({ TableName: catalog.table, Item: item }));
    }
  }

  const nextId = () => `pc-${version}-${++n}`;
  const put = (id: string, body: ProductBody, ifMatch?: string) =>
    httpJson({ baseUrl: catalog.baseUrl, method: 'PUT', path: `/products/${id}`, body, ...(ifMatch ? { ifMatch } : {}) });
  const get = (id: string) => httpJson({ baseUrl: catalog.baseUrl, method: 'GET', path: `/products/${id}` });

  it('answers GET and PUT with the same strong tag for the same product, and a write matching it goes through', async () => {
    const id = nextId();
    const created = await put(id, product(1));
    const read = await get(id);
    expect(created.etag).toMatch(/^"r1\.[\w-]+"$/);
    expect(read.etag).toBe(created.etag);
    expect(created.etag).toBe(entityTagOfBody(product(1)));

    const updated = await put(id, product(2, 2999), read.etag);
    expect(updated.status).toBe(200);
    expect(updated.preconditionMs).toBe(0); // held for nothing: the state was there
    expect(created.preconditionMs).toBeUndefined(); // no If-Match, no precondition
    expect((await get(id)).json).toMatchObject({ rev: 2, channels: { US: { price: 2999 } } });
  });

  it("waits for a sync to bring the state If-Match names, so the client's earlier write cannot land after its later one", async () => {
    // GIVEN rev 1 here, and the client's rev 2 written on the other stack, still in the sync
    const id = nextId();
    await put(id, product(1));
    const rev2 = await itemsOf(id, product(2, 2599));

    // WHEN the client writes rev 3 on top of rev 2 while the sync applies rev 2 item by item
    const write = put(id, product(3, 2699), entityTagOfBody(product(2, 2599)));
    await applyOneByOne(rev2, 150);
    const reply = await write;

    // THEN the write went through after rev 2 had landed whole: rev 3 is what the product holds,
    // and the app says it held the write
    expect(reply.status).toBe(200);
    expect(reply.preconditionMs).toBeGreaterThan(0);
    const now = await get(id);
    expect(now.json).toMatchObject({ rev: 3, channels: { US: { price: 2699 } } });
    expect(now.etag).toBe(entityTagOfBody(product(3, 2699)));
  });

  it('tags a product whose items disagree on rev as weak, and a weak tag satisfies no If-Match', async () => {
    // GIVEN a product whose first item is at rev 2 and the others at rev 1 (a sync part-way)
    const id = nextId();
    await put(id, product(1));
    const rev2 = await itemsOf(id, product(2));
    const versioned = rev2.filter((i) => typeof i.rev === 'number');
    await applyOneByOne(versioned.slice(0, 1), 0);

    // THEN GET says so
    const partial = await get(id);
    expect(partial.etag).toMatch(/^W\/"/);
    // AND a write naming that weak tag is refused at once, and changes nothing
    const reply = await put(id, product(9), partial.etag);
    expect(reply.status).toBe(412);
    expect((reply.json as { error: string }).error).toMatch(/names no strong entity tag/);
    expect((await get(id)).etag).toBe(partial.etag);
  });

  it('refuses at once (412) a write whose If-Match names a state the product has moved past', async () => {
    // GIVEN rev 3, written by someone else after the client read rev 1
    const id = nextId();
    const first = await put(id, product(1));
    await put(id, product(3, 1111));
    // WHEN the client writes on top of rev 1 (were it to wait, it would wait 600 s: past the 120 s test timeout)
    const reply = await put(id, product(2, 2222), first.etag);
    // THEN 412, saying it changed, and rev 3 stays
    expect(reply.status).toBe(412);
    expect((reply.json as { error: string }).error).toMatch(/has changed since the state If-Match names/);
    expect((await get(id)).json).toMatchObject({ rev: 3, channels: { US: { price: 1111 } } });
  });

  it('fails with 412 when the named state never arrives, and writes nothing', async () => {
    const id = nextId();
    await put(id, product(1));
    const reply = await httpJson({ baseUrl: impatient.baseUrl, method: 'PUT', path: `/products/${id}`, body: product(5), ifMatch: entityTagOfBody(product(4)) });
    expect(reply.status).toBe(412);
    expect((reply.json as { error: string }).error).toMatch(/did not reach the state If-Match names .* within 300 ms \(it is "r1\./);
    expect((await get(id)).json).toMatchObject({ rev: 1 });
  });

  it('holds a DELETE until the create it names has arrived, so the delete is not undone by it', async () => {
    // GIVEN a product created on the other stack, not here yet
    const id = nextId();
    const created = await itemsOf(id, product(1));
    // WHEN the client deletes it here while the sync brings the create
    const del = httpJson({ baseUrl: catalog.baseUrl, method: 'DELETE', path: `/products/${id}`, ifMatch: entityTagOfBody(product(1)) });
    await applyOneByOne(created, 150);
    // THEN the delete came after the create: the product is gone
    expect((await del).status).toBe(204);
    expect((await get(id)).status).toBe(404);
  });
});
