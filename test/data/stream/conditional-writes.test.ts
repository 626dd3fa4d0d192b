import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConditionalWrites } from '../../../lib/data/stream/conditional-writes';
import { createTable, documentClient, PRODUCT_KEYS, uniqueName } from '../../_helpers/tables';
import { countingClient } from './call-counter';

let table: string;
const doc = documentClient();
beforeAll(async () => {
  table = uniqueName('conditional');
  await createTable(table, PRODUCT_KEYS);
});

const putIfAbsent = (pk: string, sk: string, v: number) => ({
  Put: { TableName: table, Item: { pk, sk, v }, ConditionExpression: 'attribute_not_exists(pk)' },
});

describe('ConditionalWrites', () => {
  it('answers each write as its own call would, in a few transactions: failed conditions do not hold the others back', async () => {
    // GIVEN 10 of 30 keys already taken
    const pk = `P#${uniqueName('a')}`;
    for (let i = 0; i < 30; i += 3) await doc.send(new PutCommand({ TableName: table, Item: { pk, sk: String(i), v: 0 } }));
    const { doc: counted, calls } = countingClient();
    const writes = new ConditionalWrites({ client: counted, keyNames: PRODUCT_KEYS });

    // WHEN 30 puts-if-absent are made at once
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => writes.write(putIfAbsent(pk, String(i), 1))));

    // THEN the taken keys failed their condition and kept their item, the others were written
    expect(outcomes).toEqual(Array.from({ length: 30 }, (_, i) => i % 3 !== 0));
    for (const i of [0, 1, 29]) {
      expect((await doc.send(new GetCommand({ TableName: table, Key: { pk, sk: String(i) }, ConsistentRead: true }))).Item?.v).toBe(i % 3 === 0 ? 0 : 1);
    }
    // Two groups (25 + 5), each sent again without its failed writes until none is left.
    expect(calls.TransactWriteItemsCommand).toBeLessThanOrEqual(6);
    expect(calls.PutItemCommand ?? 0).toBeLessThanOrEqual(2);
  });

  it('sends two writes of one item made at once one after the other, in the order they were made', async () => {
    const pk = `P#${uniqueName('b')}`;
    await doc.send(new PutCommand({ TableName: table, Item: { pk, sk: 's', v: 0 } }));
    const writes = new ConditionalWrites({ client: documentClient(), keyNames: PRODUCT_KEYS });

    // WHEN a stamp and a delete conditional on that stamp are made in one turn (with another write)
    const stamp = writes.write({
      Update: { TableName: table, Key: { pk, sk: 's' }, UpdateExpression: 'SET #d = :t', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: { '#d': 'del' }, ExpressionAttributeValues: { ':t': 'tok' } },
    });
    const del = writes.write({ Delete: { TableName: table, Key: { pk, sk: 's' }, ConditionExpression: '#d = :t', ExpressionAttributeNames: { '#d': 'del' }, ExpressionAttributeValues: { ':t': 'tok' } } });
    const other = writes.write(putIfAbsent(pk, 'o', 1));

    // THEN both succeeded in that order: the item is gone
    expect(await Promise.all([stamp, del, other])).toEqual([true, true, true]);
    expect((await doc.send(new GetCommand({ TableName: table, Key: { pk, sk: 's' }, ConsistentRead: true }))).Item).toBeUndefined();
  });

  it('sends a lone write as its own call', async () => {
    const { doc: counted, calls } = countingClient();
    const writes = new ConditionalWrites({ client: counted, keyNames: PRODUCT_KEYS });
    const pk = `P#${uniqueName('c')}`;
    expect(await writes.write(putIfAbsent(pk, 'x', 1))).toBe(true);
    expect(await writes.write(putIfAbsent(pk, 'x', 2))).toBe(false);
    expect(calls).toEqual({ PutItemCommand: 2 });
  });
});
