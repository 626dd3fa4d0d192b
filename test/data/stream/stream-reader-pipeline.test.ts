/**
 * Read-ahead within a shard (maxBatchesInFlight): batches of one shard applied at once, their
 * checkpoints still written one after the other, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamReader } from '../../../lib/data/stream/stream-reader';
import type { StreamRecordBatch } from '../../../lib/data/stream/stream-records';
import { RecordingIoHost } from '../../../lib/io';
import { ShardCheckpoints, type AdvanceShardOptions, type ShardCheckpoint } from '../../../lib/ledger';
import { FakeStream } from './fake-stream';
import { streamFixture, type StreamFixture } from './stream-fixture';

let fx: StreamFixture;
beforeAll(async () => {
  fx = await streamFixture('stream-pipeline');
});
afterAll(() => fx.dispose());

/** Checkpoints that remember every advance, in the order they were written. */
class RecordedCheckpoints extends ShardCheckpoints {
  public readonly advances: string[] = [];

  public override async advance(shardId: string, options: AdvanceShardOptions): Promise<ShardCheckpoint> {
    const cp = await super.advance(shardId, options);
    this.advances.push(options.sequenceNumber);
    return cp;
  }
}

describe('StreamReader read-ahead', () => {
  it('applies up to maxBatchesInFlight batches of a shard at once and checkpoints them in order', async () => {
    // GIVEN a closed shard of 24 records, and an apply whose first batches are the slowest
    const stream = new FakeStream([{ shardId: 'W', records: 24, closed: true }]);
    const checkpoints = new RecordedCheckpoints(fx.ledger.ledger(), `pipeline-${Date.now()}`);
    let applying = 0;
    let most = 0;
    let call = 0;
    const resolved: number[] = [];
    const apply = async (b: StreamRecordBatch) => {
      const n = ++call;
      applying++;
      most = Math.max(most, applying);
      await sleep(Math.max(5, 60 - n * 10));
      applying--;
      resolved.push(b.records.length === 0 ? -1 : n);
    };

    // WHEN it is read 4 records a batch, 3 batches in flight
    const reader = new StreamReader({ ioHost: new RecordingIoHost(), streamArn: stream.streamArn, checkpoints, client: stream.client, batchLimit: 4, maxBatchesInFlight: 3 });
    const result = await reader.run(apply, { stopWhenCaughtUp: true });

    // THEN batches were applied three at once and resolved out of order
    expect(most).toBe(3);
    expect(resolved).not.toEqual([...resolved].sort((a, b) => a - b));
    // AND yet every checkpoint came after the one before it, the last at the shard's last record
    expect(checkpoints.advances).toHaveLength(6);
    expect([...checkpoints.advances].sort()).toEqual(checkpoints.advances);
    expect(await checkpoints.get('W')).toMatchObject({ finished: true, recordsApplied: 24, sequenceNumber: checkpoints.advances[5] });
    expect(result).toMatchObject({ recordsApplied: 24, batches: 6, shardsFinished: ['W'] });
  });

  it('checkpoints nothing after a batch that failed, even when later batches were applied', async () => {
    // GIVEN an apply that fails on the 2nd batch while the 3rd is applied
    const stream = new FakeStream([{ shardId: 'W', records: 12, closed: true }]);
    const checkpoints = new RecordedCheckpoints(fx.ledger.ledger(), `pipeline-fail-${Date.now()}`);
    let call = 0;
    const apply = async () => {
      const n = ++call;
      await sleep(n === 2 ? 40 : 5);
      if (n === 2) throw new Error('batch 2 failed');
    };

    // WHEN the reader runs THEN it fails, with only the first batch checkpointed
    const reader = new StreamReader({ ioHost: new RecordingIoHost(), streamArn: stream.streamArn, checkpoints, client: stream.client, batchLimit: 4, maxBatchesInFlight: 3 });
    await expect(reader.run(apply, { stopWhenCaughtUp: true })).rejects.toThrow('batch 2 failed');
    expect(call).toBe(3);
    expect(checkpoints.advances).toHaveLength(1);
    expect(await checkpoints.get('W')).toMatchObject({ finished: false, recordsApplied: 4 });
  });
});
