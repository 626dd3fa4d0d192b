/**
 * Where the stream apply of one sync stands in each shard of a DynamoDB stream (DESIGN.md, Data,
 * step 3), kept in the ledger so that a restarted reader continues after the last applied record.
 *
 * Records, in partition `SYNC#<syncId>`, one per shard: sk `SHARD#<shardId>` with the last applied
 * sequence number, whether the shard was read to its end (`finished`), the running count of applied
 * records and the lag at the last checkpoint.
 *
 * Sequence numbers are decimal strings of up to 40 digits (21 in DynamoDB Local): too long for a
 * number attribute to compare safely and wrong to compare as plain strings ("9" > "10"). Each record
 * keeps the original (`sequenceNumber`, what GetShardIterator wants back) and a copy zero-padded to
 * 40 digits (`sequenceKey`), which compares as a string exactly as the numbers compare. `advance` is
 * conditional on that key, so a checkpoint never moves backwards: a stale or second reader gets
 * STREAM_CHECKPOINT_REFUSED instead of rewinding the shard (re-applying is harmless; skipping
 * records is not, and a rewind followed by a crash would not skip anything either — but two readers
 * on one shard is a bug worth stopping for).
 *
 * Leases: one reader process per stream for now, so nothing here is owner-conditional. A lease per
 * shard group (a parent and its descendants) would be one more record per group,
 * `sk = GROUP#<root shardId>` with `owner` and `leaseExpiresAt`, claimed and renewed the way
 * SegmentTasks claims segments, and `advance`/`finish` would add `AND #owner = :me` to their
 * conditions (the owner stored on the shard record, set on claim) — the same shape as
 * SegmentTasks.updateHeld.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateQuery, UpdateCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../errors';
import type { Ledger } from './ledger';

/** Digits of the zero-padded sequence key: DynamoDB sequence numbers have at most 40. */
export const SEQUENCE_KEY_DIGITS = 40;

const SHARD_PREFIX = 'SHARD#';

export interface ShardCheckpoint {
  readonly syncId: string;
  readonly shardId: string;
  /** @default - none known (a root shard, or never given) */
  readonly parentShardId?: string;
  /** The last applied record's sequence number. @default - nothing applied yet */
  readonly sequenceNumber?: string;
  /** True once the shard was closed and read to its end. */
  readonly finished: boolean;
  /** Records applied from this shard, in total. */
  readonly recordsApplied: number;
  /** ApproximateCreationDateTime of the last applied record, epoch ms. @default - nothing applied yet */
  readonly lastApproximateCreationMs?: number;
  /** Lag when the last batch was applied, in ms. @default - nothing applied yet */
  readonly lagMs?: number;
  /** ISO 8601. */
  readonly updatedAt: string;
  /** ISO 8601. @default - not finished */
  readonly finishedAt?: string;
}

export interface AdvanceShardOptions {
  /** The sequence number of the last record of the batch just applied. */
  readonly sequenceNumber: string;
  /** Records applied from this shard in total (a running total, not a delta: a repeated call changes nothing). */
  readonly recordsApplied: number;
  /** ApproximateCreationDateTime of that record, epoch ms. */
  readonly approximateCreationMs: number;
  /** now − approximateCreationMs when the batch was applied, ms. */
  readonly lagMs: number;
  /** Kept when the record is first written. @default - none */
  readonly parentShardId?: string;
}

export interface FinishShardOptions {
  /** Kept when the record is first written. @default - none */
  readonly parentShardId?: string;
}

/** `sequenceNumber` zero-padded to 40 digits: string order is numeric order. Throws on anything but 1-40 digits. */
export function sequenceKey(sequenceNumber: string): string {
  if (!/^\d{1,40}$/.test(sequenceNumber)) {
    throw toolError('STREAM_SEQUENCE_NUMBER_INVALID', `a stream sequence number must be 1 to 40 decimal digits (found: "${sequenceNumber}")`);
  }
  return sequenceNumber.padStart(SEQUENCE_KEY_DIGITS, '0');
}

/** Compares two sequence numbers as numbers: negative, 0 or positive. */
export function compareSequenceNumbers(a: string, b: string): number {
  const ka = sequenceKey(a);
  const kb = sequenceKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function syncPk(syncId: string): string {
  return `SYNC#${syncId}`;
}

export function shardSk(shardId: string): string {
  return `${SHARD_PREFIX}${shardId}`;
}

/** The per-shard checkpoints of one stream sync. */
export class ShardCheckpoints {
  public readonly syncId: string;
  private readonly ledger: Ledger;
  private readonly pk: string;

  /**
   * @param ledger the ledger table
   * @param syncId names the sync, e.g. `<releaseId>#<logical table>#forward`
   */
  public constructor(ledger: Ledger, syncId: string) {
    if (!syncId) throw toolError('LEDGER_SYNC_ID_EMPTY', 'a sync id must not be empty');
    this.ledger = ledger;
    this.syncId = syncId;
    this.pk = syncPk(syncId);
  }

  public async get(shardId: string): Promise<ShardCheckpoint | undefined> {
    const out = await this.ledger.client.send(
      new GetCommand({ TableName: this.ledger.tableName, Key: { pk: this.pk, sk: shardSk(shardId) }, ConsistentRead: true }),
    );
    return out.Item ? toCheckpoint(out.Item) : undefined;
  }

  /** Every shard checkpoint of the sync, ordered by shard id (consistent reads). */
  public async list(): Promise<ShardCheckpoint[]> {
    const all: ShardCheckpoint[] = [];
    const pages = paginateQuery(
      { client: this.ledger.client },
      {
        TableName: this.ledger.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :shard)',
        ExpressionAttributeValues: { ':pk': this.pk, ':shard': SHARD_PREFIX },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) all.push(toCheckpoint(item));
    return all;
  }

  /**
   * Records that every record of `shardId` up to `sequenceNumber` was applied. Conditional: the
   * shard is not finished and the stored sequence number is not greater (equal is accepted, so a
   * call the SDK retries after a lost response succeeds). Throws STREAM_CHECKPOINT_REFUSED otherwise.
   */
  public async advance(shardId: string, options: AdvanceShardOptions): Promise<ShardCheckpoint> {
    const key = sequenceKey(options.sequenceNumber);
    if (!Number.isInteger(options.recordsApplied) || options.recordsApplied < 0) {
      throw toolError('LEDGER_BAD_OPTION', `recordsApplied must be a non-negative integer (found: ${options.recordsApplied})`);
    }
    const values: Record<string, NativeAttributeValue> = {
      ':seq': options.sequenceNumber,
      ':key': key,
      ':applied': options.recordsApplied,
      ':created': options.approximateCreationMs,
      ':lag': options.lagMs,
      ':now': this.ledger.nowIso(),
      ':false': false,
      ':syncId': this.syncId,
      ':shardId': shardId,
    };
    const sets = [
      'syncId = :syncId',
      'shardId = :shardId',
      'sequenceNumber = :seq',
      'sequenceKey = :key',
      'recordsApplied = :applied',
      'lastApproximateCreationMs = :created',
      'lagMs = :lag',
      'updatedAt = :now',
      'finished = if_not_exists(finished, :false)',
    ];
    if (options.parentShardId !== undefined) {
      sets.push('parentShardId = if_not_exists(parentShardId, :parent)');
      values[':parent'] = options.parentShardId;
    }
    try {
      const out = await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: shardSk(shardId) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_not_exists(pk) OR (finished = :false AND (attribute_not_exists(sequenceKey) OR sequenceKey <= :key))',
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toCheckpoint(out.Attributes!);
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      throw await this.refusal(shardId, options.sequenceNumber);
    }
  }

  /** Marks a closed shard as read to its end. Idempotent; creates the record of a shard that held no records. */
  public async finish(shardId: string, options: FinishShardOptions = {}): Promise<ShardCheckpoint> {
    const now = this.ledger.nowIso();
    const values: Record<string, NativeAttributeValue> = {
      ':true': true,
      ':now': now,
      ':zero': 0,
      ':syncId': this.syncId,
      ':shardId': shardId,
    };
    const sets = [
      'syncId = :syncId',
      'shardId = :shardId',
      'finished = :true',
      'finishedAt = if_not_exists(finishedAt, :now)',
      'updatedAt = :now',
      'recordsApplied = if_not_exists(recordsApplied, :zero)',
    ];
    if (options.parentShardId !== undefined) {
      sets.push('parentShardId = if_not_exists(parentShardId, :parent)');
      values[':parent'] = options.parentShardId;
    }
    const out = await this.ledger.client.send(
      new UpdateCommand({
        TableName: this.ledger.tableName,
        Key: { pk: this.pk, sk: shardSk(shardId) },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toCheckpoint(out.Attributes!);
  }

  private async refusal(shardId: string, sequenceNumber: string) {
    const now = await this.get(shardId);
    const why = now?.finished
      ? 'the shard is already finished'
      : `the checkpoint is at ${now?.sequenceNumber ?? '(none)'}, after ${sequenceNumber}`;
    return toolError('STREAM_CHECKPOINT_REFUSED', `checkpoint of shard ${shardId} in sync ${this.syncId} refused: ${why}`, {
      fix: 'another reader is working on this stream; run one reader per sync',
    });
  }
}

function toCheckpoint(item: Record<string, NativeAttributeValue>): ShardCheckpoint {
  return {
    syncId: item.syncId,
    shardId: item.shardId,
    parentShardId: item.parentShardId,
    sequenceNumber: item.sequenceNumber,
    finished: item.finished === true,
    recordsApplied: item.recordsApplied ?? 0,
    lastApproximateCreationMs: item.lastApproximateCreationMs,
    lagMs: item.lagMs,
    updatedAt: item.updatedAt,
    finishedAt: item.finishedAt,
  };
}
