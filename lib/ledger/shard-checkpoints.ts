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
 * Leases (several workers on one sync, shard-leases.ts): the lease of a shard lives on its
 * checkpoint record (`owner`, `leaseExpiresAt`), so a worker that lost a shard cannot move its
 * checkpoint: `advance` and `finish` given an `owner` are conditional on `#owner = :me` and throw
 * LEASE_LOST otherwise (the shape of SegmentTasks.updateHeld). Without an owner (one worker per
 * sync, the default) nothing here is owner-conditional, as before leases existed.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateQuery, UpdateCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../errors';
import { LEASE_LOST } from './lease-lost';
import type { Ledger } from './ledger';
import { SHARD_PREFIX, shardSk, syncPk } from './keys';

/** Digits of the zero-padded sequence key: DynamoDB sequence numbers have at most 40. */
export const SEQUENCE_KEY_DIGITS = 40;


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
  /** The worker holding the shard's lease (shard-leases.ts). @default - nobody */
  readonly owner?: string;
  /** Epoch ms, by the holder's clock. @default - no lease */
  readonly leaseExpiresAt?: number;
  /**
   * Shared syncs: when the holder's last read that found nothing more started (epoch ms, its
   * clock), while nothing was applied since. @default - not caught up (or not shared)
   */
  readonly caughtUpAt?: number;
  /** Leases taken over from a worker whose lease had expired. */
  readonly takeovers: number;
  /** The holder before the last takeover. @default - none */
  readonly previousOwner?: string;
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
  /** The worker advancing under its lease: refused with LEASE_LOST unless it holds it. @default - no lease (one worker per sync) */
  readonly owner?: string;
}

export interface FinishShardOptions {
  /** Kept when the record is first written. @default - none */
  readonly parentShardId?: string;
  /** The worker finishing under its lease (then released): LEASE_LOST unless it holds it. @default - no lease */
  readonly owner?: string;
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
    const forward = 'finished = :false AND (attribute_not_exists(sequenceKey) OR sequenceKey <= :key)';
    let condition = `attribute_not_exists(pk) OR (${forward})`;
    let names: Record<string, string> | undefined;
    if (options.owner !== undefined) {
      // Under a lease the record exists (the claim wrote it) and names this worker.
      condition = `#owner = :me AND ${forward}`;
      names = { '#owner': 'owner' };
      values[':me'] = options.owner;
    }
    try {
      const out = await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: shardSk(shardId) },
          UpdateExpression: `SET ${sets.join(', ')}${options.owner !== undefined ? ' REMOVE caughtUpAt' : ''}`,
          ConditionExpression: condition,
          ...(names ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toCheckpoint(out.Attributes!);
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      throw await this.refusal(shardId, options.sequenceNumber, options.owner);
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
    // A finished shard needs no lease any more: it is released with the finish. A finish retried
    // after a lost response finds the shard finished and released, which is success too.
    const leased = options.owner !== undefined;
    if (leased) values[':me'] = options.owner;
    try {
      const out = await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: shardSk(shardId) },
          UpdateExpression: `SET ${sets.join(', ')}${leased ? ' REMOVE #owner, leaseExpiresAt' : ''}`,
          ...(leased ? { ConditionExpression: '#owner = :me OR finished = :true', ExpressionAttributeNames: { '#owner': 'owner' } } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toCheckpoint(out.Attributes!);
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      throw await this.refusal(shardId, undefined, options.owner);
    }
  }

  private async refusal(shardId: string, sequenceNumber: string | undefined, owner: string | undefined) {
    const now = await this.get(shardId);
    if (owner !== undefined && now?.owner !== owner && !now?.finished) {
      return toolError(LEASE_LOST, `checkpoint of shard ${shardId} in sync ${this.syncId} refused: ${owner} no longer holds its lease (now ${now?.owner ? `held by ${now.owner}` : 'free'})`, {
        fix: 'stop reading this shard; whoever holds it now continues from its last checkpoint',
      });
    }
    const why = now?.finished
      ? 'the shard is already finished'
      : `the checkpoint is at ${now?.sequenceNumber ?? '(none)'}, after ${sequenceNumber ?? '(none)'}`;
    return toolError('STREAM_CHECKPOINT_REFUSED', `checkpoint of shard ${shardId} in sync ${this.syncId} refused: ${why}`, {
      fix: 'another reader is working on this stream: run one reader per sync, or run every reader of it with shard leases (--shared)',
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
    owner: item.owner,
    leaseExpiresAt: item.leaseExpiresAt,
    caughtUpAt: item.caughtUpAt,
    takeovers: item.takeovers ?? 0,
    previousOwner: item.previousOwner,
  };
}

/** The record of a shard as ShardLeases reads and writes it (shared shape, one record per shard). */
export function shardCheckpointOf(item: Record<string, NativeAttributeValue>): ShardCheckpoint {
  return toCheckpoint(item);
}
