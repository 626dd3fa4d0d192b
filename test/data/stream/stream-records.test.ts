import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import { ReleaseError } from '../../../lib/errors';
import { exactNumber, toStreamRecord } from '../../../lib/data/stream/stream-records';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return ReleaseError.isReleaseError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('exactNumber', () => {
  it.each([
    ['0', 0],
    ['-0', -0],
    ['42', 42],
    ['-17.25', -17.25],
    ['0.1', 0.1],
    ['1.50', 1.5],
    ['1E+3', 1000],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['123456789.123456', 123456789.123456],
  ])('reads %s as the number %d', (text, value) => {
    expect(exactNumber(text)).toBe(value);
  });

  it.each(['9007199254740993', '12345678901234567890', '0.12345678901234567891', '1E+400', '3.141592653589793238'])(
    'refuses %s, which a JavaScript number would change',
    (text) => {
      expect(codeOf(() => exactNumber(text))).toBe('STREAM_NUMBER_PRECISION');
    },
  );
});

describe('toStreamRecord', () => {
  const wire = (over: Partial<NonNullable<_Record['dynamodb']>> = {}, eventName: _Record['eventName'] = 'MODIFY'): _Record => ({
    eventName,
    dynamodb: {
      ApproximateCreationDateTime: new Date('2030-01-01T00:00:05Z'),
      SequenceNumber: '000000000000000000042',
      Keys: { pk: { S: 'p' }, sk: { N: '7' } },
      NewImage: { pk: { S: 'p' }, sk: { N: '7' }, tags: { SS: ['a', 'b'] }, m: { M: { n: { N: '1.5' }, l: { L: [{ BOOL: true }, { NULL: true }] } } } },
      OldImage: { pk: { S: 'p' }, sk: { N: '7' }, v: { N: '1' } },
      ...over,
    },
  });

  it('unmarshalls keys and both images to native values', () => {
    // GIVEN a MODIFY record as GetRecords returns it
    // WHEN it is converted
    const r = toStreamRecord('shard-1', wire());

    // THEN every field is native
    expect(r).toEqual({
      eventName: 'MODIFY',
      sequenceNumber: '000000000000000000042',
      approximateCreationMs: Date.parse('2030-01-01T00:00:05Z'),
      keys: { pk: 'p', sk: 7 },
      newImage: { pk: 'p', sk: 7, tags: new Set(['a', 'b']), m: { n: 1.5, l: [true, null] } },
      oldImage: { pk: 'p', sk: 7, v: 1 },
    });
  });

  it('leaves out the images a record does not have', () => {
    const r = toStreamRecord('shard-1', wire({ NewImage: undefined }, 'REMOVE'));
    expect(r.eventName).toBe('REMOVE');
    expect('newImage' in r).toBe(false);
    expect(r.oldImage).toEqual({ pk: 'p', sk: 7, v: 1 });
  });

  it('fails loudly, naming shard and record, on a number it cannot carry exactly', () => {
    // GIVEN an image with a 20-digit integer
    const big = wire({ NewImage: { pk: { S: 'p' }, sk: { N: '7' }, n: { N: '12345678901234567890' } } });

    // WHEN it is converted THEN STREAM_NUMBER_PRECISION names the shard and sequence number
    try {
      toStreamRecord('shard-9', big);
      expect.unreachable();
    } catch (err) {
      expect(ReleaseError.isReleaseError(err) && err.code).toBe('STREAM_NUMBER_PRECISION');
      expect((err as Error).message).toContain('shard-9');
      expect((err as Error).message).toContain('000000000000000000042');
    }
  });

  it('refuses a record without keys or a known event name', () => {
    expect(codeOf(() => toStreamRecord('s', wire({ Keys: undefined })))).toBe('STREAM_RECORD_INVALID');
    expect(codeOf(() => toStreamRecord('s', { ...wire(), eventName: undefined }))).toBe('STREAM_RECORD_INVALID');
    expect(codeOf(() => toStreamRecord('s', wire({ ApproximateCreationDateTime: undefined })))).toBe('STREAM_RECORD_INVALID');
  });
});
