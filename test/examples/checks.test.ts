import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProductId, checks } from '../../examples/catalog/checks';
import type { ProductStore } from '../../examples/catalog/store';
import { scanAll } from '../_helpers/tables';
import { serve, startCatalog, type RunningCatalog } from './catalog-helpers';

async function runAll(baseUrl: string, marker: string): Promise<Array<{ name: string; error?: string }>> {
  const out = [];
  for (const check of checks) {
    try {
      await check.run({ baseUrl, marker });
      out.push({ name: check.name });
    } catch (err) {
      out.push({ name: check.name, error: (err as Error).message });
    }
  }
  return out;
}

describe('the catalog release checks', () => {
  let v1: RunningCatalog;
  let v2: RunningCatalog;

  beforeAll(async () => {
    [v1, v2] = await Promise.all([startCatalog(1), startCatalog(2)]);
  });

  afterAll(async () => {
    await Promise.all([v1?.close(), v2?.close()]);
  });

  it.each([1, 2] as const)('pass against a v%i stack and leave no item behind', async (version) => {
    const catalog = version === 1 ? v1 : v2;
    // WHEN every check runs against the stack's own endpoint
    const results = await runAll(catalog.baseUrl, 'sha-0123abcd');

    // THEN all pass and the table is empty again
    expect(results).toEqual(checks.map((c) => ({ name: c.name })));
    expect(results.length).toBeGreaterThanOrEqual(3);
    expect(await scanAll(catalog.table)).toEqual([]);
  });

  it('fail with a clear message against an app that loses part of a write, and still clean up', async () => {
    // GIVEN an app whose store silently drops the EU listing
    const lossy: ProductStore = {
      dataVersion: 2,
      get: (id) => v2.store.get(id),
      read: (id) => v2.store.read(id),
      put: (id, body) => v2.store.put(id, { ...body, channels: { ...body.channels, EU: undefined } }),
      delete: (id) => v2.store.delete(id),
    };
    const broken = await serve(lossy, v2.table);
    try {
      // WHEN the checks run against it
      const results = await runAll(broken.baseUrl, 'lossy');

      // THEN the create/read check fails saying what differed, and nothing it wrote is left
      const failed = results.filter((r) => r.error);
      expect(failed.map((r) => r.name)).toEqual(['product create, read, update, delete']);
      expect(failed[0].error).toMatch(/GET after the create returned another product than was written/);
      expect(failed[0].error).toContain(checkProductId('lossy', 1));
      expect(await scanAll(v2.table)).toEqual([]);
    } finally {
      await broken.close();
    }
  });

  it('fail the health check against a stopped endpoint, naming it', async () => {
    const results = await runAll('http://127.0.0.1:1', 'gone');
    expect(results[0].error).toMatch(/GET http:\/\/127\.0\.0\.1:1\/health got no answer \(.*ECONNREFUSED/);
  });

  it('refuse a marker that cannot be part of a product id', () => {
    expect(() => checkProductId('a/b', 1)).toThrow(/check marker "a\/b"/);
  });
});
