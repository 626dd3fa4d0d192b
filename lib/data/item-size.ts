import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Item } from './item';

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * The size DynamoDB charges an item, per its documented rules: UTF-8 length of attribute names and
 * strings, numbers at about 1 byte per 2 significant digits plus 1, binaries by length, 1 byte for
 * booleans and nulls, 3 bytes of overhead per list or map plus 1 per element.
 */
export function itemSizeBytes(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: NativeAttributeValue): number {
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'bigint') return numberSize(String(v));
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
    if ('value' in v && typeof (v as { value: unknown }).value === 'string' && Object.keys(v).length === 1) {
      return numberSize((v as { value: string }).value); // lib-dynamodb NumberValue
    }
    let s = 3;
    for (const [k, e] of Object.entries(v)) s += 1 + Buffer.byteLength(k) + valueSize(e as NativeAttributeValue);
    return s;
  }
  return 1;
}

function numberSize(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}
