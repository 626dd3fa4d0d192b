import { CreateTableCommand, DeleteTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureStreamPositions } from '../../../lib/data/stream/stream-positions';
import { ReleaseError } from '../../../lib/errors';
import { createTable, PRODUCT_KEYS, uniqueName } from '../../_helpers/tables';
import { streamFixture, type StreamFixture } from './stream-fixture';
import { codeOf } from '../../_helpers/rejection';

let fx: StreamFixture;
const extraTables: string[] = [];

beforeAll(async () => {
  fx = await streamFixture('stream-positions');
});
afterAll(async () => {
  for (const t of extraTables) await fx.dynamodb.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined);
  await fx.dispose();
});

describe('captureStreamPositions', () => {
  it('records the stream and its shards at T0', async () => {
    // GIVEN a table with a NEW_AND_OLD_IMAGES stream
    const { tableName, streamArn } = await fx.table('ok');
    const t0 = Date.UTC(2030, 0, 1);

    // WHEN its positions are captured
    const positions = await captureStreamPositions(fx.streamsClient(), tableName, { dynamodb: fx.dynamodb, clock: () => t0 });

    // THEN they name the stream, the time and its one shard (DynamoDB Local has one per stream)
    expect(positions.streamArn).toBe(streamArn);
    expect(positions.capturedAt).toBe('2030-01-01T00:00:00.000Z');
    expect(positions.shards).toHaveLength(1);
    expect(positions.shards[0]!.shardId).toMatch(/^shardId-/);
    expect(positions.shards[0]!.parentShardId).toBeUndefined();
  });

  it('refuses a table without a stream', async () => {
    const tableName = uniqueName('stream-positions-none');
    await createTable(tableName, PRODUCT_KEYS, { client: fx.dynamodb });
    extraTables.push(tableName);
    expect(await codeOf(captureStreamPositions(fx.streamsClient(), tableName, { dynamodb: fx.dynamodb }))).toBe('STREAM_MISSING');
  });

  it('refuses a stream without both images', async () => {
    // GIVEN a KEYS_ONLY stream
    const tableName = uniqueName('stream-positions-keys');
    await fx.dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
      }),
    );
    extraTables.push(tableName);
    await waitUntilTableExists({ client: fx.dynamodb, maxWaitTime: 30 }, { TableName: tableName });

    // WHEN positions are captured THEN a user error says what is wrong
    const err = await captureStreamPositions(fx.streamsClient(), tableName, { dynamodb: fx.dynamodb }).catch((e: unknown) => e);
    expect(ReleaseError.isUserError(err) && err.code).toBe('STREAM_MISSING');
    expect((err as Error).message).toContain('KEYS_ONLY');
  });

  it('says when the table does not exist', async () => {
    expect(await codeOf(captureStreamPositions(fx.streamsClient(), uniqueName('nope'), { dynamodb: fx.dynamodb }))).toBe('TABLE_MISSING');
  });
});
