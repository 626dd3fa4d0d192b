import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, DynamoDBDocumentClient, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { META, type Item, type KeyNames } from '../../../lib/item/item';
import { SharedItemWriter, contentHash } from '../../../lib/data/write/shared-writer';
import { ReleaseError } from '../../../lib/errors';

const TABLE = 'target';
const KEYS: KeyNames = { partitionKey: 'pk' };
const noWait = { sleep: async () => undefined, random: () => 1 };

function shared(pk: string, v: number): Item {
  const item: Item = { pk, v };
  item[META.contentHash] = contentHash(item);
  return item;
}

const cancelled = (reasons: Array<{ Code: string; Item?: Record<string, unknown> }>) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons as never });

describe('SharedItemWriter (mocked DynamoDB)', () => {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddb = mockClient(client);
  beforeEach(() => ddb.reset());

  it('re-sends the items of a cancelled transaction, backing off for TransactionConflict and throttling', async () => {
    // GIVEN a first transaction cancelled with one conflict-in-progress, one throttled item and
    // one stored item with other content; the second goes through
    const existing = shared('c', 99);
    const sent: string[][] = [];
    ddb.on(TransactWriteCommand).callsFake(async (input: TransactWriteCommandInput) => {
      sent.push(input.TransactItems!.map((t) => String(t.Put!.Item!.pk)));
      if (sent.length === 1) {
        throw cancelled([{ Code: 'TransactionConflict' }, { Code: 'ThrottlingError' }, { Code: 'ConditionalCheckFailed', Item: marshall(existing) }, { Code: 'None' }]);
      }
      return {};
    });
    const retries: number[] = [];
    const writer = new SharedItemWriter({ client, backoff: noWait, onRetry: (e) => retries.push(e.items) });

    // WHEN four items are written
    const outcomes = await writer.write(TABLE, [shared('a', 1), shared('b', 1), shared('c', 1), shared('d', 1)], KEYS);

    // THEN the conflict is reported with the stored item, the other three were sent again after one backoff
    expect(outcomes).toEqual([{ status: 'written' }, { status: 'written' }, { status: 'conflict', existing }, { status: 'written' }]);
    expect(sent).toEqual([['a', 'b', 'c', 'd'], ['a', 'b', 'd']]);
    expect(retries).toEqual([3]);
  });

  it('reads the stored item when the cancellation reason does not carry it', async () => {
    // GIVEN a conflict without ALL_OLD in the reason
    const existing = shared('a', 7);
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled([{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }]))
      .resolves({});
    ddb.on(GetCommand).resolves({ Item: existing });
    const writer = new SharedItemWriter({ client, backoff: noWait });

    // WHEN the items are written
    const outcomes = await writer.write(TABLE, [shared('a', 1), shared('b', 1)], KEYS);

    // THEN the conflict holds the item read back
    expect(outcomes).toEqual([{ status: 'conflict', existing }, { status: 'written' }]);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({ Key: { pk: 'a' }, ConsistentRead: true });
  });

  it('gives up with WRITE_EXHAUSTED when every attempt is throttled', async () => {
    // GIVEN a table that always throttles
    ddb.on(TransactWriteCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }));
    const writer = new SharedItemWriter({ client, backoff: noWait, maxAttempts: 3 });

    // WHEN 30 items are written (2 transactions)
    const err = await writer.write(TABLE, Array.from({ length: 30 }, (_, i) => shared(`k${i}`, i)), KEYS).then(
      () => undefined,
      (e: unknown) => e,
    );

    // THEN it fails with the count, after 3 attempts per transaction
    expect(ReleaseError.isReleaseError(err) && err.code).toBe('WRITE_EXHAUSTED');
    expect((err as Error).message).toMatch(/\b30 of 30 items are not written/);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(6);
  });

  it('fails with WRITE_FAILED on a cancellation reason that is not retryable', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled([{ Code: 'ValidationError' }]));
    const writer = new SharedItemWriter({ client, backoff: noWait });
    const err = await writer.write(TABLE, [shared('a', 1)], KEYS).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(ReleaseError.isReleaseError(err) && err.code).toBe('WRITE_FAILED');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });
});
