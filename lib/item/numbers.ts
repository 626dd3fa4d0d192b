/**
 * Exact DynamoDB numbers (DESIGN.md, Data, rule 0).
 *
 * A DynamoDB number carries up to 38 significant digits and exponents from -130 to +125; a
 * JavaScript number keeps about 16 digits. Every item the data plane reads goes through
 * `readNumber`: a number comes back as a JavaScript `number` when that number writes back as the
 * very same text, and as a `NumberValue` (its decimal string) otherwise. So everyday values
 * (prices, counts, years, `0.5`) stay plain numbers that migrations and zod schemas use as before,
 * and `0.1000000000000000055511151231257827`, `9007199254740993` or `1E+125` travel as their
 * exact text through copy, sync, verify and hashing.
 *
 * For migrations (see lib/data/migrations/migration.ts, "Numbers"): `exactText(v)` reads any number
 * as its exact decimal string, `exactNumber(text)` makes the value to write (a plain number when
 * exact, else a NumberValue). A migration output whose number lost digits of its input is refused
 * (`numberPrecisionLoss`), the item becomes a dead letter: never a silent change.
 */
import { NumberValue, type TranslateConfig } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { guardSpecialNames } from './special-names';

export { NumberValue };

/** A number as the data plane holds it. */
export type ExactNumber = number | NumberValue;

/**
 * A DynamoDB number's text as the value items carry: a `number` when `String(number)` gives back
 * the very same text (so the number is written back byte for byte), else a `NumberValue` holding
 * the text (`0.1000000000000000055511151231257827`, `9007199254740993`, `1E-130`, `-0`).
 */
export function readNumber(text: string): ExactNumber {
  const n = Number(text);
  if (Number.isFinite(n) && String(n) === text && (Number.isSafeInteger(n) || !Number.isInteger(n))) return n;
  return NumberValue.from(text);
}

/** The value to write for a decimal string: same rule as `readNumber`. */
export const exactNumber = readNumber;

/**
 * The JavaScript number of the same VALUE as a decimal text (`1.50` → 1.5, `1E-130` → 1e-130), or
 * undefined when no JavaScript number has that value. Comparisons and hashes use it, so that `5`,
 * `5n` and `NumberValue('5.0')` are one value.
 */
export function sameValueNumber(text: string): number | undefined {
  const n = Number(text);
  if (!Number.isFinite(n) || (Number.isInteger(n) && !Number.isSafeInteger(n))) return undefined;
  return canonicalDecimal(String(n)) === canonicalDecimal(text) ? n : undefined;
}

/** True for a number the data plane carries: `number`, `bigint` or `NumberValue`. */
export function isNumeric(v: unknown): v is number | bigint | NumberValue {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof NumberValue;
}

/**
 * The exact decimal text of a number value (`number`, `bigint`, `NumberValue`, or a numeric
 * string). Throws for anything else.
 */
export function exactText(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof NumberValue) return v.toString();
  if (typeof v === 'string' && canonicalDecimal(v) !== undefined) return v;
  throw new TypeError(`not a number: ${String(v)}`);
}

/**
 * A decimal as `<sign><digits>e<exponent>` without leading or trailing zeros: equal values give
 * equal strings (`1.50`, `15E-1` and `0.15e1` all give `15e-1`; `-0` gives `0`). Undefined for
 * text that is not a decimal.
 */
export function canonicalDecimal(text: string): string | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  let digits = (int + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let exponent = Number(exp) - frac.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign === '-' ? '-' : ''}${digits}e${exponent}`;
}

/** The canonical decimal of a number value (see canonicalDecimal). */
export function canonicalNumber(v: number | bigint | NumberValue): string {
  return canonicalDecimal(exactText(v)) ?? exactText(v);
}

/** Compares two numbers exactly (any of number, bigint, NumberValue): negative, 0 or positive. */
export function compareNumbers(a: number | bigint | NumberValue, b: number | bigint | NumberValue): number {
  const x = parts(canonicalNumber(a));
  const y = parts(canonicalNumber(b));
  if (x.sign !== y.sign) return x.sign - y.sign;
  if (x.sign === 0) return 0;
  // Same sign: compare magnitudes by the power of the leading digit, then digit by digit.
  let m = x.lead - y.lead;
  if (m === 0) {
    const width = Math.max(x.digits.length, y.digits.length);
    const dx = x.digits.padEnd(width, '0');
    const dy = y.digits.padEnd(width, '0');
    m = dx < dy ? -1 : dx > dy ? 1 : 0;
  }
  return m === 0 ? 0 : x.sign * m; // never -0: callers compare with Object.is and sort keys by it
}

function parts(canonical: string): { sign: number; digits: string; lead: number } {
  if (canonical === '0') return { sign: 0, digits: '', lead: 0 };
  const m = /^(-?)(\d+)e(-?\d+)$/.exec(canonical)!;
  return { sign: m[1] === '-' ? -1 : 1, digits: m[2]!, lead: Number(m[3]) + m[2]!.length };
}

/**
 * Where an output item lost precision: a JavaScript number that is an integer beyond 2^53 (its
 * digits are already gone), a non-finite number, or, at a path where the input held a NumberValue,
 * the JavaScript number that input rounds to (`Number(item.id)` on a 20-digit id, a schema that
 * coerces). Undefined when exact. A deliberately different value is not judged.
 */
export function numberPrecisionLoss(input: unknown, output: unknown, path = ''): string | undefined {
  if (typeof output === 'number') {
    if (!Number.isFinite(output)) return `${path || 'value'} is ${output}`;
    if (Number.isInteger(output) && !Number.isSafeInteger(output)) {
      return `${path || 'value'} is the JavaScript number ${output}, an integer beyond 2^53 whose digits are lost; write it with exactNumber(text) or as a bigint`;
    }
    // The signature of a lossy conversion: the output is exactly Number(<input text>), a different
    // value. A deliberate new value (a computed price) is not judged.
    if (input instanceof NumberValue && Number(input.toString()) === output && canonicalNumber(input) !== canonicalNumber(output)) {
      return `${path || 'value'} was ${input.toString()} and became the JavaScript number ${output}; carry it with exactText/exactNumber`;
    }
    return undefined;
  }
  if (output instanceof Set) {
    const inputs = input instanceof Set ? [...input].filter((x) => x instanceof NumberValue) : [];
    for (const e of output) {
      const loss = numberPrecisionLoss(undefined, e, `${path}[set]`);
      if (loss) return loss;
    }
    if (inputs.length > 0) {
      const out = new Set([...output].map((e) => (isNumeric(e) ? canonicalNumber(e) : undefined)));
      const lost = inputs.find((e) => !out.has(canonicalNumber(e as NumberValue)) && [...output].some((o) => typeof o === 'number' && Number(exactText(e)) === o));
      if (lost) return `${path || 'value'} held ${exactText(lost)}, which became a JavaScript number; carry it with exactText/exactNumber`;
    }
    return undefined;
  }
  if (Array.isArray(output)) {
    const inArr = Array.isArray(input) ? input : [];
    for (let i = 0; i < output.length; i++) {
      const loss = numberPrecisionLoss(inArr[i], output[i], `${path}[${i}]`);
      if (loss) return loss;
    }
    return undefined;
  }
  if (output && typeof output === 'object' && !(output instanceof Uint8Array) && !(output instanceof NumberValue)) {
    const inObj = input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(output)) {
      const loss = numberPrecisionLoss(inObj[k], v, path ? `${path}.${k}` : k);
      if (loss) return loss;
    }
  }
  return undefined;
}

/**
 * How the data plane converts items: numbers through `readNumber` on the way in; `NumberValue`s in
 * sets of plain numbers written as their text (`allowImpreciseNumbers` lets the marshaller take the
 * text of a NumberValue: imprecise JavaScript numbers are refused before, by `numberPrecisionLoss`);
 * undefined fields dropped.
 */
export const ITEM_TRANSLATE_CONFIG: TranslateConfig = {
  marshallOptions: { removeUndefinedValues: true, allowImpreciseNumbers: true },
  unmarshallOptions: { wrapNumbers: readNumber },
};

/**
 * A document client for source and target tables, with ITEM_TRANSLATE_CONFIG. Every data-plane
 * document client uses this one configuration: DynamoDBDocumentClient.from writes its options into
 * the base client's config, so clients on one base client must agree. Attributes named `__proto__`
 * and `constructor` are carried under other names (see special-names.ts).
 */
export function createItemClient(dynamodb: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(guardSpecialNames(dynamodb), ITEM_TRANSLATE_CONFIG);
}
