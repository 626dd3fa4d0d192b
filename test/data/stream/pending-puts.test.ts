import { beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../../../lib/item/item';
import { PendingPuts } from '../../../lib/data/stream/pending-puts';
import { BatchWriter } from '../../../lib/data/write/batch-writer';
import { createTable, PRODUCT_KEYS, scanAll, uniqueName } from '../../_helpers/tables';
import { countingClient } from './call-counter';

let table: string;
const putsTo = (writer: BatchWriter) => async (items: readonly Item[]) => void (await writer.write(table, items.map((put) => ({ put })), PRODUCT_KEYS));
beforeAll(async () => {
  table = uniqueName('pending-puts');
  await createTable(table, PRODUCT_KEYS);
});

describe('PendingPuts', () => {
  it('writes nothing until the flush, then the last put of each key', async () => {
    // GIVEN 60 puts over 50 keys (the first 10 keys put twice)
    const { doc, calls } = countingClient();
    const pending = new PendingPuts(putsTo(new BatchWriter({ client: doc })), PRODUCT_KEYS);
    const pk = `P#${uniqueName('a')}`;
    for (let i = 0; i < 50; i++) pending.add({ pk, sk: String(i), v: 'first' });
    for (let i = 0; i < 10; i++) pending.add({ pk, sk: String(i), v: 'second' });
    expect(calls).toEqual({});

    // WHEN the batch ends
    await pending.flush();

    // THEN each key holds its last put, written in 2 calls, superseded puts not counted
    const items = (await scanAll(table)).filter((i) => i.pk === pk);
    expect(items).toHaveLength(50);
    expect(items.filter((i) => i.v === 'second').map((i) => Number(i.sk)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(calls).toEqual({ BatchWriteItemCommand: 2 });
    expect(pending.written).toBe(50);
  });

  it('settles one key at once (before another operation on it) and leaves the others pending', async () => {
    const { doc } = countingClient();
    const pending = new PendingPuts(putsTo(new BatchWriter({ client: doc })), PRODUCT_KEYS);
    const pk = `P#${uniqueName('b')}`;
    pending.add({ pk, sk: 'x', v: 1 });
    pending.add({ pk, sk: 'y', v: 1 });

    await pending.settle({ pk, sk: 'x' });
    await pending.settle({ pk, sk: 'z' }); // nothing pending for it: a no-op

    expect((await scanAll(table)).filter((i) => i.pk === pk).map((i) => i.sk)).toEqual(['x']);
    await pending.flush();
    expect((await scanAll(table)).filter((i) => i.pk === pk).map((i) => i.sk).sort()).toEqual(['x', 'y']);
    expect(pending.written).toBe(2);
  });
});
