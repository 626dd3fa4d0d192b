import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatencyProxy, type LatencyProxy } from '../../bench/latency-proxy';

const LATENCY_MS = 60;

describe('latency proxy in front of DynamoDB Local', () => {
  let proxy: LatencyProxy;
  let ddb: DynamoDBClient;
  let table: string;

  beforeAll(async () => {
    const target = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    if (!target) throw new Error('AWS_ENDPOINT_URL_DYNAMODB is not set: the vitest setup should point it at DynamoDB Local');
    proxy = await startLatencyProxy({ target, latencyMs: LATENCY_MS });
    ddb = new DynamoDBClient({ endpoint: proxy.url, maxAttempts: 1 });
    table = `latency-proxy-${randomUUID().slice(0, 8)}`;
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
  });

  afterAll(async () => {
    await ddb?.send(new DeleteTableCommand({ TableName: table }));
    ddb?.destroy();
    await proxy?.close();
  });

  it('listens on loopback only', () => {
    expect(proxy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('forwards calls to DynamoDB Local, each taking at least the latency', async () => {
    // GIVEN a client whose endpoint is the proxy
    const doc = DynamoDBDocumentClient.from(ddb);
    const before = proxy.requests;
    const big = 'x'.repeat(300_000); // a body larger than a socket buffer streams through

    // WHEN it puts an item, reads it back and lists the tables, timing each call
    const timed = async <T>(call: () => Promise<T>): Promise<[T, number]> => {
      const start = performance.now();
      const out = await call();
      return [out, performance.now() - start];
    };
    const [, putMs] = await timed(() => doc.send(new PutCommand({ TableName: table, Item: { pk: 'a', big } })));
    const [got, getMs] = await timed(() => doc.send(new GetCommand({ TableName: table, Key: { pk: 'a' }, ConsistentRead: true })));
    const [listed, listMs] = await timed(() => ddb.send(new ListTablesCommand({})));

    // THEN the calls reached DynamoDB Local (the item round-trips, the table is listed),
    // went through the proxy, and none was faster than the latency
    expect(got.Item).toEqual({ pk: 'a', big });
    expect(listed.TableNames).toContain(table);
    expect(proxy.requests - before).toBe(3);
    for (const ms of [putMs, getMs, listMs]) expect(ms).toBeGreaterThanOrEqual(LATENCY_MS - 1);
  });

  it('holds each of several concurrent calls for at least the latency', async () => {
    // GIVEN 8 calls sent at once
    const before = proxy.requests;
    const durations = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const start = performance.now();
        await ddb.send(new ListTablesCommand({}));
        return performance.now() - start;
      }),
    );

    // THEN all 8 went through the proxy and none was faster than the latency
    expect(proxy.requests - before).toBe(8);
    for (const ms of durations) expect(ms).toBeGreaterThanOrEqual(LATENCY_MS - 1);
  });
});
