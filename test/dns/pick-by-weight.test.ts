import { describe, expect, it } from 'vitest';
import { pickByWeight } from '../../lib/dns/record-resolver';
import { shareOf } from '../../lib/dns/traffic-router';

const sets = (...weights: number[]) => weights.map((weight, i) => ({ id: `r${i}`, weight }));

/** Draws spread evenly over [0, 1): the share each set gets is exact, not statistical. */
function shares(items: ReturnType<typeof sets>, draws = 1000): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < draws; i++) {
    const chosen = pickByWeight(items, i / draws).id;
    out[chosen] = (out[chosen] ?? 0) + 1;
  }
  return out;
}

describe('pickByWeight', () => {
  it('gives each record set a share of draws equal to its share of the weight', () => {
    expect(shares(sets(10, 90))).toEqual({ r0: 100, r1: 900 });
    expect(shares(sets(1, 1, 2))).toEqual({ r0: 250, r1: 250, r2: 500 });
  });

  it('never picks a zero-weight set while another has weight', () => {
    expect(shares(sets(0, 100, 0))).toEqual({ r1: 1000 });
  });

  it('shares equally when all weights are zero (Route 53 rule)', () => {
    expect(shares(sets(0, 0, 0, 0))).toEqual({ r0: 250, r1: 250, r2: 250, r3: 250 });
  });

  it('handles draws at the very top of the range', () => {
    expect(pickByWeight(sets(5, 5, 0), 0.999999999999).id).toBe('r1');
  });

  it('refuses an empty list', () => {
    expect(() => pickByWeight([], 0.5)).toThrow(RangeError);
  });
});

describe('shareOf', () => {
  const t = (releaseId: string, weight: number) => ({ releaseId, dnsName: `${releaseId}.elb`, weight });

  it('is the percentage of the total weight', () => {
    expect(shareOf([t('a', 10), t('b', 90)], 'a')).toBe(10);
    expect(shareOf([t('a', 1), t('b', 3)], 'b')).toBe(75);
  });

  it('is 0 for an absent release and equal for all-zero weights', () => {
    expect(shareOf([t('a', 100)], 'b')).toBe(0);
    expect(shareOf([t('a', 0), t('b', 0)], 'a')).toBe(50);
  });
});
