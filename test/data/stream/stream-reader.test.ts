/**
 * The stream reader against DynamoDB Local: real shards, real iterators, real checkpoints.
 * DynamoDB Local gives every stream ONE shard that is never split or rolled over (see the report in
 * shard-lineage.test.ts and stream-reader-lineage.test.ts for lineage); disabling the stream closes
 * that shard, which is how a closed shard is tested here.
 */
import { UpdateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_NOT_PLANNED, StreamReader, type StreamReaderProps } from '../../../lib/data/stream/stream-reader';
import type { StreamRecord } from '../../../lib/data/stream/stream-records';
import { ReleaseError } from '../../../lib/errors';
import { RecordingIoHost } from '../../../lib/io';
import { compareSequenceNumbers } from '../../../lib/ledger';
import { injectStreamFaults } from './stream-faults';
import { Collector, streamFixture, type StreamFixture } from './stream-fixture';

let fx: StreamFixture;

beforeAll(async () => {
  fx = await streamFixture('stream-reader');
});
afterAll(() => fx.dispose());

function reader(props: Partial<StreamReaderProps> & Pick<StreamReaderProps, 'streamArn' | 'checkpoints'>, io = new RecordingIoHost()) {
  return new StreamReader({ ioHost: io, client: fx.streamsClient(), pollIntervalMs: 20, backoff: { baseMs: 1, capMs: 5 }, ...props });
}

/** `n` new items, written 25 at a time: n INSERT records. */
async function putItems(tableName: string, n: number, from = 0): Promise<void> {
  for (let start = from; start < from + n; start += 25) {
    const items = Array.from({ length: Math.min(25, from + n - start) }, (_, i) => ({ pk: `p${start + i}`, sk: 'a', v: start + i }));
    await fx.doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: items.map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

function seqs(records: readonly StreamRecord[]): string[] {
  return records.map((r) => r.sequenceNumber);
}

function expectAscendingAndUnique(records: readonly StreamRecord[]): void {
  for (let i = 1; i < records.length; i++) expect(compareSequenceNumbers(records[i - 1]!.sequenceNumber, records[i]!.sequenceNumber)).toBeLessThan(0);
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return ReleaseError.isReleaseError(err) ? err.code : (err as Error).message;
  }
  return undefined;
}

describe('StreamReader', () => {
  it('delivers every INSERT, MODIFY and REMOVE of 500 writes once, in order per key, with both images', async () => {
    // GIVEN 100 keys, each written 5 times: put (INSERT), put, update, put (MODIFY x3), delete (REMOVE),
    // keys written concurrently so that their records interleave in the shard
    const { tableName, streamArn } = await fx.table('all');
    const keys = Array.from({ length: 100 }, (_, i) => ({ pk: `k${i}`, sk: `s${i % 7}` }));
    const expected = new Map<string, Array<Pick<StreamRecord, 'eventName' | 'newImage' | 'oldImage'>>>();
    async function writeKey(key: { pk: string; sk: string }) {
      const v = (n: number) => ({ ...key, v: n, tags: new Set([`t${n}`]), doc: { n, list: [n, `x${n}`] } });
      await fx.doc.send(new PutCommand({ TableName: tableName, Item: v(1) }));
      await fx.doc.send(new PutCommand({ TableName: tableName, Item: v(2) }));
      await fx.doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET v = :v, tags = :t, doc = :d',
          ExpressionAttributeValues: { ':v': 3, ':t': new Set(['t3']), ':d': { n: 3, list: [3, 'x3'] } },
        }),
      );
      await fx.doc.send(new PutCommand({ TableName: tableName, Item: v(4) }));
      await fx.doc.send(new DeleteCommand({ TableName: tableName, Key: key }));
      expected.set(JSON.stringify(key), [
        { eventName: 'INSERT', newImage: v(1), oldImage: undefined },
        { eventName: 'MODIFY', newImage: v(2), oldImage: v(1) },
        { eventName: 'MODIFY', newImage: v(3), oldImage: v(2) },
        { eventName: 'MODIFY', newImage: v(4), oldImage: v(3) },
        { eventName: 'REMOVE', newImage: undefined, oldImage: v(4) },
      ]);
    }
    const queue = [...keys];
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let key = queue.shift(); key; key = queue.shift()) await writeKey(key);
    }));

    // WHEN a reader reads the stream until caught up, 100 records per batch
    const io = new RecordingIoHost();
    const checkpoints = fx.checkpoints();
    const collector = new Collector();
    const result = await reader({ streamArn, checkpoints, batchLimit: 100 }, io).run(collector.apply, { stopWhenCaughtUp: true });

    // THEN all 500 records arrived exactly once, in shard order
    const records = collector.records;
    expect(records).toHaveLength(500);
    expect(result).toMatchObject({ recordsApplied: 500, stoppedBy: 'caught-up' });
    expect(new Set(seqs(records)).size).toBe(500);
    expectAscendingAndUnique(records);
    expect(collector.batches.every((b) => b.records.length <= 100)).toBe(true);

    // AND per key, the five changes in the order they were made, with native images
    const byKey = new Map<string, StreamRecord[]>();
    for (const r of records) {
      const id = JSON.stringify({ pk: r.keys.pk, sk: r.keys.sk });
      byKey.set(id, [...(byKey.get(id) ?? []), r]);
    }
    expect(byKey.size).toBe(100);
    for (const [id, want] of expected) {
      const got = byKey.get(id)!.map((r) => ({ eventName: r.eventName, newImage: r.newImage, oldImage: r.oldImage }));
      expect(got, id).toEqual(want);
    }

    // AND the checkpoint is at the last record, with the total applied
    const [cp] = await checkpoints.list();
    expect(cp).toMatchObject({ sequenceNumber: records[499]!.sequenceNumber, recordsApplied: 500, finished: false });
    expect(io.codes()).toEqual(expect.arrayContaining(['STREAM_I5000', 'STREAM_I5007']));
  });

  it('resumes: a new reader on the same checkpoints delivers only what was written since', async () => {
    // GIVEN a stream read to its end once
    const { tableName, streamArn } = await fx.table('resume');
    await putItems(tableName, 60);
    const syncId = `resume-${Date.now()}`;
    const first = new Collector();
    await reader({ streamArn, checkpoints: fx.checkpoints(syncId), batchLimit: 25 }).run(first.apply, { stopWhenCaughtUp: true });
    expect(first.records).toHaveLength(60);

    // WHEN more is written and a NEW reader with NEW checkpoint objects (same sync id) runs
    await putItems(tableName, 20, 1000);
    const second = new Collector();
    const io = new RecordingIoHost();
    const result = await reader({ streamArn, checkpoints: fx.checkpoints(syncId), batchLimit: 25 }, io).run(second.apply, { stopWhenCaughtUp: true });

    // THEN exactly the 20 new records arrive, after the first run's last one
    expect(second.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 20 }, (_, i) => `p${1000 + i}`));
    expect(compareSequenceNumbers(second.records[0]!.sequenceNumber, first.records[59]!.sequenceNumber)).toBeGreaterThan(0);
    expect(result.recordsApplied).toBe(20);
    expect(io.withCode<{ iteratorType: string }>('STREAM_D5004')[0]?.data?.iteratorType).toBe('AFTER_SEQUENCE_NUMBER');
    expect((await fx.checkpoints(syncId).list())[0]?.recordsApplied).toBe(80);
  });

  it('keeps the checkpoint at the last applied batch when apply throws, and re-delivers from there', async () => {
    // GIVEN 150 records and an apply that fails on its 3rd batch of 50
    const { tableName, streamArn } = await fx.table('kill');
    await putItems(tableName, 150);
    const syncId = `kill-${Date.now()}`;
    const failing = new Collector({ failOnCall: 3 });

    // WHEN the reader runs
    const error = await codeOf(reader({ streamArn, checkpoints: fx.checkpoints(syncId), batchLimit: 50 }).run(failing.apply, { stopWhenCaughtUp: true }));

    // THEN it fails with the apply's error, and the checkpoint is at the end of batch 2
    expect(error).toBe('apply failed on call 3');
    expect(failing.records).toHaveLength(100);
    const [cp] = await fx.checkpoints(syncId).list();
    expect(cp).toMatchObject({ sequenceNumber: failing.records[99]!.sequenceNumber, recordsApplied: 100 });

    // WHEN a new reader runs on the same checkpoints
    const rerun = new Collector();
    await reader({ streamArn, checkpoints: fx.checkpoints(syncId), batchLimit: 50 }).run(rerun.apply, { stopWhenCaughtUp: true });

    // THEN the failed batch and the rest arrive, once, and together with the first run nothing is missing
    expect(rerun.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 50 }, (_, i) => `p${100 + i}`));
    expect(new Set([...seqs(failing.records), ...seqs(rerun.records)]).size).toBe(150);
    expect((await fx.checkpoints(syncId).list())[0]?.recordsApplied).toBe(150);
  });

  it('renews an expired iterator from the checkpoint and loses nothing', async () => {
    // GIVEN 120 records and a client whose 2nd and 4th GetRecords fail with ExpiredIteratorException
    const { tableName, streamArn } = await fx.table('expired');
    await putItems(tableName, 120);
    const client = fx.streamsClient();
    const faults = injectStreamFaults(client, { command: 'GetRecordsCommand', fault: 'expired', calls: [2, 4] });
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs
    await reader({ streamArn, checkpoints: fx.checkpoints(), batchLimit: 40, client }, io).run(collector.apply, { stopWhenCaughtUp: true });

    // THEN every record arrived exactly once, and the renewals were reported
    expect(faults.stats.injected).toBe(2);
    expect(collector.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 120 }, (_, i) => `p${i}`));
    expectAscendingAndUnique(collector.records);
    expect(io.withCode('STREAM_W5005')).toHaveLength(2);
    const renewed = io.withCode<{ iteratorType: string; sequenceNumber?: string }>('STREAM_D5004').slice(1);
    expect(renewed.map((m) => m.data?.sequenceNumber)).toEqual([collector.records[39]!.sequenceNumber, collector.records[79]!.sequenceNumber]);
  });

  it('backs off on throttling and loses nothing', async () => {
    // GIVEN throttled DescribeStream, GetShardIterator and GetRecords calls
    const { tableName, streamArn } = await fx.table('throttle');
    await putItems(tableName, 60);
    const client = fx.streamsClient();
    const faults = [
      injectStreamFaults(client, { command: 'DescribeStreamCommand', fault: 'throttled', calls: [1] }),
      injectStreamFaults(client, { command: 'GetShardIteratorCommand', fault: 'throttled', calls: [1, 2] }),
      injectStreamFaults(client, { command: 'GetRecordsCommand', fault: 'throttled', calls: [2] }),
    ];
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs
    await reader({ streamArn, checkpoints: fx.checkpoints(), batchLimit: 25, client }, io).run(collector.apply, { stopWhenCaughtUp: true });

    // THEN the retries were reported and every record arrived once
    expect(faults.map((f) => f.stats.injected)).toEqual([1, 2, 1]);
    expect(io.withCode('STREAM_W5006')).toHaveLength(4);
    expect(collector.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 60 }, (_, i) => `p${i}`));
  });

  it('continues from the checkpoint after TrimmedDataAccessException from GetRecords, and loses nothing', async () => {
    // GIVEN 60 records and a client whose 1st GetRecords (nothing applied yet) and 3rd (after a
    // checkpoint) answer TrimmedDataAccessException, which alone proves no loss (DynamoDB Local
    // answers it falsely, aws/aws-sdk-java#2923)
    const { tableName, streamArn } = await fx.table('trimmed');
    await putItems(tableName, 60);
    const client = fx.streamsClient();
    const faults = injectStreamFaults(client, { command: 'GetRecordsCommand', fault: 'trimmed', calls: [1, 3] });
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs
    await reader({ streamArn, checkpoints: fx.checkpoints(), batchLimit: 25, client }, io).run(collector.apply, { stopWhenCaughtUp: true });

    // THEN every record arrived exactly once, in order; each renewal was a warning, from TRIM_HORIZON
    // first, then after the last applied record
    expect(faults.stats.injected).toBe(2);
    expect(collector.records.map((r) => r.keys.pk)).toEqual(Array.from({ length: 60 }, (_, i) => `p${i}`));
    expectAscendingAndUnique(collector.records);
    const warnings = io.withCode<{ iteratorType: string; sequenceNumber?: string }>('STREAM_W5012');
    expect(warnings.map((w) => [w.data?.iteratorType, w.data?.sequenceNumber])).toEqual([
      ['TRIM_HORIZON', undefined],
      ['AFTER_SEQUENCE_NUMBER', collector.records[24]!.sequenceNumber],
    ]);
  });

  it('reads a closed shard to its end, finishes it, and returns when the stream is disabled', async () => {
    // GIVEN 60 records, then the stream disabled (DynamoDB Local closes the shard)
    const { tableName, streamArn } = await fx.table('closed');
    await putItems(tableName, 60);
    await fx.dynamodb.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: false } }));
    await waitUntilTableExists({ client: fx.dynamodb, maxWaitTime: 30 }, { TableName: tableName });
    const checkpoints = fx.checkpoints();
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN a reader runs without stopWhenCaughtUp
    const result = await reader({ streamArn, checkpoints, batchLimit: 25 }, io).run(collector.apply);

    // THEN it read everything, marked the shard finished, and stopped by itself
    expect(result.stoppedBy).toBe('stream-disabled');
    expect(collector.records).toHaveLength(60);
    const [cp] = await checkpoints.list();
    expect(cp).toMatchObject({ finished: true, recordsApplied: 60, sequenceNumber: collector.records[59]!.sequenceNumber });
    expect(result.shardsFinished).toEqual([cp!.shardId]);
    expect(io.withCode('STREAM_I5002')).toHaveLength(1);

    // AND a second run has nothing to do
    const again = new Collector();
    expect((await reader({ streamArn, checkpoints }).run(again.apply)).stoppedBy).toBe('stream-disabled');
    expect(again.records).toHaveLength(0);
  });

  it('measures lag from the first record read, then the last applied, 0 once caught up, and stops on the signal', async () => {
    // GIVEN 60 records, and a clock one hour ahead
    const { tableName, streamArn } = await fx.table('lag');
    await putItems(tableName, 60);
    const hour = 3_600_000;
    const clock = () => Date.now() + hour;
    const checkpoints = fx.checkpoints();
    const lagsDuringApply: number[] = [];
    const controller = new AbortController();
    const collector = new Collector({
      onBatch: () => {
        lagsDuringApply.push(r.lag().maxMs);
        if (collector.records.length + 30 >= 60) setTimeout(() => controller.abort(), 300);
      },
    });
    const r: StreamReader = reader({ streamArn, checkpoints, batchLimit: 30, clock });

    // WHEN it runs until the signal stops it
    const result = await r.run(collector.apply, { signal: controller.signal });

    // THEN during the 1st batch, before anything was applied, the lag was the age of its first
    // record, not 0; during the 2nd, the age of the 1st batch's last (ApproximateCreationDateTime is
    // truncated to the minute in DynamoDB Local); after the empty read it is 0; the run stopped cleanly
    expect(result.stoppedBy).toBe('aborted');
    expect(collector.records).toHaveLength(60);
    expect(lagsDuringApply[0]).toBeGreaterThanOrEqual(hour);
    expect(lagsDuringApply[1]).toBeGreaterThanOrEqual(hour);
    expect(lagsDuringApply[1]).toBeLessThan(hour + 120_000);
    expect(r.lag().maxMs).toBe(0);
    expect(Object.keys(r.lag().perShard)).toHaveLength(1);
    const [cp] = await checkpoints.list();
    expect(cp!.lagMs).toBeGreaterThanOrEqual(hour);
  });

  it('is not caught up before it has planned its shards', async () => {
    // GIVEN a reader whose checkpoints are slow to list (the window before it knows its shards)
    const { tableName, streamArn } = await fx.table('unplanned');
    await putItems(tableName, 10);
    const checkpoints = fx.checkpoints();
    const list = checkpoints.list.bind(checkpoints);
    checkpoints.list = async () => {
      await new Promise((r) => setTimeout(r, 300));
      return list();
    };
    const controller = new AbortController();
    const collector = new Collector({ onBatch: () => void setTimeout(() => controller.abort(), 300) });
    const r = reader({ streamArn, checkpoints });

    // WHEN it starts
    const running = r.run(collector.apply, { signal: controller.signal });

    // THEN until then its lag has a pending entry and no shard, and afterwards none pending
    expect(r.lag()).toEqual({ perShard: {}, maxMs: 0, pending: [STREAM_NOT_PLANNED] });
    await running;
    expect(collector.records).toHaveLength(10);
    expect(r.lag().pending).toEqual([]);
  });
});
