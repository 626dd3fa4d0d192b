/**
 * Lineage in the reader itself, on a simulated stream with split shards (DynamoDB Local never
 * splits or rolls over a shard: its ShardRolloverJobScheduler is never started by the server, and
 * the `[TEST_CONTROL]` hook that would trigger a rollover is disabled). Checkpoints are real, in
 * DynamoDB Local.
 *
 *   P (closed, 6) ─┬─ C1 (closed, 3) ── G (open, 2)
 *                  └─ C2 (open, 4)
 *   T (open, 3), whose parent "trimmed-0" is no longer listed
 *   N (open, 2), listed only from the 3rd DescribeStream on
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamReader } from '../../../lib/data/stream/stream-reader';
import { ReleaseError } from '../../../lib/errors';
import { RecordingIoHost } from '../../../lib/io';
import { FakeStream } from './fake-stream';
import { Collector, streamFixture, type StreamFixture } from './stream-fixture';

let fx: StreamFixture;

beforeAll(async () => {
  fx = await streamFixture('stream-lineage');
});
afterAll(() => fx.dispose());

function splitStream(): FakeStream {
  return new FakeStream([
    { shardId: 'G', parentShardId: 'C1', records: 2 },
    { shardId: 'C2', parentShardId: 'P', records: 4 },
    { shardId: 'C1', parentShardId: 'P', records: 3, closed: true },
    { shardId: 'P', records: 6, closed: true },
    { shardId: 'T', parentShardId: 'trimmed-0', records: 3 },
    { shardId: 'N', records: 2, listedFromRound: 3 },
  ]);
}

describe('StreamReader lineage', () => {
  it('reads parents to their end before children, roots concurrently, and finds new shards', async () => {
    // GIVEN the split stream, and an apply that takes a little time per batch
    const stream = splitStream();
    const checkpoints = fx.checkpoints();
    const io = new RecordingIoHost();
    const applied: string[] = [];
    const collector = new Collector({ onBatch: (b) => applied.push(...b.records.map((r) => r.keys.pk as string)) });
    const slowApply = async (b: Parameters<Collector['apply']>[0]) => {
      await sleep(5);
      await collector.apply(b);
    };

    // WHEN a reader reads it until caught up, 2 records per batch
    const reader = new StreamReader({
      ioHost: io,
      streamArn: stream.streamArn,
      checkpoints,
      client: stream.client,
      batchLimit: 2,
      pollIntervalMs: 5,
      discoveryIntervalMs: 30,
    });
    const result = await reader.run(slowApply, { stopWhenCaughtUp: true });

    // THEN every record of every shard arrived once, each shard in its own order
    const all = ['P', 'C1', 'C2', 'G', 'T', 'N'];
    expect([...applied].sort()).toEqual(all.flatMap((s) => stream.keysOf(s)).sort());
    for (const s of all) expect(applied.filter((k) => k.startsWith(`${s}#`))).toEqual(stream.keysOf(s));

    // AND a child's first record came after its parent's last one
    const first = (s: string) => applied.findIndex((k) => k.startsWith(`${s}#`));
    const last = (s: string) => applied.findLastIndex((k) => k.startsWith(`${s}#`));
    expect(first('C1')).toBeGreaterThan(last('P'));
    expect(first('C2')).toBeGreaterThan(last('P'));
    expect(first('G')).toBeGreaterThan(last('C1'));

    // AND unrelated shards were read at the same time (T, whose parent was trimmed, did not wait for P)
    expect(first('T')).toBeLessThan(last('P'));

    // AND children started at TRIM_HORIZON, closed shards are finished, open ones are not
    for (const s of ['C1', 'C2', 'G', 'T', 'N']) {
      expect(stream.iteratorRequests.filter((r) => r.shardId === s).map((r) => r.type)).toEqual(['TRIM_HORIZON']);
    }
    const cps = new Map((await checkpoints.list()).map((c) => [c.shardId, c]));
    expect([...cps.values()].filter((c) => c.finished).map((c) => c.shardId).sort()).toEqual(['C1', 'P']);
    expect(cps.get('C1')).toMatchObject({ parentShardId: 'P', recordsApplied: 3 });
    expect(cps.get('G')?.sequenceNumber).toBe(collector.records.find((r) => r.keys.pk === 'G#1')?.sequenceNumber);
    expect(result).toMatchObject({ recordsApplied: 20, stoppedBy: 'caught-up' });
    expect([...result.shardsFinished].sort()).toEqual(['C1', 'P']);

    // AND the shard that appeared later was reported
    expect(io.withCode<{ shardId: string }>('STREAM_D5003').map((m) => m.data?.shardId)).toContain('N');
    expect(stream.describeRounds).toBeGreaterThanOrEqual(3);
  });

  it('continues a split stream from the checkpoints: finished shards are skipped, children go on', async () => {
    // GIVEN a first run that stopped with P finished and C1 half read (apply failed there)
    const stream = splitStream();
    const syncId = `lineage-resume-${Date.now()}`;
    let c1Batches = 0;
    const failing = async (b: { shardId: string }) => {
      if (b.shardId === 'C1' && ++c1Batches === 2) throw new Error('crash in C1');
    };
    const reader = (client = stream.client) =>
      new StreamReader({ ioHost: new RecordingIoHost(), streamArn: stream.streamArn, checkpoints: fx.checkpoints(syncId), client, batchLimit: 2, pollIntervalMs: 5, discoveryIntervalMs: 30 });
    await expect(reader().run(failing, { stopWhenCaughtUp: true })).rejects.toThrow('crash in C1');
    expect(await fx.checkpoints(syncId).get('P')).toMatchObject({ finished: true });
    expect(await fx.checkpoints(syncId).get('C1')).toMatchObject({ finished: false, recordsApplied: 2 });

    // WHEN a new reader continues
    const again = new Collector();
    await reader().run(again.apply, { stopWhenCaughtUp: true });

    // THEN P is not read again, and C1 continues after its checkpoint with its last record only
    const keys = again.records.map((r) => r.keys.pk as string);
    expect(keys.filter((k) => k.startsWith('P#'))).toEqual([]);
    expect(keys.filter((k) => k.startsWith('C1#'))).toEqual(['C1#2']);
    expect(keys.filter((k) => k.startsWith('G#'))).toEqual(['G#0', 'G#1']);
    expect(stream.iteratorRequests.filter((r) => r.shardId === 'C1').map((r) => r.type)).toEqual(['TRIM_HORIZON', 'AFTER_SEQUENCE_NUMBER']);
  });

  it('stops with STREAM_TRIMMED when a shard it was reading left the description unfinished', async () => {
    // GIVEN a checkpoint in shard "old", half read, which the stream no longer lists
    const stream = splitStream();
    const checkpoints = fx.checkpoints();
    await checkpoints.advance('old', { sequenceNumber: '000000000000000000500', recordsApplied: 10, approximateCreationMs: 0, lagMs: 0 });

    // WHEN the reader starts THEN it refuses to go on
    const reader = new StreamReader({ ioHost: new RecordingIoHost(), streamArn: stream.streamArn, checkpoints, client: stream.client });
    const err = await reader.run(async () => undefined, { stopWhenCaughtUp: true }).catch((e: unknown) => e);
    expect(ReleaseError.isReleaseError(err) && err.code).toBe('STREAM_TRIMMED');
    expect((err as Error).message).toContain('old');
  });
});
