import { toolError } from '../../errors';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { stableJson, type Item, type KeyNames } from '../../item/item';
import { canonicalNumber, sameValueNumber } from '../../item/numbers';

/**
 * A cheap, unambiguous string for the key of an item (or of a key object), for dedupe maps on the
 * hot path: strings are JSON-quoted, numbers prefixed, binary base64, anything else stable JSON,
 * so no two different keys share an id and no control character can fake the separator.
 */
export function keyId(item: Item, names: KeyNames, table: string): string {
  const pk = keyPart(item[names.partitionKey], names.partitionKey, table);
  return names.sortKey === undefined ? pk : pk + '\u0001' + keyPart(item[names.sortKey], names.sortKey, table);
}

function keyPart(value: unknown, name: string, table: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return 'n' + String(value);
    case 'bigint':
      return numberPart(value);
    case 'undefined':
      throw toolError('WRITE_KEY_MISSING', `an item for table "${table}" has no key attribute "${name}"`, {
        fix: 'every item written must carry the key attributes of its target table',
      });
    default:
      if (value instanceof NumberValue) return numberPart(value);
      if (value instanceof Uint8Array) return 'b' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      return 'j' + stableJson(value);
  }
}

/** A number key by value: the same id for `5`, `5n` and `NumberValue('5')`. */
function numberPart(value: bigint | NumberValue): string {
  const n = sameValueNumber(String(value));
  return n !== undefined ? 'n' + String(n) : 'n' + canonicalNumber(value);
}
