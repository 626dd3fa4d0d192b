import { describe, expect, it } from 'vitest';
import { MAX_SEGMENTS, scanSegmentsFor } from '../../lib/data/scan-segments';

describe('scanSegmentsFor', () => {
  it.each([
    ['an empty table', 0, 0, 8],
    ['a small table', 30_000, 6_000_000, 8],
    ['900k small items: by count', 900_000, 180_000_000, 180],
    ['large items: by size', 10_000, 10 * 1024 ** 3, 320],
    ['a huge table: capped', 100_000_000, 0, MAX_SEGMENTS],
  ])('%s', (_name, items, bytes, expected) => {
    expect(scanSegmentsFor({ approximateItemCount: items, approximateSizeBytes: bytes })).toBe(expected);
  });
});
