/**
 * A stream reader on a quiet stream, against DynamoDB Local: started on an empty stream, and idle
 * at the end of its shard, then written to. DynamoDB Local answers GetRecords with
 * TrimmedDataAccessException when the iterator was taken on an empty shard and a record is then
 * written (aws/aws-sdk-java#2923); here that shows when another stream-enabled table was written
 * meanwhile (its sequence numbers come from one counter for all streams). A sync once died of it
 * with STREAM_TRIMMED at the first write; nothing was lost. The reader must carry on and apply
 * everything. Whether this DynamoDB Local shows the defect is probed on the side: the test does not
 * depend on it, but when it shows, the reader must have reported its renewal (STREAM_W5012).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamReader } from '../../../lib/data/stream/stream-reader';
import { RecordingIoHost } from '../../../lib/io';
import { Collector, streamFixture, type StreamFixture } from '../../data/stream/stream-fixture';

let fx: StreamFixture;

beforeAll(async () => {
  fx = await streamFixture('quiet-start');
});
afterAll(() => fx.dispose());

async function putItems(tableName: string, from: number, n: number): Promise<void> {
  for (let start = from; start < from + n; start += 25) {
    const items = Array.from({ length: Math.min(25, from + n - start) }, (_, i) => ({ pk: `p${start + i}`, sk: 'a', v: start + i }));
    await fx.doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: items.map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

/** Writes to another stream-enabled table: DynamoDB Local's shared sequence counter moves on. */
async function writeElsewhere(tableName: string, tag: string): Promise<void> {
  for (let i = 0; i < 3; i++) await fx.doc.send(new PutCommand({ TableName: tableName, Item: { pk: `${tag}${i}`, sk: 'o' } }));
}

/** An iterator of our own at the same place as the reader's, to see whether DynamoDB Local's defect shows. */
async function probeIterator(client: DynamoDBStreamsClient, streamArn: string, sequenceNumber?: string): Promise<string> {
  const shardId = (await client.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!.Shards![0]!.ShardId!;
  const out = await client.send(
    new GetShardIteratorCommand(
      sequenceNumber
        ? { StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: sequenceNumber }
        : { StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' },
    ),
  );
  return out.ShardIterator!;
}

async function defectShows(client: DynamoDBStreamsClient, iterator: string): Promise<boolean> {
  try {
    await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    return false;
  } catch (err) {
    if ((err as Error).name === 'TrimmedDataAccessException') return true;
    throw err;
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('stream reader on a quiet stream (DynamoDB Local)', () => {
  it('started on an empty stream, and idle at the end, applies every item written after a quiet second', async () => {
    // GIVEN an empty stream-enabled table, another stream-enabled table, and a reader started on the empty stream
    const { tableName, streamArn } = await fx.table('source');
    const other = await fx.table('other');
    const probe = fx.streamsClient();
    const io = new RecordingIoHost();
    const checkpoints = fx.checkpoints();
    const collector = new Collector();
    const controller = new AbortController();
    const reader = new StreamReader({ ioHost: io, streamArn, checkpoints, client: fx.streamsClient(), pollIntervalMs: 50, batchLimit: 25 });
    const running = reader.run(collector.apply, { signal: controller.signal });
    let failure: unknown;
    running.catch((err: unknown) => {
      failure = err;
    });
    await until('the reader polling its empty shard', () => reader.lag().pending.length === 0 && Object.keys(reader.lag().perShard).length === 1);
    const emptyProbe = await probeIterator(probe, streamArn);

    // WHEN, after a quiet second, another table is written and then 40 items to the source
    await sleep(1000);
    await writeElsewhere(other.tableName, 'a');
    await putItems(tableName, 0, 40);
    await until('40 records applied', () => collector.records.length >= 40 || failure !== undefined);

    // THEN the reader did not die, and applied all 40 once, in order
    expect(failure).toBeUndefined();
    expect(collector.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 40 }, (_, i) => `p${i}`));
    const firstDefect = await defectShows(probe, emptyProbe);

    // WHEN the reader is idle at the end of its shard for a second, another table is written, then 30 more items
    const endProbe = await probeIterator(probe, streamArn, collector.records[39]!.sequenceNumber);
    await sleep(1000);
    await writeElsewhere(other.tableName, 'b');
    await putItems(tableName, 40, 30);
    await until('70 records applied', () => collector.records.length >= 70 || failure !== undefined);
    controller.abort();
    const result = await running;

    // THEN all 70 arrived exactly once, in order, and the checkpoint holds them all
    expect(result.stoppedBy).toBe('aborted');
    expect(collector.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 70 }, (_, i) => `p${i}`));
    expect((await checkpoints.list())[0]).toMatchObject({ recordsApplied: 70, sequenceNumber: collector.records[69]!.sequenceNumber });
    expect(io.codes()).not.toContain('STREAM_TRIMMED');

    // AND where this DynamoDB Local shows its defect, the reader reported the renewal (from TRIM_HORIZON
    // for the empty start) instead of failing
    const endDefect = await defectShows(probe, endProbe);
    const renewals = io.withCode<{ iteratorType: string }>('STREAM_W5012').map((w) => w.data?.iteratorType);
    process.stdout.write(`DynamoDB Local defect shown: empty start ${firstDefect}, idle end ${endDefect}; reader renewals: ${JSON.stringify(renewals)}\n`);
    if (firstDefect) expect(renewals).toContain('TRIM_HORIZON');
    if (endDefect) expect(renewals).toContain('AFTER_SEQUENCE_NUMBER');
    if (!firstDefect && !endDefect) expect(renewals).toEqual([]);
  });
});
