/**
 * Stream records as the apply sees them: native values (lib/data/item.ts), never AttributeValues.
 */
import type { AttributeValue as DynamoDbAttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record as WireRecord, AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ReleaseError, toolError } from '../../errors';
import type { Item } from '../item';

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
}

/** Records of one shard, in shard order: what the apply callback gets, one batch at a time. */
export interface StreamRecordBatch {
  readonly shardId: string;
  readonly records: readonly StreamRecord[];
}

const EVENT_NAMES: ReadonlySet<string> = new Set<StreamEventName>(['INSERT', 'MODIFY', 'REMOVE']);

/**
 * One wire record → a StreamRecord. Throws STREAM_RECORD_INVALID for a record without the fields a
 * NEW_AND_OLD_IMAGES stream always has, and STREAM_NUMBER_PRECISION for a number a JavaScript
 * number cannot hold exactly (see `exactNumber`).
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
  try {
    return {
      eventName: wire.eventName as StreamEventName,
      sequenceNumber,
      approximateCreationMs: created,
      keys: toItem(d.Keys),
      ...(d.NewImage ? { newImage: toItem(d.NewImage) } : {}),
      ...(d.OldImage ? { oldImage: toItem(d.OldImage) } : {}),
    };
  } catch (err) {
    if (ReleaseError.isReleaseError(err) && err.code === 'STREAM_NUMBER_PRECISION') {
      throw toolError('STREAM_NUMBER_PRECISION', `${where}: ${err.message}`, { fix: err.fix, cause: err });
    }
    throw err;
  }
}

/** An image as native values; numbers through `exactNumber`. */
export function toItem(image: Record<string, AttributeValue>): Item {
  return unmarshall(image as Record<string, DynamoDbAttributeValue>, { wrapNumbers: exactNumber });
}

/**
 * A DynamoDB number (up to 38 significant digits) as a JavaScript number, or a STREAM_NUMBER_PRECISION
 * error when the number would not write back as the same decimal: integers beyond 2^53, and
 * decimals with more digits than a double keeps. util-dynamodb alone would turn big integers into
 * BigInt and round long decimals silently; an apply must never write a different value than the
 * source holds.
 */
export function exactNumber(text: string): number {
  const n = Number(text);
  if (Number.isFinite(n) && canonicalDecimal(String(n)) === canonicalDecimal(text)) return n;
  throw toolError('STREAM_NUMBER_PRECISION', `the number ${text} does not fit a JavaScript number exactly`, {
    fix: 'the sync cannot carry it without changing it; store such values as strings in the source table',
  });
}

/** A decimal as `<sign><digits>e<exponent>` without leading or trailing zeros: equal values, equal strings. */
function canonicalDecimal(text: string): string | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  let digits = (int + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let exponent = Number(exp) - frac.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign === '-' ? '-' : ''}${digits}e${exponent}`;
}
