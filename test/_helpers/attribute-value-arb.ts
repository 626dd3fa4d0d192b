/**
 * fast-check arbitraries of DynamoDB AttributeValues, edges included: numbers of 1 to 38 significant
 * digits over the whole exponent range (1E-130 .. 9.99E+125, both signs, zero written as -0.000…),
 * integers beyond 2^53, empty strings and binaries, sets of every kind (number sets by value),
 * empty maps and lists, nesting.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { canonicalDecimal } from '../../lib/item/numbers';

/** Numbers that broke the engine before (issue 14) and the ends of DynamoDB's range. */
export const EDGE_NUMBERS = [
  '0.1000000000000000055511151231257827',
  '123456789.123456789123456789',
  '9007199254740993.5',
  '9007199254740993',
  '18446744073709551615',
  '-9223372036854775808',
  '12345678901234567890123456789012345678',
  '1E+125',
  '9.9999999999999999999999999999999999999E+125',
  '-9.9999999999999999999999999999999999999E+125',
  '1E-130',
  '-1E-130',
  '-0.000000000000000000000000000000000000000',
  '0',
  '0.5',
  '42',
] as const;

/** A decimal DynamoDB accepts: 1..38 significant digits, scientific exponent in [-130, 125]. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.boolean(), fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^[0-9]{0,37}$/), fc.integer({ min: -130, max: 125 }))
      .map(([negative, first, rest, sci]) => {
        const digits = `${first}${rest}`;
        const exponent = sci - (digits.length - 1);
        return `${negative ? '-' : ''}${digits}E${exponent}`;
      }),
  },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => d === 0 || (Math.abs(d) >= 1e-130 && Math.abs(d) < 9.99e125)).map(String) },
);

const text = fc.string({ maxLength: 12 });
/** Names JavaScript objects treat specially: the SDK lost `__proto__` (lib/data/proto-attribute.ts). */
const OBJECT_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'] as const;
const nonEmpty = fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(...OBJECT_NAMES) });
const bytes = fc.uint8Array({ maxLength: 12 });

const scalar: fc.Arbitrary<AttributeValue> = fc.oneof(
  numberText.map((N) => ({ N })),
  text.map((S) => ({ S })),
  bytes.map((B) => ({ B })),
  fc.boolean().map((BOOL) => ({ BOOL })),
  fc.constant({ NULL: true }),
  fc.uniqueArray(nonEmpty, { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
  fc.uniqueArray(numberText, { minLength: 1, maxLength: 4, selector: (n) => canonicalDecimal(n) }).map((NS) => ({ NS })),
  fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3, selector: (b) => Buffer.from(b).toString('base64') }).map((BS) => ({ BS })),
);

/** Any AttributeValue, nested up to 3 levels of maps and lists (empty ones included). */
export const attributeValue: fc.Arbitrary<AttributeValue> = fc.letrec<{ value: AttributeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }).map((L) => ({ L })),
    fc.dictionary(nonEmpty, tie('value'), { maxKeys: 3 }).map((M) => ({ M })),
  ),
})).value;

/** Attribute names that are not keys and not the engine's. */
export const attributeName = fc
  .oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) }, { weight: 1, arbitrary: fc.constantFrom(...OBJECT_NAMES) })
  .filter((n) => n !== 'pk' && n !== 'sk' && !n.startsWith('_ss'));

/** An item's non-key attributes. */
export const attributes = fc.dictionary(attributeName, attributeValue, { maxKeys: 6 });
