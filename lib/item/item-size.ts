import { NumberValue, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Item } from './item';
import { META } from './item';
import { canonicalDecimal } from './numbers';
import { wireName } from './special-names';

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * Bytes a stream-synced item must keep free for the delete stamp the sync may add later
 * (`_ssDeleting` = `<origin>:<source table>:<sequence number>`, lib/data/stream/echo.ts): the stamp
 * is an update of the stored item, which must fit too. Table names are at most 255 bytes and
 * sequence numbers at most 40 digits (room for 64).
 */
export const DELETE_STAMP_BYTES = Buffer.byteLength(META.deleting) + 'reverse:'.length + 255 + 1 + 64;

/**
 * The size DynamoDB charges an item, per its documented rules, computed on the item exactly as it
 * is written (meta attributes included — size the stamped item, never the migration's output plus
 * a guess): UTF-8 length of attribute names and strings; numbers by their base-100 digits plus an
 * exponent byte (plus one for a negative number; `numberBytes`); binaries by length; 1 byte for
 * booleans and nulls; 3 bytes of overhead per list or map plus 1 per element (and the key's length
 * in a map); set elements by their own sizes.
 */
export function itemSizeBytes(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue; // dropped on write (removeUndefinedValues)
    size += nameBytes(name) + valueSize(value);
  }
  return size;
}

/** An attribute name's UTF-8 length as DynamoDB stores it (special-names.ts). */
function nameBytes(name: string): number {
  return Buffer.byteLength(wireName(name));
}

function valueSize(v: NativeAttributeValue): number {
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'bigint' || v instanceof NumberValue) return numberBytes(String(v));
  if (v instanceof Uint8Array) return v.byteLength;
  if (v instanceof Set) {
    let s = 0;
    for (const e of v) s += valueSize(e as NativeAttributeValue);
    return s;
  }
  if (Array.isArray(v)) {
    let s = 3;
    for (const e of v) s += 1 + valueSize(e);
    return s;
  }
  if (typeof v === 'object') {
    let s = 3;
    for (const [k, e] of Object.entries(v)) if (e !== undefined) s += 1 + nameBytes(k) + valueSize(e as NativeAttributeValue);
    return s;
  }
  return 1;
}

/**
 * A number's stored size: DynamoDB keeps the significant digits in base 100 (two decimal digits a
 * byte, aligned on the decimal point) and one byte of exponent; a negative number takes one more.
 * `1`, `100` and `0.01` are 2 bytes, `123` is 3, `12345678901234567890` 11.
 */
export function numberBytes(text: string): number {
  const canonical = canonicalDecimal(text);
  if (canonical === undefined || canonical === '0') return 2;
  const m = /^(-?)(\d+)e(-?\d+)$/.exec(canonical)!;
  const negative = m[1] === '-';
  const digits = m[2]!.length;
  const exponent = Number(m[3]);
  const highest = exponent + digits - 1; // power of ten of the first significant digit
  const pairs = Math.floor(highest / 2) - Math.floor(exponent / 2) + 1;
  return 1 + pairs + (negative ? 1 : 0);
}
