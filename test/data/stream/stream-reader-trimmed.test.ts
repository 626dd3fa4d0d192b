/**
 * TrimmedDataAccessException in the reader, on a simulated stream (fake-stream.ts) behind a client
 * that injects the exception into chosen calls. Checkpoints are real, in DynamoDB Local.
 *
 * The rule under test: TrimmedDataAccessException from GetRecords proves nothing by itself
 * (DynamoDB Local answers it to an iterator taken on an empty shard once a record is written,
 * aws/aws-sdk-java#2923), so the reader continues from its checkpoint (STREAM_W5012). It stops with
 * STREAM_TRIMMED only on evidence that records after the checkpoint left the stream: GetShardIterator
 * refusing the checkpoint, or the checkpoint older than the shard's first available record.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record,
  type DescribeStreamCommandInput,
  type GetRecordsCommandInput,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-dynamodb-streams';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamReader, type ApplyStreamBatch, type StreamReaderProps } from '../../../lib/data/stream/stream-reader';
import type { StreamRecordBatch } from '../../../lib/data/stream/stream-records';
import { ReleaseError } from '../../../lib/errors';
import { RecordingIoHost } from '../../../lib/io';
import type { ShardCheckpoints } from '../../../lib/ledger';
import { FakeStream } from './fake-stream';
import { Collector, streamFixture, type StreamFixture } from './stream-fixture';

let fx: StreamFixture;

beforeAll(async () => {
  fx = await streamFixture('stream-trimmed');
});
afterAll(() => fx.dispose());

interface TrimFaults {
  /** Fail the n-th GetRecords call (1-based) with TrimmedDataAccessException. @default never */
  readonly getRecords?: (n: number, input: GetRecordsCommandInput) => boolean;
  /** Fail the n-th GetShardIterator call (1-based) with TrimmedDataAccessException. @default never */
  readonly getShardIterator?: (n: number, input: GetShardIteratorCommandInput) => boolean;
}

/** A client in front of a FakeStream's that answers chosen calls with TrimmedDataAccessException. */
class TrimmingClient {
  public readonly client = new DynamoDBStreamsClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  public readonly calls = { getRecords: 0, getShardIterator: 0 };
  public readonly injected = { getRecords: 0, getShardIterator: 0 };

  public constructor(stream: FakeStream, faults: TrimFaults) {
    const mock = mockClient(this.client);
    mock.on(DescribeStreamCommand).callsFake((input: DescribeStreamCommandInput) => stream.client.send(new DescribeStreamCommand(input)));
    mock.on(GetShardIteratorCommand).callsFake(async (input: GetShardIteratorCommandInput) => {
      if (faults.getShardIterator?.(++this.calls.getShardIterator, input)) {
        this.injected.getShardIterator++;
        throw trimmedException();
      }
      return stream.client.send(new GetShardIteratorCommand(input));
    });
    mock.on(GetRecordsCommand).callsFake(async (input: GetRecordsCommandInput) => {
      if (faults.getRecords?.(++this.calls.getRecords, input)) {
        this.injected.getRecords++;
        throw trimmedException();
      }
      return stream.client.send(new GetRecordsCommand(input));
    });
  }
}

function trimmedException(): TrimmedDataAccessException {
  return new TrimmedDataAccessException({ message: 'The operation attempted to read past the oldest stream record in a shard.', $metadata: { httpStatusCode: 400 } });
}

function reader(props: Pick<StreamReaderProps, 'streamArn' | 'checkpoints' | 'client'> & Partial<StreamReaderProps>, io: RecordingIoHost): StreamReader {
  return new StreamReader({ ioHost: io, batchLimit: 2, pollIntervalMs: 5, discoveryIntervalMs: 30, backoff: { baseMs: 1, capMs: 5 }, ...props });
}

async function errorOf(p: Promise<unknown>): Promise<ReleaseError> {
  try {
    await p;
  } catch (err) {
    if (ReleaseError.isReleaseError(err)) return err;
    throw err;
  }
  throw new Error('expected the run to fail');
}

/** A checkpoint written before the run, as a previous run would have left it. */
async function seedCheckpoint(checkpoints: ShardCheckpoints, shardId: string, sequenceNumber: string, recordsApplied: number): Promise<void> {
  await checkpoints.advance(shardId, { sequenceNumber, recordsApplied, approximateCreationMs: Date.now(), lagMs: 0 });
}

/** `n` sequence numbers as DynamoDB writes them (21 digits), from 1001 on. */
function sequenceNumbers(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(1001 + i).padStart(21, '0'));
}

/** Records with the given sequence numbers (keys k0, k1, ...). */
function wire(sequenceNumbers: readonly string[]): _Record[] {
  return sequenceNumbers.map((SequenceNumber, i) => {
    const Keys = { pk: { S: `k${i}` }, sk: { S: 'x' } };
    return { eventName: 'INSERT', dynamodb: { ApproximateCreationDateTime: new Date(), SequenceNumber, Keys, NewImage: { ...Keys } } };
  });
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('StreamReader and TrimmedDataAccessException from GetRecords', () => {
  it.each([
    { times: 'once', failing: [2] },
    { times: 'twice in a row', failing: [2, 3] },
  ])('continues from the checkpoint when GetRecords throws it $times, and applies every record once, in order', async ({ failing }) => {
    // GIVEN a shard of 7 records read 2 at a time, whose 2nd GetRecords (after the first batch was
    // checkpointed) answers TrimmedDataAccessException
    const stream = new FakeStream([{ shardId: 'S', records: 7 }]);
    const faulty = new TrimmingClient(stream, { getRecords: (n) => failing.includes(n) });
    const checkpoints = fx.checkpoints();
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader reads until caught up
    const result = await reader({ streamArn: stream.streamArn, checkpoints, client: faulty.client }, io).run(collector.apply, { stopWhenCaughtUp: true });

    // THEN every record arrived exactly once, in shard order, and the checkpoint is at the last one
    expect(faulty.injected.getRecords).toBe(failing.length);
    expect(collector.records.map((r) => r.keys.pk)).toEqual(stream.keysOf('S'));
    expect(result.recordsApplied).toBe(7);
    expect(await checkpoints.get('S')).toMatchObject({ recordsApplied: 7, sequenceNumber: collector.records[6]!.sequenceNumber });

    // AND each renewal was reported (a warning, not an error) and went on after the checkpoint
    const warnings = io.withCode<{ shardId: string; iteratorType: string; sequenceNumber?: string; renewals: number }>('STREAM_W5012');
    expect(warnings.map((w) => w.data)).toEqual(
      failing.map((_, i) => expect.objectContaining({ shardId: 'S', iteratorType: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: collector.records[1]!.sequenceNumber, renewals: i + 1 })),
    );
    expect(stream.iteratorRequests.map((r) => r.type)).toEqual(['TRIM_HORIZON', ...failing.map(() => 'AFTER_SEQUENCE_NUMBER')]);
    expect(io.codes()).not.toContain('STREAM_TRIMMED');
  });

  it('drains the batches in flight before it renews, so the renewal starts after the last record read', async () => {
    // GIVEN read-ahead (3 batches in flight), a slow apply, and a TrimmedDataAccessException on the 3rd read
    const stream = new FakeStream([{ shardId: 'S', records: 10 }]);
    const faulty = new TrimmingClient(stream, { getRecords: (n) => n === 3 });
    const checkpoints = fx.checkpoints();
    const io = new RecordingIoHost();
    const collector = new Collector();
    const slow: ApplyStreamBatch = async (b: StreamRecordBatch) => {
      await sleep(20);
      await collector.apply(b);
    };

    // WHEN the reader reads until caught up
    await reader({ streamArn: stream.streamArn, checkpoints, client: faulty.client, maxBatchesInFlight: 3 }, io).run(slow, { stopWhenCaughtUp: true });

    // THEN the renewal came after both batches read before the fault were applied, and nothing was read twice
    expect(collector.records.map((r) => r.keys.pk)).toEqual(stream.keysOf('S'));
    expect(io.withCode<{ sequenceNumber?: string }>('STREAM_W5012').map((w) => w.data?.sequenceNumber)).toEqual([collector.records[3]!.sequenceNumber]);
  });

  it('reads records written to a shard that was empty when its iterator was taken (the DynamoDB Local defect)', async () => {
    // GIVEN an empty open shard, and a GetRecords that answers TrimmedDataAccessException once
    // records were written to it, as DynamoDB Local does
    const stream = new FakeStream([{ shardId: 'E', records: 0 }]);
    let written = false;
    let armed = true;
    const faulty = new TrimmingClient(stream, {
      getRecords: () => {
        if (!written || !armed) return false;
        armed = false;
        return true;
      },
    });
    const io = new RecordingIoHost();
    const collector = new Collector();
    const controller = new AbortController();
    const running = reader({ streamArn: stream.streamArn, checkpoints: fx.checkpoints(), client: faulty.client }, io).run(collector.apply, { signal: controller.signal });

    // WHEN the reader polled the empty shard a while, then 5 records are written
    await until('empty reads', () => faulty.calls.getRecords >= 3);
    stream.append('E', 5);
    written = true;
    await until('5 records applied', () => collector.records.length >= 5);
    controller.abort();
    const result = await running;

    // THEN the reader did not die: it renewed from TRIM_HORIZON (nothing applied yet) and applied all 5 once
    expect(result.stoppedBy).toBe('aborted');
    expect(faulty.injected.getRecords).toBe(1);
    expect(collector.records.map((r) => r.keys.pk)).toEqual(stream.keysOf('E'));
    expect(io.withCode<{ iteratorType: string }>('STREAM_W5012').map((w) => w.data?.iteratorType)).toEqual(['TRIM_HORIZON']);
    expect(stream.iteratorRequests.map((r) => r.type)).toEqual(['TRIM_HORIZON', 'TRIM_HORIZON']);
  });
});

describe('StreamReader decides STREAM_TRIMMED on evidence only', () => {
  it('stops with STREAM_TRIMMED when the checkpoint is older than the shard\'s first available record (compared as 40-digit integers)', async () => {
    // GIVEN a shard whose first available record is ...891 (40 digits), a checkpoint at ...890 left by
    // an earlier run (as JavaScript numbers the two are equal), and a GetRecords that always answers Trimmed
    const base = '123456789012345678901234567890123456789';
    const stream = new FakeStream([{ shardId: 'S', records: 3, wire: wire([`${base}1`, `${base}2`, `${base}3`]) }]);
    expect(Number(`${base}0`)).toBe(Number(`${base}1`));
    const faulty = new TrimmingClient(stream, { getRecords: () => true });
    const checkpoints = fx.checkpoints();
    await seedCheckpoint(checkpoints, 'S', `${base}0`, 4);
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs
    const err = await errorOf(reader({ streamArn: stream.streamArn, checkpoints, client: faulty.client }, io).run(collector.apply, { stopWhenCaughtUp: true }));

    // THEN it renewed from the checkpoint 5 times, then found the evidence and stopped with STREAM_TRIMMED
    expect(err.code).toBe('STREAM_TRIMMED');
    expect(io.withCode('STREAM_W5012')).toHaveLength(5);
    expect(faulty.injected.getRecords).toBe(6);
    expect(collector.records).toHaveLength(0);
    expect(await checkpoints.get('S')).toMatchObject({ sequenceNumber: `${base}0`, recordsApplied: 4 });
  });

  it('stops with STREAM_TRIMMED when GetShardIterator refuses the checkpoint with TrimmedDataAccessException', async () => {
    // GIVEN a checkpoint from an earlier run, and a GetShardIterator that always refuses it
    const seqs = sequenceNumbers(5);
    const stream = new FakeStream([{ shardId: 'S', records: 5, wire: wire(seqs) }]);
    const faulty = new TrimmingClient(stream, { getShardIterator: (_, input) => input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' });
    const checkpoints = fx.checkpoints();
    await seedCheckpoint(checkpoints, 'S', seqs[1]!, 2);
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs THEN it stops with STREAM_TRIMMED at once, nothing applied
    const err = await errorOf(reader({ streamArn: stream.streamArn, checkpoints, client: faulty.client }, io).run(collector.apply, { stopWhenCaughtUp: true }));
    expect(err.code).toBe('STREAM_TRIMMED');
    expect(faulty.injected.getShardIterator).toBe(1);
    expect(collector.records).toHaveLength(0);
    expect(io.withCode('STREAM_W5012')).toHaveLength(0);
  });

  it('stops with STREAM_TRIMMED when, after a Trimmed GetRecords, the renewal from the checkpoint is refused', async () => {
    // GIVEN a shard of 6 records, a 2nd GetRecords that answers Trimmed, and every GetShardIterator
    // after a sequence number refused (the records after the checkpoint aged out meanwhile)
    const stream = new FakeStream([{ shardId: 'S', records: 6 }]);
    const faulty = new TrimmingClient(stream, { getRecords: (n) => n === 2, getShardIterator: (_, input) => input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' });
    const checkpoints = fx.checkpoints();
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs
    const err = await errorOf(reader({ streamArn: stream.streamArn, checkpoints, client: faulty.client }, io).run(collector.apply, { stopWhenCaughtUp: true }));

    // THEN the first batch was applied and checkpointed, then the refusal was the evidence
    expect(err.code).toBe('STREAM_TRIMMED');
    expect(collector.records.map((r) => r.keys.pk)).toEqual(stream.keysOf('S').slice(0, 2));
    expect(io.withCode('STREAM_W5012')).toHaveLength(1);
    expect(await checkpoints.get('S')).toMatchObject({ recordsApplied: 2 });
  });

  it.each([
    { checkpoint: 'within the shard', seed: true },
    { checkpoint: 'none (read from TRIM_HORIZON)', seed: false },
  ])('without evidence (checkpoint: $checkpoint), a persistent Trimmed GetRecords stops the reader with STREAM_TRIM_UNCONFIRMED, not STREAM_TRIMMED', async ({ seed }) => {
    // GIVEN a shard of 5 records and a GetRecords that always answers TrimmedDataAccessException
    const seqs = sequenceNumbers(5);
    const stream = new FakeStream([{ shardId: 'S', records: 5, wire: wire(seqs) }]);
    const faulty = new TrimmingClient(stream, { getRecords: () => true });
    const checkpoints = fx.checkpoints();
    const at = seqs[2]!;
    if (seed) await seedCheckpoint(checkpoints, 'S', at, 3);
    const io = new RecordingIoHost();
    const collector = new Collector();

    // WHEN the reader runs
    const err = await errorOf(reader({ streamArn: stream.streamArn, checkpoints, client: faulty.client }, io).run(collector.apply, { stopWhenCaughtUp: true }));

    // THEN after 5 renewals it stops, but does not claim that records were lost; the checkpoint is intact
    expect(err.code).toBe('STREAM_TRIM_UNCONFIRMED');
    expect(io.withCode('STREAM_W5012')).toHaveLength(5);
    expect(collector.records).toHaveLength(0);
    expect((await checkpoints.get('S'))?.sequenceNumber).toBe(seed ? at : undefined);
  });
});
