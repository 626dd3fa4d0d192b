/**
 * Shard lineage, as a pure function (DESIGN.md, Data, step 3): which shards of a stream may be read
 * now, from where, and which must wait.
 *
 * DynamoDB closes a shard and opens children when it splits or rolls a shard over (every few hours
 * on AWS). Records of one key move from the parent to a child at the split, so a child is read only
 * once its parent was read to its end: then every record of a key is applied in order.
 *
 * Rules:
 *   - a shard whose checkpoint says `finished` is done;
 *   - a shard with no parent, a finished parent, or a parent that is no longer in the stream
 *     description (trimmed: its records aged out of the 24 h retention, so nothing of it can be
 *     read any more) is readable;
 *   - a shard whose parent is in the description and not finished waits for it;
 *   - a shard that left the description while its checkpoint was NOT finished is `lost`: it was
 *     being read, and the records after its checkpoint are gone (a shard leaves the description only
 *     when its records aged out). The caller must stop (STREAM_TRIMMED).
 *
 * Start position of a readable shard: after its checkpoint's sequence number, else TRIM_HORIZON
 * (the oldest record still in the shard). TRIM_HORIZON is right for a copy + sync: the positions
 * recorded at T0 guarantee that every change since T0 is still in the stream, and records older
 * than T0 that are read again carry full images and are applied in order per key, so re-applying
 * them is idempotent — the last image of each key wins, and it is the newest one. Children of a
 * finished parent have no checkpoint and start at TRIM_HORIZON, i.e. at their first record.
 */

export interface ShardInfo {
  readonly shardId: string;
  /** @default - a root shard */
  readonly parentShardId?: string;
}

/** What the lineage needs to know of a shard's checkpoint. */
export interface ShardProgress {
  readonly shardId: string;
  readonly finished: boolean;
  /** The last applied sequence number. @default - nothing applied */
  readonly sequenceNumber?: string;
}

export type StartPosition =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string };

export interface ReadableShard extends ShardInfo {
  readonly start: StartPosition;
}

export interface WaitingShard extends ShardInfo {
  /** The unfinished ancestor it waits for (its parent). */
  readonly waitingFor: string;
}

export interface ShardReadPlan {
  /** Shards to read now, in description order; no two of them are parent and child. */
  readonly readable: readonly ReadableShard[];
  /** Shards whose parent is still to be read to its end. */
  readonly waiting: readonly WaitingShard[];
  /** Shards read to their end (in the description or not). */
  readonly finished: readonly string[];
  /**
   * Shards with a checkpoint that left the stream description before they were finished: records
   * were lost to retention. Non-empty means the sync cannot be trusted any more.
   */
  readonly lost: readonly string[];
}

/**
 * Classifies the shards of a stream description against the checkpoints.
 * @param shards the shards DescribeStream lists now
 * @param progress the checkpoints of the sync (of any shards, listed or not)
 */
export function planShardReads(shards: readonly ShardInfo[], progress: Iterable<ShardProgress>): ShardReadPlan {
  const listed = new Map(shards.map((s) => [s.shardId, s]));
  const checkpoints = new Map<string, ShardProgress>();
  for (const p of progress) checkpoints.set(p.shardId, p);
  const isFinished = (id: string) => checkpoints.get(id)?.finished === true;

  const readable: ReadableShard[] = [];
  const waiting: WaitingShard[] = [];
  for (const shard of shards) {
    if (isFinished(shard.shardId)) continue;
    const parent = shard.parentShardId;
    if (parent !== undefined && !isFinished(parent) && listed.has(parent)) {
      waiting.push({ ...info(shard), waitingFor: parent });
      continue;
    }
    const sequenceNumber = checkpoints.get(shard.shardId)?.sequenceNumber;
    const start: StartPosition = sequenceNumber !== undefined ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber } : { type: 'TRIM_HORIZON' };
    readable.push({ ...info(shard), start });
  }
  const finished = [...new Set([...shards.map((s) => s.shardId), ...checkpoints.keys()])].filter(isFinished);
  const lost = [...checkpoints.values()].filter((p) => !p.finished && !listed.has(p.shardId)).map((p) => p.shardId);
  return { readable, waiting, finished, lost };
}

function info(shard: ShardInfo): ShardInfo {
  return shard.parentShardId !== undefined ? { shardId: shard.shardId, parentShardId: shard.parentShardId } : { shardId: shard.shardId };
}
