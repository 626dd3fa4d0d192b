/**
 * Stream records as the apply sees them: native values (lib/item/item.ts), never AttributeValues.
 */
import type { AttributeValue as DynamoDbAttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record as WireRecord, AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { messageOf, toolError } from '../../errors';
import { readNumber } from '../../item/numbers';
import type { Item } from '../../item/item';

export type StreamEventName = 'INSERT' | 'MODIFY' | 'REMOVE';

export interface StreamRecord {
  readonly eventName: StreamEventName;
  readonly sequenceNumber: string;
  /** ApproximateCreationDateTime in epoch ms (whole seconds on AWS, whole minutes in DynamoDB Local). */
  readonly approximateCreationMs: number;
  readonly keys: Item;
  /** The item after the change. @default - none (REMOVE) */
  readonly newImage?: Item;
  /** The item before the change. @default - none (INSERT) */
  readonly oldImage?: Item;
  /**
   * Set when an image could not be decoded: the apply dead-letters the record (its key held behind
   * it) instead of stopping the shard. `image` is the raw wire image as text. @default - decoded
   */
  readonly undecodable?: { readonly error: string; readonly image?: Item };
}

/** Records of one shard, in shard order: what the apply callback gets, one batch at a time. */
export interface StreamRecordBatch {
  readonly shardId: string;
  readonly records: readonly StreamRecord[];
}

const EVENT_NAMES: ReadonlySet<string> = new Set<StreamEventName>(['INSERT', 'MODIFY', 'REMOVE']);

/**
 * One wire record → a StreamRecord. Throws STREAM_RECORD_INVALID for a record without the fields a
 * NEW_AND_OLD_IMAGES stream always has (no key to hold it by). An image that does not decode does
 * not throw: the record carries `undecodable` and the apply dead-letters it (one poison record
 * never stops the shard). Numbers are exact (lib/item/numbers.ts), never an error.
 */
export function toStreamRecord(shardId: string, wire: WireRecord): StreamRecord {
  const d = wire.dynamodb;
  const sequenceNumber = d?.SequenceNumber;
  const where = `stream record ${sequenceNumber ?? '(no sequence number)'} of shard ${shardId}`;
  if (!d || !sequenceNumber || !d.Keys || !wire.eventName || !EVENT_NAMES.has(wire.eventName)) {
    throw toolError('STREAM_RECORD_INVALID', `${where} lacks an event name, keys or sequence number (event: ${wire.eventName ?? 'none'})`);
  }
  const created = d.ApproximateCreationDateTime?.getTime();
  if (created === undefined || Number.isNaN(created)) {
    throw toolError('STREAM_RECORD_INVALID', `${where} has no ApproximateCreationDateTime`);
  }
  const base = { eventName: wire.eventName as StreamEventName, sequenceNumber, approximateCreationMs: created };
  let keys: Item;
  try {
    keys = toItem(d.Keys);
  } catch (err) {
    throw toolError('STREAM_RECORD_INVALID', `${where}: its keys do not decode: ${messageOf(err)}`, { cause: err });
  }
  try {
    return {
      ...base,
      keys,
      ...(d.NewImage ? { newImage: toItem(d.NewImage) } : {}),
      ...(d.OldImage ? { oldImage: toItem(d.OldImage) } : {}),
    };
  } catch (err) {
    return { ...base, keys, undecodable: { error: `${where}: an image does not decode: ${messageOf(err)}`, image: rawImage(d.NewImage ?? d.OldImage) } };
  }
}

/**
 * An image as native values; numbers exact (`readNumber`). DynamoDB Local's GetRecords writes an
 * empty map as `{}` (no type; GetItem gives `{"M":{}}`): an attribute value without any type is
 * read as the empty map, the only value DynamoDB serializes that way (an empty list is `{"L":[]}`).
 */
export function toItem(image: Record<string, AttributeValue>): Item {
  return unmarshall(normalizeImage(image) as Record<string, DynamoDbAttributeValue>, { wrapNumbers: readNumber });
}

/** The image with every typeless `{}` value (at any depth) read as `{"M":{}}`. */
export function normalizeImage(image: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(image)) out[k] = normalizeValue(v);
  return out;
}

function normalizeValue(v: AttributeValue): AttributeValue {
  if (v === null || typeof v !== 'object') return v;
  const types = Object.keys(v).filter((k) => (v as unknown as Record<string, unknown>)[k] !== undefined && k !== '$unknown');
  if (types.length === 0) return { M: {} };
  if (v.M) return { M: normalizeImage(v.M) };
  if (v.L) return { L: v.L.map(normalizeValue) };
  return v;
}

/** The raw image as a plain JSON-able record for a dead letter (binary as base64). */
function rawImage(image: Record<string, AttributeValue> | undefined): Item | undefined {
  if (!image) return undefined;
  return { raw: JSON.stringify(image, (_k, v: unknown) => (v instanceof Uint8Array ? { $b: Buffer.from(v).toString('base64') } : v)) };
}
