import { describe, expect, it } from 'vitest';
import { planShardReads, type ShardInfo, type ShardProgress } from '../../../lib/data/stream/shard-lineage';

const ids = (list: readonly { shardId: string }[]) => list.map((s) => s.shardId);

/**
 * A stream after two rounds of splits, as DescribeStream lists it (children before parents on
 * purpose: the order of the description must not matter):
 *
 *   root-a ─┬─ a1 ── a1x
 *           └─ a2
 *   root-b
 */
const STREAM: ShardInfo[] = [
  { shardId: 'a1x', parentShardId: 'a1' },
  { shardId: 'a2', parentShardId: 'root-a' },
  { shardId: 'a1', parentShardId: 'root-a' },
  { shardId: 'root-a' },
  { shardId: 'root-b' },
];

describe('planShardReads', () => {
  it('reads roots first; every descendant waits for its own parent', () => {
    // GIVEN no checkpoints
    // WHEN the reads are planned
    const plan = planShardReads(STREAM, []);

    // THEN only the roots are readable, from TRIM_HORIZON, and each child waits for its parent
    expect(plan.readable).toEqual([
      { shardId: 'root-a', start: { type: 'TRIM_HORIZON' } },
      { shardId: 'root-b', start: { type: 'TRIM_HORIZON' } },
    ]);
    expect(plan.waiting.map((w) => [w.shardId, w.waitingFor]).sort()).toEqual([
      ['a1', 'root-a'],
      ['a1x', 'a1'],
      ['a2', 'root-a'],
    ]);
    expect(plan.finished).toEqual([]);
    expect(plan.lost).toEqual([]);
  });

  it('makes the children of a finished parent readable at TRIM_HORIZON, but not the grandchildren', () => {
    // GIVEN root-a read to its end, root-b half read
    const progress: ShardProgress[] = [
      { shardId: 'root-a', finished: true, sequenceNumber: '300' },
      { shardId: 'root-b', finished: false, sequenceNumber: '250' },
    ];

    // WHEN the reads are planned
    const plan = planShardReads(STREAM, progress);

    // THEN a1 and a2 start at their first record, root-b continues after its checkpoint, a1x still waits
    expect(plan.readable).toEqual([
      { shardId: 'a2', parentShardId: 'root-a', start: { type: 'TRIM_HORIZON' } },
      { shardId: 'a1', parentShardId: 'root-a', start: { type: 'TRIM_HORIZON' } },
      { shardId: 'root-b', start: { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '250' } },
    ]);
    expect(plan.waiting).toEqual([{ shardId: 'a1x', parentShardId: 'a1', waitingFor: 'a1' }]);
    expect(plan.finished).toEqual(['root-a']);
  });

  it('never lists a parent and its child as readable together, whatever is finished', () => {
    // GIVEN every combination of finished shards
    const shardIds = STREAM.map((s) => s.shardId);
    for (let mask = 0; mask < 1 << shardIds.length; mask++) {
      const progress = shardIds.filter((_, i) => mask & (1 << i)).map((shardId) => ({ shardId, finished: true }));

      // WHEN the reads are planned
      const plan = planShardReads(STREAM, progress);

      // THEN no readable shard has a readable or unfinished listed parent, and every shard is in exactly one list
      const finished = new Set(plan.finished);
      for (const r of plan.readable) {
        if (r.parentShardId !== undefined) expect(finished.has(r.parentShardId)).toBe(true);
      }
      const all = [...ids(plan.readable), ...ids(plan.waiting), ...plan.finished].sort();
      expect(all).toEqual([...shardIds].sort());
    }
  });

  it('reads a shard whose parent was trimmed (no longer in the description) at once', () => {
    // GIVEN a stream whose oldest shards aged out: a1's parent root-a is gone, and we never read it
    const stream = STREAM.filter((s) => s.shardId !== 'root-a');

    // WHEN the reads are planned
    const plan = planShardReads(stream, []);

    // THEN a1 and a2 are readable; a1x still waits for a1
    expect(ids(plan.readable)).toEqual(['a2', 'a1', 'root-b']);
    expect(ids(plan.waiting)).toEqual(['a1x']);
    expect(plan.lost).toEqual([]);
  });

  it('reports a shard that left the description before it was read to its end as lost', () => {
    // GIVEN root-a was being read (checkpoint at 120, not finished) and has aged out since
    const stream = STREAM.filter((s) => s.shardId !== 'root-a');
    const progress: ShardProgress[] = [{ shardId: 'root-a', finished: false, sequenceNumber: '120' }];

    // WHEN the reads are planned
    const plan = planShardReads(stream, progress);

    // THEN root-a is lost (records after 120 are gone)
    expect(plan.lost).toEqual(['root-a']);
  });

  it('keeps a finished shard that aged out as finished, not lost', () => {
    // GIVEN root-a finished and gone from the description
    const stream = STREAM.filter((s) => s.shardId !== 'root-a');

    // WHEN the reads are planned
    const plan = planShardReads(stream, [{ shardId: 'root-a', finished: true, sequenceNumber: '300' }]);

    // THEN nothing is lost and its children are readable
    expect(plan.lost).toEqual([]);
    expect(plan.finished).toEqual(['root-a']);
    expect(ids(plan.readable)).toEqual(['a2', 'a1', 'root-b']);
  });

  it('plans a long chain one generation at a time', () => {
    // GIVEN a chain s0 → s1 → ... → s5 (a shard rolled over five times)
    const chain: ShardInfo[] = Array.from({ length: 6 }, (_, i) => (i === 0 ? { shardId: 's0' } : { shardId: `s${i}`, parentShardId: `s${i - 1}` }));

    // WHEN the shards are finished one by one
    const order: string[] = [];
    const progress: ShardProgress[] = [];
    for (let step = 0; step < 10; step++) {
      const plan = planShardReads([...chain].reverse(), progress);
      if (plan.readable.length === 0) break;
      // THEN exactly one shard is readable at each step
      expect(plan.readable).toHaveLength(1);
      order.push(plan.readable[0]!.shardId);
      progress.push({ shardId: plan.readable[0]!.shardId, finished: true });
    }
    expect(order).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
  });
});
