import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestStreamOf } from '../../../lib/data/stream/table-stream';
import { ensureStream } from '../../../lib/release/ensure-streams';
import { createTable, PRODUCT_KEYS, uniqueName } from '../../_helpers/tables';
import { codeOf } from '../../_helpers/rejection';
import { streamFixture, type StreamFixture } from './stream-fixture';

let fx: StreamFixture;
const extraTables: string[] = [];

beforeAll(async () => {
  fx = await streamFixture('table-stream');
});
afterAll(async () => {
  for (const t of extraTables) await fx.dynamodb.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined);
  await fx.dispose();
});

async function plainTable(prefix: string): Promise<string> {
  const tableName = uniqueName(`table-stream-${prefix}`);
  await createTable(tableName, PRODUCT_KEYS, { client: fx.dynamodb });
  extraTables.push(tableName);
  return tableName;
}

/** A DynamoDB client of its own, and the names of the commands it sends. */
function recordingClient(): { client: DynamoDBClient; sent: string[] } {
  const client = new DynamoDBClient({});
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'record-commands' },
  );
  return { client, sent };
}

describe('latestStreamOf', () => {
  it('finds the stream DescribeTable calls LatestStreamArn, with its view type and shards', async () => {
    const { tableName, streamArn } = await fx.table('on');
    const s = await latestStreamOf(fx.streamsClient(), tableName);
    expect(s?.streamArn).toBe(streamArn);
    expect(s?.status).toBe('ENABLED');
    expect(s?.viewType).toBe('NEW_AND_OLD_IMAGES');
    expect(s?.shards.length).toBeGreaterThan(0);
  });

  it('is undefined for a table without a stream and for a table that does not exist', async () => {
    expect(await latestStreamOf(fx.streamsClient(), await plainTable('none'))).toBeUndefined();
    expect(await latestStreamOf(fx.streamsClient(), uniqueName('table-stream-nope'))).toBeUndefined();
  });

  it('after the stream is turned off and on again, picks the new one', async () => {
    // GIVEN a stream that was turned off, then on
    const { tableName, streamArn: first } = await fx.table('again');
    await fx.dynamodb.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: false } }));
    const off = await latestStreamOf(fx.streamsClient(), tableName);
    await new Promise((r) => setTimeout(r, 1100)); // labels are timestamps: let the second one differ
    await fx.dynamodb.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));

    // THEN the newest is the table's LatestStreamArn, and it is on
    const latest = (await fx.dynamodb.send(new DescribeTableCommand({ TableName: tableName }))).Table!.LatestStreamArn;
    const s = await latestStreamOf(fx.streamsClient(), tableName);
    expect(off?.status === 'DISABLED' || off?.status === 'DISABLING').toBe(true);
    expect(latest).not.toBe(first);
    expect(s?.streamArn).toBe(latest);
    expect(s?.status).toBe('ENABLED');
  });
});

describe('ensureStream', () => {
  it('turns a stream on, then finds it present, without a DescribeTable', async () => {
    // GIVEN a table without a stream, and a client that records what it sends
    const tableName = await plainTable('ensure');
    const { client, sent } = recordingClient();
    const clients = { dynamodb: client, streams: fx.streamsClient() };

    // WHEN ensureStream runs twice
    const first = await ensureStream(clients, tableName);
    const second = await ensureStream(clients, tableName);

    // THEN the first turns it on (the one UpdateTable), the second finds it; DescribeTable, which
    // counts every item on DynamoDB Local while all other calls wait, is never sent
    expect([first, second]).toEqual(['enabled', 'present']);
    expect(sent).toEqual(['UpdateTableCommand']);
    const s = await latestStreamOf(clients.streams, tableName);
    expect(s?.status).toBe('ENABLED');
    expect(s?.viewType).toBe('NEW_AND_OLD_IMAGES');
    client.destroy();
  });

  it('refuses a stream of another view type', async () => {
    const tableName = uniqueName('table-stream-keys');
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
    expect(await codeOf(ensureStream({ dynamodb: fx.dynamodb, streams: fx.streamsClient() }, tableName))).toBe('STREAM_VIEW_TYPE');
  });
});
