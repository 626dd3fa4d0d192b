import { NumberValue } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyString, parseStableJson, stableJson } from '../../lib/item/item';
import { itemSizeBytes, numberBytes } from '../../lib/item/item-size';
import { canonicalDecimal, compareNumbers, numberPrecisionLoss, readNumber } from '../../lib/item/numbers';
import { keyId } from '../../lib/data/write/key-id';
import { numberText } from '../_helpers/attribute-value-arb';

describe('exact numbers', () => {
  it('stableJson compares numbers by value: 5, 5n and NumberValue("5.0") are one value; 38 digits are kept', () => {
    expect(stableJson({ n: NumberValue.from('5.0') })).toBe(stableJson({ n: 5 }));
    expect(stableJson({ n: 5n })).toBe(stableJson({ n: 5 }));
    expect(stableJson({ n: NumberValue.from('12345678901234567890123456789012345678') })).toBe('{"n":{"$n":"12345678901234567890123456789012345678e0"}}');
    expect(stableJson({ n: NumberValue.from('0.1000000000000000055511151231257827') })).not.toBe(stableJson({ n: 0.1 }));
    expect(() => stableJson({ n: 10n ** 30n })).not.toThrow();
  });

  it('keys with big numbers and binary survive keyString → parseStableJson', () => {
    const key = { pk: NumberValue.from('18446744073709551615'), sk: new Uint8Array([0, 1, 255]) };
    const back = parseStableJson<Record<string, unknown>>(keyString(key, { partitionKey: 'pk', sortKey: 'sk' }));
    expect(String(back.pk)).toBe('18446744073709551615E0');
    expect(stableJson(back)).toBe(stableJson(key));
  });

  it('keyId gives one id per number value', () => {
    const names = { partitionKey: 'pk' };
    expect(keyId({ pk: NumberValue.from('5.0') }, names, 't')).toBe(keyId({ pk: 5 }, names, 't'));
    expect(keyId({ pk: NumberValue.from('9007199254740993') }, names, 't')).not.toBe(keyId({ pk: NumberValue.from('9007199254740992') }, names, 't'));
  });

  it('compareNumbers orders any two DynamoDB numbers exactly (property, against BigInt-scaled comparison)', () => {
    fc.assert(
      fc.property(numberText, numberText, (a, b) => {
        const got = Math.sign(compareNumbers(NumberValue.from(a), NumberValue.from(b)));
        expect(got).toBe(Math.sign(referenceCompare(a, b)));
      }),
      { numRuns: 300 },
    );
    expect(compareNumbers(NumberValue.from('9007199254740993'), 9007199254740992)).toBeGreaterThan(0);
    // Two equal negatives once compared as -0 (found by the property above, seed 950982985).
    expect(Object.is(compareNumbers(NumberValue.from('-1E-130'), NumberValue.from('-1E-130')), 0)).toBe(true);
  });

  it('readNumber keeps the text whenever a JS number would change it; the value always round-trips', () => {
    fc.assert(
      fc.property(numberText, (text) => {
        const n = readNumber(text);
        expect(canonicalDecimal(String(n))).toBe(canonicalDecimal(text));
      }),
      { numRuns: 300 },
    );
  });

  it('numberPrecisionLoss finds a number that lost digits, in nested maps, lists and sets', () => {
    const big = NumberValue.from('12345678901234567890');
    expect(numberPrecisionLoss({ a: { b: [big] } }, { a: { b: [Number(big.toString())] } })).toMatch(/^a\.b\[0\]/);
    expect(numberPrecisionLoss({}, { n: 2 ** 60 })).toMatch(/beyond 2\^53/);
    expect(numberPrecisionLoss({ n: big }, { n: big, m: 0.1, s: new Set([1, 2]) })).toBeUndefined();
    // a deliberately new value computed from an exact one is not judged
    expect(numberPrecisionLoss({ p: NumberValue.from('12.345678901234567890') }, { p: 1235 })).toBeUndefined();
  });

  it('sizes numbers by base-100 digits, and items as written', () => {
    expect([numberBytes('1'), numberBytes('100'), numberBytes('0.01'), numberBytes('123'), numberBytes('-1')]).toEqual([2, 2, 2, 3, 3]);
    expect(numberBytes('12345678901234567890123456789012345678')).toBe(20);
    expect(itemSizeBytes({ pk: 'ab', n: NumberValue.from('1E+125'), l: [], m: {} })).toBe(2 + 2 + 1 + 2 + 1 + 3 + 1 + 3);
  });
});

/** a - b's sign, by scaling both to integers (BigInt). */
function referenceCompare(a: string, b: string): number {
  const [ia, ea] = toScaled(a);
  const [ib, eb] = toScaled(b);
  const e = Math.min(ea, eb);
  const x = ia * 10n ** BigInt(ea - e);
  const y = ib * 10n ** BigInt(eb - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

function toScaled(text: string): [bigint, number] {
  const c = canonicalDecimal(text)!;
  if (c === '0') return [0n, 0];
  const m = /^(-?)(\d+)e(-?\d+)$/.exec(c)!;
  return [BigInt(`${m[1]}${m[2]}`), Number(m[3])];
}
