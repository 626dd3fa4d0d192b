/**
 * Shard leases: several workers (processes or machines) running one stream sync split its shards
 * (DESIGN.md, Data, step 3; the "one worker per shard group via leases"), the way
 * SegmentTasks splits the segments of a copy.
 *
 * Records, in the sync's partition `SYNC#<syncId>` (shard-checkpoints.ts):
 *   - the lease of a shard lives ON its checkpoint record (sk `SHARD#<shardId>`): `owner`,
 *     `leaseExpiresAt` (epoch ms by the holder's clock), `takeovers`, `previousOwner`, `caughtUpAt`.
 *     One record, so a checkpoint and the lease it is written under are one conditional write:
 *     ShardCheckpoints.advance/finish with an owner are refused (LEASE_LOST) once the shard is
 *     another worker's.
 *   - sk `WORKER#<owner>` per live worker, renewed with its leases: how many workers share the
 *     sync, so each can aim at its share of the shards.
 *
 * A lease is claimed on a free shard (no record yet, no owner, or an expired lease: a takeover,
 * counted), renewed by heartbeats, released when the worker stops or hands the shard to another,
 * and dropped with the finish of a closed shard. Expiry compares the claimer's clock with the
 * holder's: skew can only cause an early takeover, which the owner condition makes safe (the old
 * holder's next checkpoint is refused; re-applying from a checkpoint is idempotent).
 *
 * Lineage does not need a lease: a child shard becomes readable when its parent's checkpoint says
 * `finished`, whoever held the parent (the reader plans from every worker's checkpoints).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, paginateQuery, PutCommand, UpdateCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../errors';
import type { Ledger } from './ledger';
import { shardSk, syncPk, workerSk, WORKER_PREFIX } from './keys';
import { shardCheckpointOf, type ShardCheckpoint } from './shard-checkpoints';

/** How long a worker record outlives its last heartbeat before the table's TTL may delete it. */
const WORKER_RECORD_TTL_SECONDS = 24 * 3600;

export interface ClaimedShard {
  readonly checkpoint: ShardCheckpoint;
  /** True when the lease was taken over from a worker whose lease had expired. */
  readonly takeover: boolean;
}

export interface SyncWorker {
  readonly owner: string;
  /** Epoch ms, by the worker's clock. */
  readonly leaseExpiresAt: number;
}

export class ShardLeases {
  public readonly syncId: string;
  private readonly ledger: Ledger;
  private readonly pk: string;

  public constructor(ledger: Ledger, syncId: string) {
    if (!syncId) throw toolError('LEDGER_SYNC_ID_EMPTY', 'a sync id must not be empty');
    this.ledger = ledger;
    this.syncId = syncId;
    this.pk = syncPk(syncId);
  }

  /**
   * Claims the lease of `shardId` for `owner`, given the record as the caller last read it
   * (undefined: none). Returns undefined when it is not claimable any more (another worker was
   * first, the lease is live, or the shard is finished). Claiming a shard one already holds
   * renews it. The returned checkpoint is where the new holder continues from.
   */
  public async claim(shardId: string, owner: string, leaseMs: number, seen: ShardCheckpoint | undefined, options: { readonly parentShardId?: string } = {}): Promise<ClaimedShard | undefined> {
    positiveInteger('leaseMs', leaseMs);
    const now = this.ledger.now();
    const values: Record<string, NativeAttributeValue> = {
      ':me': owner,
      ':lease': now + leaseMs,
      ':iso': new Date(now).toISOString(),
      ':false': false,
      ':zero': 0,
      ':syncId': this.syncId,
      ':shardId': shardId,
    };
    const sets = [
      '#owner = :me',
      'leaseExpiresAt = :lease',
      'claimedAt = :iso',
      'updatedAt = :iso',
      'syncId = :syncId',
      'shardId = :shardId',
      'finished = if_not_exists(finished, :false)',
      'recordsApplied = if_not_exists(recordsApplied, :zero)',
    ];
    if (options.parentShardId !== undefined) {
      sets.push('parentShardId = if_not_exists(parentShardId, :parent)');
      values[':parent'] = options.parentShardId;
    }
    const takeover = seen?.owner !== undefined && seen.owner !== owner;
    let condition: string;
    if (takeover) {
      // Only the expired lease that was read: a holder that renewed meanwhile keeps its shard.
      condition = 'finished = :false AND #owner = :previous AND leaseExpiresAt < :now';
      sets.push('takeovers = if_not_exists(takeovers, :zero) + :one', 'previousOwner = :previous');
      Object.assign(values, { ':previous': seen.owner, ':now': now, ':one': 1 });
    } else {
      condition = 'attribute_not_exists(pk) OR (finished = :false AND (attribute_not_exists(#owner) OR #owner = :me))';
    }
    try {
      const out = await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: shardSk(shardId) },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE caughtUpAt`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { checkpoint: shardCheckpointOf(out.Attributes!), takeover };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /**
   * Extends `owner`'s lease on `shardId`, with the holder's caught-up state (see `markCaughtUp`;
   * undefined: reading). False when it holds it no more.
   */
  public async renew(shardId: string, owner: string, leaseMs: number, caughtUpAt?: number): Promise<boolean> {
    positiveInteger('leaseMs', leaseMs);
    const lease = { ':lease': this.ledger.now() + leaseMs };
    return caughtUpAt === undefined
      ? this.updateHeld(shardId, owner, 'SET leaseExpiresAt = :lease REMOVE caughtUpAt', lease)
      : this.updateHeld(shardId, owner, 'SET leaseExpiresAt = :lease, caughtUpAt = :at', { ...lease, ':at': caughtUpAt });
  }

  /** Gives the shard up (its checkpoint stays): another worker may claim it at once. False when not held. */
  public async release(shardId: string, owner: string): Promise<boolean> {
    return this.updateHeld(shardId, owner, 'SET updatedAt = :iso REMOVE #owner, leaseExpiresAt', { ':iso': this.ledger.nowIso() });
  }

  /**
   * Records that a read of the holder that started at `at` (epoch ms) found nothing more, so a
   * worker draining the sync (stopWhenCaughtUp) since before `at` need not read the shard itself:
   * every record written before `at` is applied. The next advance clears it.
   */
  public async markCaughtUp(shardId: string, owner: string, at: number): Promise<boolean> {
    return this.updateHeld(shardId, owner, 'SET caughtUpAt = :at', { ':at': at });
  }

  /** Announces (or renews) a worker of this sync until now + leaseMs. */
  public async join(owner: string, leaseMs: number): Promise<void> {
    positiveInteger('leaseMs', leaseMs);
    const now = this.ledger.now();
    await this.ledger.client.send(
      new PutCommand({
        TableName: this.ledger.tableName,
        Item: {
          pk: this.pk,
          sk: workerSk(owner),
          syncId: this.syncId,
          owner,
          leaseExpiresAt: now + leaseMs,
          updatedAt: new Date(now).toISOString(),
          expiresAt: Math.floor(now / 1000) + WORKER_RECORD_TTL_SECONDS,
        },
      }),
    );
  }

  /** Removes a worker's record (it stopped). */
  public async leave(owner: string): Promise<void> {
    await this.ledger.client.send(new DeleteCommand({ TableName: this.ledger.tableName, Key: { pk: this.pk, sk: workerSk(owner) } }));
  }

  /** Workers whose record has not expired, by the ledger's clock (consistent read). */
  public async liveWorkers(): Promise<SyncWorker[]> {
    const now = this.ledger.now();
    const workers: SyncWorker[] = [];
    const pages = paginateQuery(
      { client: this.ledger.client },
      {
        TableName: this.ledger.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :worker)',
        ExpressionAttributeValues: { ':pk': this.pk, ':worker': WORKER_PREFIX },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        if (typeof item.leaseExpiresAt === 'number' && item.leaseExpiresAt >= now) workers.push({ owner: item.owner, leaseExpiresAt: item.leaseExpiresAt });
      }
    }
    return workers;
  }

  private async updateHeld(shardId: string, owner: string, update: string, values: Record<string, NativeAttributeValue>): Promise<boolean> {
    try {
      await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: shardSk(shardId) },
          UpdateExpression: update,
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ...values, ':me': owner },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw toolError('LEDGER_BAD_OPTION', `${name} must be a positive integer (found: ${value})`);
  return value;
}
