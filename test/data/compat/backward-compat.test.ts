import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkBackwardCompatibility } from '../../../lib/data/compat/backward-compat';
import type { Item } from '../../../lib/item/item';
import { RecordingIoHost } from '../../../lib/io';
import { generateV1Products } from '../../../examples/catalog/data';
import { registry } from '../../_helpers/catalog';
import { productV1Schema } from '../../../release/migrations/products-v2-channel-listings';
import { createTable, PRODUCT_KEYS, putAll, uniqueName } from '../../_helpers/tables';

const up = registry.chain('products', 1, 2, { keyNames: PRODUCT_KEYS });
const down = registry.chain('products', 2, 1, { keyNames: PRODUCT_KEYS });

/** v2 items of `products` products (what the release writes), product items written once. */
function v2Items(products: number): Item[] {
  const byKey = new Map<string, Item>();
  for (const v1 of generateV1Products({ products })) for (const out of up.applySync(v1)!) byKey.set(`${out.pk}|${out.sk}`, out);
  return [...byKey.values()];
}

let table: string;

beforeAll(async () => {
  // GIVEN a release (v2) table with 20 products, plus a product item without listings (down → nothing)
  table = uniqueName('compat');
  await createTable(table, PRODUCT_KEYS);
  const orphan = v2Items(1).find((i) => i.sk === 'PRODUCT')!;
  await putAll(table, [...v2Items(20), { ...orphan, pk: 'PRODUCT#no-listings' }]);
});

const check = (io: RecordingIoHost, previousSchema: z.ZodType, sample?: number) =>
  checkBackwardCompatibility({ ioHost: io, table, keyNames: PRODUCT_KEYS, downChain: down, previousSchema, sample });

describe('checkBackwardCompatibility', () => {
  it('accepts release items that the previous release schema reads after down', async () => {
    const io = new RecordingIoHost();
    // WHEN checked against the real v1 schema
    const r = await check(io, productV1Schema);
    // THEN every item was sampled (20 × 4 + 1) and none fails; the empty down output is fine
    expect(r).toEqual({ sampled: 81, failures: 0, samples: [] });
    expect(io.codes()).toContain('COMPAT_I6000');
    expect(io.codes()).not.toContain('COMPAT_W6001');
  });

  it('rejects them when the previous schema requires a field the v2 data lacks', async () => {
    const io = new RecordingIoHost();
    // WHEN the previous release required a barcode on every channel item
    const strict = productV1Schema.extend({ barcode: z.string() });
    const r = await check(io, strict);
    // THEN every listing and every product with listings fails (the orphan product has no output)
    expect(r.sampled).toBe(81);
    expect(r.failures).toBe(80);
    expect(r.samples).toHaveLength(10);
    expect(r.samples[0].error).toMatch(/barcode/);
    expect(io.withCode('COMPAT_W6001')).toHaveLength(80);
  });

  it('honours the sample size', async () => {
    const r = await check(new RecordingIoHost(), productV1Schema, 10);
    expect(r.sampled).toBe(10);
  });

  it('counts an item that down cannot migrate (a listing of a channel v1 lacks) as a failure', async () => {
    // GIVEN a table with one listing for channel FR
    const lonely = uniqueName('compat');
    await createTable(lonely, PRODUCT_KEYS);
    await putAll(lonely, v2Items(1).filter((i) => i.sk === 'LISTING#US').map((i) => ({ ...i, sk: 'LISTING#FR', channel: 'FR' })));
    // WHEN checked
    const r = await checkBackwardCompatibility({ ioHost: new RecordingIoHost(), table: lonely, keyNames: PRODUCT_KEYS, downChain: down, previousSchema: productV1Schema });
    // THEN
    expect(r).toMatchObject({ sampled: 1, failures: 1 });
    expect(r.samples[0].error).toMatch(/down failed/);
  });

  it('refuses an up chain with a coded user error', async () => {
    await expect(
      checkBackwardCompatibility({ ioHost: new RecordingIoHost(), table, keyNames: PRODUCT_KEYS, downChain: up, previousSchema: productV1Schema }),
    ).rejects.toMatchObject({ code: 'COMPAT_NOT_DOWN', source: 'user' });
  });
});
