import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateV1Products } from '../../examples/catalog/data';
import { httpJson } from '../../examples/catalog/http-client';
import { productFromV1Items } from '../../examples/catalog/store-v1';
import type { ProductStore } from '../../examples/catalog/store';
import { checkAcknowledgedWrites, startTraffic } from '../../examples/catalog/traffic';
import { documentClient } from '../_helpers/tables';
import { serve, startCatalog, type RunningCatalog } from './catalog-helpers';

/** Seeds `count` products through the API (so both versions could hold them). */
async function seedProducts(baseUrl: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const id = `seed-${n}`;
    const { id: _generated, ...body } = productFromV1Items(id, [...generateV1Products({ products: 1, firstId: n, seed: 5 })])!;
    expect(_generated).toBe(id);
    expect((await httpJson({ baseUrl, method: 'PUT', path: `/products/${id}`, body })).status).toBe(200);
    ids.push(id);
  }
  return ids;
}

describe('the traffic generator against a live catalog', () => {
  let catalog: RunningCatalog;
  let productIds: string[];

  beforeAll(async () => {
    catalog = await startCatalog(2);
    productIds = await seedProducts(catalog.baseUrl, 20);
  });

  afterAll(async () => {
    await catalog?.close();
  });

  it('runs a few seconds of reads and writes without a failure, and every acknowledged write reads back', async () => {
    // GIVEN traffic at 60 requests a second, half of them writes, resolving to one release
    const traffic = startTraffic({
      resolve: async () => ({ host: catalog.host, port: catalog.port, releaseId: 'sha-1' }),
      ratePerSec: 60,
      writeFraction: 0.5,
      productIds,
      newIdPrefix: 'traffic-a-',
      seed: 3,
    });

    // WHEN it runs for 3 seconds
    await new Promise((r) => setTimeout(r, 3_000));
    const report = await traffic.stop();

    // THEN nothing failed, the mix happened at about the rate, and every acknowledged write is there
    expect(report.failures).toEqual([]);
    expect(report.failedRequests).toBe(0);
    // Paced: never ahead of the rate over the time it ran, plus one look-up GET per seeded product
    // before its first update. On a busy machine it may fall behind (the 3 s wait stretches, or
    // slots are given up), so only the upper bound is exact.
    expect(report.requests).toBeLessThanOrEqual(Math.ceil(60 * report.seconds) + 1 + productIds.length);
    expect(report.requests).toBeGreaterThan(60);
    expect(report.reads).toBeGreaterThan(30);
    expect(report.writes).toBeGreaterThan(30);
    expect(report.acknowledgedWrites).toBe(report.writes);
    expect(report.byRelease).toEqual({ 'sha-1': report.requests });
    expect(report.latencyP50Ms).toBeGreaterThan(0);
    expect(report.latencyP99Ms).toBeGreaterThanOrEqual(report.latencyP50Ms);
    const acked = [...traffic.lastAcked.values()];
    expect(acked.some((w) => w.deleted)).toBe(true);
    expect(acked.some((w) => !w.deleted && w.rev > 1)).toBe(true);
    expect([...traffic.lastAcked.keys()].some((id) => productIds.includes(id))).toBe(true);

    const check = await checkAcknowledgedWrites({ lastAcked: traffic.lastAcked, baseUrl: catalog.baseUrl });
    expect(check.checked).toBe(traffic.lastAcked.size);
    expect(check.lost).toEqual([]);
  });

  it('finds an acknowledged write that was overwritten behind its back, and one whose delete was undone', async () => {
    // GIVEN a short run with acknowledged updates and deletes
    const traffic = startTraffic({
      resolve: async () => ({ host: catalog.host, port: catalog.port }),
      ratePerSec: 80,
      writeFraction: 0.8,
      productIds,
      newIdPrefix: 'traffic-b-',
      seed: 4,
    });
    await new Promise((r) => setTimeout(r, 1_500));
    const report = await traffic.stop();
    expect(report.failedRequests).toBe(0);
    const [updated] = [...traffic.lastAcked].find(([, w]) => !w.deleted) ?? [];
    const [deleted] = [...traffic.lastAcked].find(([, w]) => w.deleted) ?? [];
    expect(updated && deleted).toBeTruthy();

    // WHEN one product's listing is put back to an older price directly in the table, and a deleted one reappears
    const doc = documentClient();
    await doc.send(
      new PutCommand({
        TableName: catalog.table,
        Item: { pk: `PRODUCT#${updated}`, sk: 'LISTING#US', sku: 'x', channel: 'US', price: 1, currency: 'USD', stock: 0, published: true, rev: 0 },
      }),
    );
    await doc.send(new PutCommand({ TableName: catalog.table, Item: { pk: `PRODUCT#${deleted}`, sk: 'PRODUCT', title: 'Back', artist: 'A', format: 'LP', releaseYear: 1, description: '' } }));
    await doc.send(
      new PutCommand({
        TableName: catalog.table,
        Item: { pk: `PRODUCT#${deleted}`, sk: 'LISTING#GB', sku: 'y', channel: 'GB', price: 1, currency: 'GBP', stock: 0, published: true },
      }),
    );

    // THEN the check reports exactly those two as lost
    const check = await checkAcknowledgedWrites({ lastAcked: traffic.lastAcked, baseUrl: catalog.baseUrl });
    expect(check.lost.map((l) => l.id).sort()).toEqual([updated, deleted].sort());
    expect(check.lost.find((l) => l.id === deleted)?.got).toMatchObject({ id: deleted, title: 'Back' });
    expect(check.resurrected).toEqual([deleted]);
  });

  it('sends If-Match with the ETag it last saw on every update and delete, and none on a create', async () => {
    // GIVEN a proxy in front of the catalog that notes each write's If-Match
    const seen: Array<{ method: string; id: string; ifMatch?: string; replyTag?: string }> = [];
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const ifMatch = req.headers['if-match'];
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
        void httpJson({ baseUrl: catalog.baseUrl, method: req.method as 'GET' | 'PUT' | 'DELETE', path: req.url!, body, ...(ifMatch ? { ifMatch } : {}) }).then((reply) => {
          if (req.method !== 'GET') seen.push({ method: req.method!, id: req.url!.split('/').pop()!, ...(ifMatch ? { ifMatch } : {}), ...(reply.etag ? { replyTag: reply.etag } : {}) });
          res.writeHead(reply.status, reply.etag ? { etag: reply.etag } : {}).end(reply.text);
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      // WHEN traffic runs through it
      const traffic = startTraffic({
        resolve: async () => ({ host: '127.0.0.1', port: (proxy.address() as AddressInfo).port }),
        ratePerSec: 60,
        writeFraction: 0.8,
        productIds,
        newIdPrefix: 'traffic-m-',
        seed: 9,
      });
      await new Promise((r) => setTimeout(r, 2_000));
      const report = await traffic.stop();
      expect(report.failedRequests).toBe(0);

      // THEN a create (the first write of a new id, or of one deleted before) has none; every later
      // write names the tag the write before it was answered with (the first write of a seeded
      // product: the tag it read)
      const lastTag = new Map<string, string | undefined>();
      const deleted = new Set<string>();
      const kinds = { creates: 0, recreates: 0, conditional: 0 };
      for (const w of seen) {
        if (w.id.startsWith('traffic-m-') && (!lastTag.has(w.id) || deleted.has(w.id))) {
          expect(w.ifMatch).toBeUndefined();
          if (deleted.has(w.id)) kinds.recreates++;
          else kinds.creates++;
          deleted.delete(w.id);
        } else {
          expect(w.ifMatch).toMatch(/^"[^"]+"$/);
          if (lastTag.has(w.id)) expect(w.ifMatch).toBe(lastTag.get(w.id));
          kinds.conditional++;
        }
        lastTag.set(w.id, w.replyTag);
        if (w.method === 'DELETE') deleted.add(w.id);
      }
      expect(kinds.creates).toBeGreaterThan(0);
      expect(kinds.recreates).toBeGreaterThan(0);
      expect(kinds.conditional).toBeGreaterThan(0);
      expect(seen.some((w) => w.method === 'DELETE')).toBe(true);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('counts 5xx answers and network errors as failures, and never retries them away', async () => {
    // GIVEN a catalog whose store fails every third write, and a resolver that sometimes points at a closed port
    let writes = 0;
    const flaky: ProductStore = {
      ...catalog.store,
      dataVersion: catalog.store.dataVersion,
      get: (id) => catalog.store.get(id),
      read: (id) => catalog.store.read(id),
      put: async (id, body) => {
        if (++writes % 3 === 0) throw new Error('injected store failure');
        await catalog.store.put(id, body);
      },
      delete: (id) => catalog.store.delete(id),
    };
    const broken = await serve(flaky, catalog.table);
    let calls = 0;
    try {
      const traffic = startTraffic({
        resolve: async () => (++calls % 10 === 0 ? { host: '127.0.0.1', port: 1, releaseId: 'gone' } : { host: broken.host, port: broken.port, releaseId: 'flaky' }),
        ratePerSec: 50,
        writeFraction: 0.5,
        productIds,
        newIdPrefix: 'traffic-c-',
        seed: 5,
      });
      await new Promise((r) => setTimeout(r, 1_500));
      const report = await traffic.stop();

      // THEN each failed request counts once: the 500s and the refused connections
      expect(report.failures.some((f) => f.status === 500 && f.method === 'PUT')).toBe(true);
      expect(report.failures.some((f) => f.releaseId === 'gone' && /ECONNREFUSED/.test(f.error ?? ''))).toBe(true);
      expect(report.failedRequests).toBeGreaterThanOrEqual(Math.floor(calls / 10));
      expect(report.failures.length).toBe(Math.min(20, report.failedRequests));
      expect(report.requests).toBe(calls);
      expect(report.byRelease?.gone).toBe(Math.floor(calls / 10));

      // AND writes that failed are not counted as acknowledged, their products are left alone,
      // and the check accepts either outcome for them (a failed write may have taken effect)
      expect(report.acknowledgedWrites).toBeLessThan(report.writes);
      expect(traffic.unacknowledged.size).toBeGreaterThan(0);
      const check = await checkAcknowledgedWrites({ lastAcked: traffic.lastAcked, unacknowledged: traffic.unacknowledged, baseUrl: catalog.baseUrl });
      expect(check.lost).toEqual([]);
    } finally {
      await broken.close();
    }
  });

  it('honours a write fence: a held write is sent again after the retryAfterMs it names, a redirected one is sent to the new stack; none fails', async () => {
    // GIVEN an "old stack" that holds writes for 600 ms, then redirects them to the "new stack" (the catalog), reads served throughout
    const t0 = Date.now();
    const old = http.createServer((req, res) => {
      const url = req.url!;
      req.resume();
      if (req.method === 'GET') {
        void httpJson({ baseUrl: catalog.baseUrl, method: 'GET', path: url }).then((r) => res.writeHead(r.status, r.etag ? { etag: r.etag } : {}).end(r.text));
      } else if (Date.now() - t0 < 600) {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'WRITES_FENCED', releaseId: 'old', retryAfterMs: 100, fence: 'f1' }));
      } else {
        res.writeHead(302, { location: `http://new-stack.elb.example${url}` }).end();
      }
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    try {
      // WHEN traffic resolves to the old stack only
      const traffic = startTraffic({
        resolve: async () => ({ host: '127.0.0.1', port: (old.address() as AddressInfo).port }),
        resolveName: async (name) => {
          expect(name).toBe('new-stack.elb.example');
          return { host: catalog.host, port: catalog.port };
        },
        ratePerSec: 60,
        writeFraction: 0.6,
        productIds,
        newIdPrefix: 'traffic-f-',
        seed: 11,
      });
      await new Promise((r) => setTimeout(r, 1_500));
      const report = await traffic.stop();

      // THEN nothing failed; writes were held (each for less than the fence lasted, plus a retry) and later redirected
      expect(report.failures).toEqual([]);
      expect(report.fencedWrites).toBeGreaterThan(0);
      expect(report.maxWritePauseMs).toBeGreaterThanOrEqual(100);
      expect(report.maxWritePauseMs).toBeLessThan(600 + 100 + 500);
      expect(report.redirectedWrites).toBeGreaterThan(0);
      // AND every acknowledged write is on the new stack
      const check = await checkAcknowledgedWrites({ lastAcked: traffic.lastAcked, baseUrl: catalog.baseUrl });
      expect(check.lost).toEqual([]);
    } finally {
      await new Promise((r) => old.close(r));
    }
  });

  it('without a way to follow them, counts a held or redirected write as a failure', async () => {
    const fenced = http.createServer((req, res) => {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'WRITES_FENCED', releaseId: 'old', retryAfterMs: 100, fence: 'f' }));
    });
    await new Promise<void>((r) => fenced.listen(0, '127.0.0.1', r));
    try {
      const traffic = startTraffic({
        resolve: async () => ({ host: '127.0.0.1', port: (fenced.address() as AddressInfo).port }),
        ratePerSec: 40,
        writeFraction: 1,
        productIds: [],
        newIdPrefix: 'traffic-g-',
      });
      await new Promise((r) => setTimeout(r, 300));
      const report = await traffic.stop();
      expect(report.failedRequests).toBe(report.requests);
      expect(report.failures[0]).toMatchObject({ method: 'PUT', status: 503 });
    } finally {
      await new Promise((r) => fenced.close(r));
    }
  });
});
