import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../../lib/data/stream/micro-batch';

describe('MicroBatcher', () => {
  it('hands the submits of one turn of the event loop over together, each caller getting its own answer', async () => {
    // GIVEN a batcher that doubles and records its groups
    const groups: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      groups.push([...inputs]);
      return inputs.map((i) => i * 2);
    });

    // WHEN three submits are made in one turn, and one more after they were answered
    const first = await Promise.all([batcher.submit(1), batcher.submit(2), batcher.submit(3)]);
    const later = await batcher.submit(4);

    // THEN the first three went as one group, the fourth on its own
    expect(first).toEqual([2, 4, 6]);
    expect(later).toBe(8);
    expect(groups).toEqual([[1, 2, 3], [4]]);
  });

  it('rejects every caller of a failed group, and only them', async () => {
    let calls = 0;
    const batcher = new MicroBatcher<string, string>((inputs) => {
      if (++calls === 1) throw new Error('boom');
      return Promise.resolve(inputs.map((s) => s.toUpperCase()));
    });
    const failed = await Promise.allSettled([batcher.submit('a'), batcher.submit('b')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batcher.submit('c')).toBe('C');
  });
});
