import { NumberValue, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { canonicalNumber, sameValueNumber } from './numbers';

/**
 * Items as plain JavaScript values (lib-dynamodb's native form): what migrations read and return.
 * Numbers are exact (lib/item/numbers.ts): a `number` when the JavaScript number is the stored
 * decimal, else a `NumberValue` holding the decimal's text. Binary is a Uint8Array, sets are Sets.
 */
export type Item = Record<string, NativeAttributeValue>;

/** The key attributes of an item (partition key, and sort key when the table has one). */
export type Key = Record<string, NativeAttributeValue>;

/** The key attribute names of a table. */
export interface KeyNames {
  readonly partitionKey: string;
  /** @default - no sort key */
  readonly sortKey?: string;
}

/**
 * Attributes the engine adds to every item it writes to a target table. User migrations must not
 * produce attributes starting with `_ss` (validated).
 */
export const META = {
  /** The source item's key, as stable JSON: which source item produced this target item. */
  source: '_ssSrc',
  /** Content hash of a shared (many-to-one) target item: equal content from several sources. */
  contentHash: '_ssHash',
  /** Who wrote the item: 'copy', 'sync', 'reverse' (echo suppression for reverse sync). */
  origin: '_ssOrigin',
  /**
   * The write token of the stream sync's last write of the item, `<origin>:<sequenceNumber>` of the
   * record it applied (lib/data/stream/echo.ts). A stream record whose new image carries a new token
   * of the other direction is an echo of that direction's write. A user's UpdateItem leaves it as it
   * was and a user's PutItem drops it, so user writes are never mistaken for echoes.
   */
  write: '_ssWrite',
  /**
   * Set to the sync's write token just before the sync deletes the item (a conditional update, then
   * a delete conditional on it), so the REMOVE record's old image says who deleted it
   * (lib/data/stream/echo.ts). Never present on an item the sync means to keep.
   */
  deleting: '_ssDeleting',
} as const;

export const META_PREFIX = '_ss';

export function keyOf(item: Item, names: KeyNames): Key {
  const key: Key = { [names.partitionKey]: item[names.partitionKey] };
  if (names.sortKey) key[names.sortKey] = item[names.sortKey];
  return key;
}

/**
 * Deterministic JSON (sorted object keys; sets as sorted arrays): equal items give equal strings.
 * Numbers are compared by value: a `number`, a `bigint` or a `NumberValue` of one value give the
 * same text — a plain JSON number when a JavaScript number holds it exactly, else `{"$n": <canonical
 * decimal>}` (lib/item/numbers.ts). Binary is `{"$b": <base64>}`. `parseStableJson` reads it back.
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(normalize(value));
}

function normalize(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $n: String(value) };
  if (typeof value === 'bigint' || value instanceof NumberValue) {
    const n = sameValueNumber(String(value));
    return n !== undefined ? n : { $n: canonicalNumber(value) };
  }
  if (value instanceof Set) {
    return { $set: [...value].map((e) => JSON.stringify(normalize(e))).sort().map((e) => JSON.parse(e) as unknown) };
  }
  if (value instanceof Uint8Array) return { $b: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = normalize((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * A key (or any value) back from its `stableJson`: `{"$n": ...}` as a NumberValue, `{"$b": ...}` as
 * binary. For keys only: a key holds no sets.
 */
export function parseStableJson<T = Key>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$n' && typeof (v as { $n: unknown }).$n === 'string') return NumberValue.from(decimalOf((v as { $n: string }).$n));
      if (keys.length === 1 && keys[0] === '$b' && typeof (v as { $b: unknown }).$b === 'string') return new Uint8Array(Buffer.from((v as { $b: string }).$b, 'base64'));
    }
    return v;
  }) as T;
}

/** `<digits>e<exp>` (canonicalDecimal) as DynamoDB accepts it: `<digits>E<exp>`. */
function decimalOf(canonical: string): string {
  return canonical.replace('e', 'E');
}

/** The key of an item as a stable string, for maps and dead-letter ids. */
export function keyString(item: Item, names: KeyNames): string {
  return stableJson(keyOf(item, names));
}

/** An item without the engine's meta attributes: what user code and comparisons see. */
export function withoutMeta(item: Item): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) if (!k.startsWith(META_PREFIX)) out[k] = v;
  return out;
}
