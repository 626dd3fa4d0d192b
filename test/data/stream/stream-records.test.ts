import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import { ReleaseError } from '../../../lib/errors';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { readNumber } from '../../../lib/item/numbers';
import { toStreamRecord } from '../../../lib/data/stream/stream-records';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return ReleaseError.isReleaseError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('readNumber', () => {
  it.each([
    ['0', 0],
    ['42', 42],
    ['-17.25', -17.25],
    ['0.1', 0.1],
    ['1e-130', 1e-130],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['123456789.123456', 123456789.123456],
  ])('reads %s as the number %d', (text, value) => {
    expect(readNumber(text)).toBe(value);
  });

  it.each(['9007199254740993', '12345678901234567890', '0.12345678901234567891', '1E+125', '3.141592653589793238', '0.1000000000000000055511151231257827', '9007199254740993.5', '1.50', '1E+3', '-0', '1E-130'])(
    'keeps %s as its exact text (a NumberValue): a JavaScript number would change its value or its text',
    (text) => {
      const n = readNumber(text);
      expect(n).toBeInstanceOf(NumberValue);
      expect(String(n)).toBe(text);
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

  it('carries a number a JavaScript number cannot hold as its exact text', () => {
    // GIVEN an image with a 20-digit integer
    const big = wire({ NewImage: { pk: { S: 'p' }, sk: { N: '7' }, n: { N: '12345678901234567890' } } });

    // WHEN it is converted THEN the number is a NumberValue with the same digits
    const r = toStreamRecord('shard-9', big);
    expect(r.newImage!.n).toEqual(NumberValue.from('12345678901234567890'));
  });

  it("reads DynamoDB Local's typeless empty map {} as an empty map, at any depth", () => {
    // GIVEN an image as DynamoDB Local's GetRecords returns an empty map (no type)
    const local = wire({ NewImage: { pk: { S: 'p' }, sk: { N: '7' }, m: {} as never, nm: { M: { e: {} as never, el: { L: [] } } } } });

    // WHEN it is converted THEN both are empty maps and the empty list stays a list
    expect(toStreamRecord('s', local).newImage).toEqual({ pk: 'p', sk: 7, m: {}, nm: { e: {}, el: [] } });
  });

  it('marks a record whose image does not decode instead of throwing (the apply dead-letters it)', () => {
    const bad = wire({ NewImage: { pk: { S: 'p' }, sk: { N: '7' }, x: { ZZ: 'what' } as never } });
    const r = toStreamRecord('shard-3', bad);
    expect(r.undecodable?.error).toContain('000000000000000000042');
    expect(r.keys).toEqual({ pk: 'p', sk: 7 });
  });

  it('refuses a record without keys or a known event name', () => {
    expect(codeOf(() => toStreamRecord('s', wire({ Keys: undefined })))).toBe('STREAM_RECORD_INVALID');
    expect(codeOf(() => toStreamRecord('s', { ...wire(), eventName: undefined }))).toBe('STREAM_RECORD_INVALID');
    expect(codeOf(() => toStreamRecord('s', wire({ ApproximateCreationDateTime: undefined })))).toBe('STREAM_RECORD_INVALID');
  });
});
