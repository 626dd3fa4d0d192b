import { describe, expect, it } from 'vitest';
import { migratePage, type MigratedPage } from '../../../lib/data/copy/page-migrator';
import { PageWriter } from '../../../lib/data/copy/page-writer';
import type { Item, KeyNames } from '../../../lib/item/item';
import { MigrationChain } from '../../../lib/data/migrations/chain';
import type { BatchWriter, WriteRequest } from '../../../lib/data/write/batch-writer';
import type { SharedItemWriter } from '../../../lib/data/write/shared-writer';
import { toolError } from '../../../lib/errors';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };

/** A batch writer that refuses, as DynamoDB does, any call holding an item marked `refuse`. */
function refusingWriter(calls: WriteRequest[][]): BatchWriter {
  return {
    write: async (_table: string, requests: readonly WriteRequest[]) => {
      calls.push([...requests]);
      if (requests.some((r) => 'put' in r && r.put.refuse === true)) {
        const validation = Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' });
        throw toolError('WRITE_FAILED', 'batch write failed', { cause: validation });
      }
      return { written: requests.length, retries: 0 };
    },
  } as unknown as BatchWriter;
}

function page(items: Item[]): MigratedPage {
  return { sources: items.map((i) => ({ source: i, sourceKey: JSON.stringify({ pk: i.pk, sk: i.sk }), unique: [i], shared: [] })), failures: [] };
}

describe('PageWriter: one item the target refuses', () => {
  it('dead-letters only that source (WRITE_REFUSED) and writes its neighbours', async () => {
    // GIVEN a page of 10 items, one of which the target refuses
    const calls: WriteRequest[][] = [];
    const writer = new PageWriter({
      client: {} as DynamoDBDocumentClient,
      targetTable: 't',
      targetKeys: KEYS,
      sourceKeys: KEYS,
      chain: new MigrationChain({ table: 't', fromVersion: 1, toVersion: 1, steps: [], keyNames: KEYS }),
      batchWriter: refusingWriter(calls),
      sharedWriter: {} as SharedItemWriter,
    });
    const items = Array.from({ length: 10 }, (_, i): Item => ({ pk: `p${i}`, sk: 's', ...(i === 3 ? { refuse: true } : {}) }));

    // WHEN the page is written
    const r = await writer.write(page(items));

    // THEN 9 written, one failure for p3, and the other items were written on their own
    expect(r.written).toBe(9);
    expect(r.failures).toEqual([expect.objectContaining({ sourceKey: JSON.stringify({ pk: 'p3', sk: 's' }), code: 'WRITE_REFUSED' })]);
    expect(calls).toHaveLength(1 + 10);
  });

  it('still fails the page on an error that is not about the request (throttling exhausted)', async () => {
    const writer = new PageWriter({
      client: {} as DynamoDBDocumentClient,
      targetTable: 't',
      targetKeys: KEYS,
      sourceKeys: KEYS,
      chain: new MigrationChain({ table: 't', fromVersion: 1, toVersion: 1, steps: [], keyNames: KEYS }),
      batchWriter: { write: async () => Promise.reject(toolError('WRITE_EXHAUSTED', 'gave up')) } as unknown as BatchWriter,
      sharedWriter: {} as SharedItemWriter,
    });
    await expect(writer.write(page([{ pk: 'a', sk: 's' }]))).rejects.toMatchObject({ code: 'WRITE_EXHAUSTED' });
  });
});

describe('migratePage: outputs checked before writing', () => {
  it('makes an output whose key value has another type than the target key a KEY_TYPE_MISMATCH failure, alone', async () => {
    const chain = new MigrationChain({
      table: 't',
      fromVersion: 1,
      toVersion: 2,
      keyNames: KEYS,
      steps: [{ table: 't', version: 2, description: 'sk as a number, but one as text', up: (i: Item) => ({ ...i, sk: i.pk === 'odd' ? 'seven' : 7 }) }],
    });
    const noReads = { get: () => Promise.reject(new Error('no')), queryPartition: () => Promise.reject(new Error('no')) };
    const r = await migratePage([{ pk: 'a', sk: 1 }, { pk: 'odd', sk: 2 }], chain, noReads, KEYS, { partitionKey: 'S', sortKey: 'N' });
    expect(r.sources.map((s) => s.source.pk)).toEqual(['a']);
    expect(r.failures).toEqual([expect.objectContaining({ code: 'KEY_TYPE_MISMATCH', error: expect.stringContaining('"seven" (string)') })]);
  });
});
