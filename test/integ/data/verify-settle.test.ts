/**
 * Verify while a sync still applies: a difference is looked at again after `settleMs` and counts
 * only if it is still there; without it, the same in-flight write is a difference.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { META, stableJson, type Item } from '../../../lib/item/item';
import { verifyCopy } from '../../../lib/data/verify/verify-copy';
import { RecordingIoHost } from '../../../lib/io';
import { registry } from '../../_helpers/catalog';
import { generateV1Products } from '../../../examples/catalog/data';
import { createTable, documentClient, putAll, PRODUCT_KEYS, uniqueName } from '../../_helpers/tables';

const identity = registry.chain('orders', 1, 1, { keyNames: PRODUCT_KEYS });
/** A target item as the copy writes it: recording its source's key. */
const copied = (i: Item): Item => ({ ...i, [META.source]: stableJson({ pk: i.pk, sk: i.sk }) });

describe('verifyCopy with settleMs', () => {
  it('does not count a write that lands within the settle time, and counts one that never lands', async () => {
    // GIVEN a target that misses one item of its source
    const source = uniqueName('settle-src');
    const target = uniqueName('settle-dst');
    await Promise.all([createTable(source), createTable(target)]);
    const items = [...generateV1Products({ products: 20 })];
    await putAll(source, items);
    await putAll(target, items.slice(1).map(copied));
    const late = items[0];
    const verify = (settleMs: number) => verifyCopy({ ioHost: new RecordingIoHost(), sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: identity, settleMs });

    // WHEN verified at once, the missing item is a difference
    expect((await verify(0)).missing).toBe(1);

    // WHEN verified with a settle time, and the item is written meanwhile (as a sync would)
    const landing = new Promise<void>((resolve) =>
      setTimeout(() => void documentClient().send(new PutCommand({ TableName: target, Item: copied(late) })).then(() => resolve()), 300),
    );
    const settled = await verify(1500);
    await landing;
    // THEN nothing is reported
    expect(settled).toMatchObject({ differences: 0, sourceItems: 60, targetItems: 59 });
  });

  it.each(['join', 'lookup'] as const)('still reports a difference that outlasts the settle time (%s)', async (strategy) => {
    const source = uniqueName('settle-src');
    const target = uniqueName('settle-dst');
    await Promise.all([createTable(source), createTable(target)]);
    const items = [...generateV1Products({ products: 5 })];
    await putAll(source, items);
    await putAll(target, [...items.slice(1, -1), { ...items.at(-1)!, price: 1 }, { ...items[1], pk: 'PRODUCT#orphan' }].map(copied));
    const r = await verifyCopy({ ioHost: new RecordingIoHost(), sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: identity, settleMs: 200, strategy });
    expect(r).toMatchObject({ missing: 1, different: 1, orphaned: 1, differences: 3, sourceItems: 15, targetItems: 15 });
  });
});
