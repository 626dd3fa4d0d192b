/**
 * Measures moto's DynamoDB against DynamoDB Local on the same ~300-byte items, to decide which
 * emulator serves the stacks' tables:
 *   - BatchWriteItem throughput (4 concurrent writers, 20k items)
 *   - parallel Scan throughput (4 segments)
 *   - DynamoDB Streams (NEW_AND_OLD_IMAGES table, 1000 items): ListStreams, shard count,
 *     GetRecords record count and rate
 *
 * Starts its own pair of emulators in a temp state dir (fresh in-memory data, the shared set is not
 * touched) and prints one JSON object on stdout.
 *
 *   npx tsx scripts/measure-emulators.ts [--items 20000] [--stream-items 1000]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  paginateScan,
  waitUntilTableExists,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { defaultIoHost } from '../lib/io';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAws, stopLocalAws } from '../lib/local';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '20000' },
    'stream-items': { type: 'string', default: '1000' },
  },
});
const ITEMS = Number(args.items);
const STREAM_ITEMS = Number(args['stream-items']);
const WRITERS = 4;
const SEGMENTS = 4;
const BATCH = 25;
const ITEM_BYTES = 300;

type Item = Record<string, AttributeValue>;

/** DynamoDB's item size rule for the attribute types used here: name bytes plus value bytes. */
function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    if (value.S !== undefined) size += Buffer.byteLength(value.S);
    else if (value.N !== undefined) size += Math.ceil(value.N.replace(/^-|\./g, '').length / 2) + 1;
  }
  return size;
}

function makeItem(i: number): Item {
  const item: Item = {
    pk: { S: `customer#${String(i).padStart(8, '0')}` },
    sk: { S: 'profile#v1' },
    status: { S: i % 3 === 0 ? 'active' : 'dormant' },
    balance: { N: String((i * 7919) % 1_000_000) },
    updatedAt: { S: new Date(1_700_000_000_000 + i * 1000).toISOString() },
    payload: { S: '' },
  };
  item.payload = { S: 'x'.repeat(ITEM_BYTES - itemSize(item)) };
  return item;
}

function log(line: string): void {
  process.stderr.write(`measure: ${line}\n`);
}

function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

async function createTable(ddb: DynamoDBClient, TableName: string, stream: boolean): Promise<string | undefined> {
  const out = await ddb.send(
    new CreateTableCommand({
      TableName,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
    }),
  );
  await waitUntilTableExists({ client: ddb, maxWaitTime: 60 }, { TableName });
  return out.TableDescription?.LatestStreamArn;
}

/** Writes `count` items with WRITERS concurrent BatchWriteItem loops; returns the elapsed ms. */
async function batchWrite(ddb: DynamoDBClient, TableName: string, count: number): Promise<{ ms: number; retries: number }> {
  let next = 0;
  let retries = 0;
  const started = performance.now();
  const writer = async () => {
    for (;;) {
      const from = next;
      if (from >= count) return;
      next = Math.min(count, from + BATCH);
      let requests: WriteRequest[] = [];
      for (let i = from; i < next; i++) requests.push({ PutRequest: { Item: makeItem(i) } });
      while (requests.length > 0) {
        const out = await ddb.send(new BatchWriteItemCommand({ RequestItems: { [TableName]: requests } }));
        requests = out.UnprocessedItems?.[TableName] ?? [];
        if (requests.length > 0) retries++;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  return { ms: performance.now() - started, retries };
}

async function parallelScan(ddb: DynamoDBClient, TableName: string) {
  const started = performance.now();
  const perSegment = await Promise.all(
    Array.from({ length: SEGMENTS }, async (_, Segment) => {
      let n = 0;
      for await (const page of paginateScan({ client: ddb }, { TableName, Segment, TotalSegments: SEGMENTS })) n += page.Count ?? 0;
      return n;
    }),
  );
  const ms = performance.now() - started;
  const scanned = perSegment.reduce((a, b) => a + b, 0);
  return { itemsScanned: scanned, perSegment, ms: Math.round(ms), itemsPerSec: rate(scanned, ms) };
}

async function allShards(streams: DynamoDBStreamsClient, StreamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let ExclusiveStartShardId: string | undefined;
  do {
    const out = await streams.send(new DescribeStreamCommand({ StreamArn, ExclusiveStartShardId }));
    shards.push(...(out.StreamDescription?.Shards ?? []));
    ExclusiveStartShardId = out.StreamDescription?.LastEvaluatedShardId;
  } while (ExclusiveStartShardId);
  return shards;
}

/** Reads every shard from TRIM_HORIZON until it is closed or returns nothing new. */
async function readStream(streams: DynamoDBStreamsClient, StreamArn: string, shards: Shard[]) {
  let records = 0;
  let calls = 0;
  const started = performance.now();
  for (const shard of shards) {
    let { ShardIterator } = await streams.send(new GetShardIteratorCommand({ StreamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
    while (ShardIterator) {
      const out = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
      calls++;
      const n = out.Records?.length ?? 0;
      records += n;
      ShardIterator = n === 0 ? undefined : out.NextShardIterator;
    }
  }
  const ms = performance.now() - started;
  return { records, getRecordsCalls: calls, ms: Math.round(ms), recordsPerSec: rate(records, ms) };
}

async function measure(name: string, endpoint: string) {
  const client = { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 10 };
  const ddb = new DynamoDBClient(client);
  const streams = new DynamoDBStreamsClient(client);
  try {
    log(`${name}: BatchWriteItem ${ITEMS} items, ${WRITERS} writers`);
    await createTable(ddb, 'measure-load', false);
    const write = await batchWrite(ddb, 'measure-load', ITEMS);
    log(`${name}: parallel scan, ${SEGMENTS} segments`);
    const scan = await parallelScan(ddb, 'measure-load');

    log(`${name}: streams, ${STREAM_ITEMS} items`);
    let streamResult: Record<string, unknown>;
    try {
      const latestStreamArn = await createTable(ddb, 'measure-stream', true);
      const streamWrite = await batchWrite(ddb, 'measure-stream', STREAM_ITEMS);
      const listed = await streams.send(new ListStreamsCommand({ TableName: 'measure-stream' }));
      const arn = listed.Streams?.[0]?.StreamArn ?? latestStreamArn;
      if (!arn) throw new Error('no stream ARN from CreateTable or ListStreams');
      const shards = await allShards(streams, arn);
      const read = await readStream(streams, arn, shards);
      streamResult = {
        works: read.records === STREAM_ITEMS,
        latestStreamArnFromCreateTable: latestStreamArn !== undefined,
        listStreams: listed.Streams?.length ?? 0,
        shards: shards.length,
        writeItemsPerSec: rate(STREAM_ITEMS, streamWrite.ms),
        ...read,
      };
    } catch (err) {
      streamResult = { works: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }

    return {
      endpoint,
      batchWrite: { items: ITEMS, writers: WRITERS, ms: Math.round(write.ms), itemsPerSec: rate(ITEMS, write.ms), unprocessedRetries: write.retries },
      parallelScan: { ...scan, complete: scan.itemsScanned === ITEMS },
      streams: streamResult,
    };
  } finally {
    ddb.destroy();
    streams.destroy();
  }
}

async function main(): Promise<void> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackshift-measure-'));
  const ioHost = defaultIoHost({ level: 'warn' });
  try {
    const { state } = await startLocalAws({ stateDir, env: {}, ioHost });
    const dynamodbLocal = await measure('DynamoDB Local', state.dynamodb.endpoint);
    const moto = await measure('moto', state.moto.endpoint);
    const result = {
      machine: { cpus: os.availableParallelism(), node: process.version, platform: `${os.platform()} ${os.release()}` },
      itemBytes: itemSize(makeItem(0)),
      moto,
      dynamodbLocal,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await stopLocalAws({ stateDir, ioHost });
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
});
