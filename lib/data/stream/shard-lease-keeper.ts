/**
 * One worker's side of shard leases (lib/ledger/shard-leases.ts): which shards of a shared sync it
 * reads, kept alive by heartbeats. The stream reader asks it each round which shards to start and
 * which to hand over, and before each batch whether a shard is still safely its own.
 *
 * Share: each round, a worker aims at ceil(readable shards / live workers). Below it, it claims
 * free shards (never claimed, released, or with an expired lease: a takeover); above it (a worker
 * joined), it hands the surplus over: the reader stops reading them after the batch in flight is
 * checkpointed, then releases them, and the newcomer claims them on its next round.
 *
 * Safety: a checkpoint is written only under the lease (owner-conditional), so a worker that lost a
 * shard cannot move it. A worker whose heartbeats fail stops applying batches of a shard once less
 * than half a lease is left since its last renewal (`holds`): another worker takes over only after
 * the whole lease expired, so the old holder's last batches (a few read ahead, each applied in well
 * under a second) are done before the new holder re-applies from the checkpoint. Clock skew between
 * workers eats into that half lease; keep leases long against it (the default, 30 s, leaves 15 s).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { messageOf, toolError } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import type { ShardCheckpoint } from '../../ledger/shard-checkpoints';
import type { ShardLeases } from '../../ledger/shard-leases';
import type { ShardInfo } from './shard-lineage';

export const DEFAULT_LEASE_MS = 30_000;

export interface ShardLeaseOptions {
  /**
   * Names this worker in the ledger; unique per worker (two workers with one name are one worker to
   * the ledger). @default - `<hostname>:<pid>:<6 hex digits>`
   */
  readonly owner?: string;
  /** How long a shard stays this worker's without a heartbeat, in ms; a worker that died holds its shards this long. @default 30_000 */
  readonly leaseMs?: number;
}

export interface ShardLeaseKeeperProps extends ShardLeaseOptions {
  readonly ioHost: IoHost;
  readonly leases: ShardLeases;
  /** Now in epoch ms; the clock the ledger writes lease expiries with. @default Date.now */
  readonly clock?: () => number;
}

export interface LeaseRound {
  /** Shards claimed in this round, each with the checkpoint to continue from. */
  readonly claimed: readonly ShardCheckpoint[];
  /** Shards held beyond this worker's share: stop reading them, then `release` them. */
  readonly shed: readonly string[];
}

export class ShardLeaseKeeper {
  public readonly owner: string;
  public readonly leaseMs: number;
  private readonly ioHost: IoHost;
  private readonly leases: ShardLeases;
  private readonly clock: () => number;
  /** Shards held, each with the time its lease is known to last until (by our clock, from the send of the last renewal). */
  private readonly held = new Map<string, number>();
  /** Held shards the reader found caught up: the start of its last read that found nothing. */
  private readonly caughtUpAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private heartbeating?: Promise<void>;

  public constructor(props: ShardLeaseKeeperProps) {
    this.ioHost = props.ioHost;
    this.leases = props.leases;
    this.owner = props.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.leaseMs = props.leaseMs ?? DEFAULT_LEASE_MS;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 3) {
      throw toolError('STREAM_BAD_OPTION', `leaseMs must be a whole number of ms >= 3 (found: ${this.leaseMs})`);
    }
    this.clock = props.clock ?? Date.now;
  }

  /** How often leases are renewed, and how often the reader looks at the shares again. */
  public get heartbeatMs(): number {
    return Math.max(1, Math.floor(this.leaseMs / 3));
  }

  /** Announces this worker and starts the heartbeats. */
  public async start(): Promise<void> {
    await this.leases.join(this.owner, this.leaseMs);
    this.timer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Stops the heartbeats and gives every held shard up, so other workers continue at once. */
  public async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.heartbeating;
    const held = [...this.held.keys()];
    const results = await Promise.allSettled([...held.map((id) => this.release(id, 'stopped')), this.leases.leave(this.owner)]);
    for (const r of results) {
      if (r.status === 'rejected') {
        DATA_IO.STREAM_W5011.emit(this.ioHost, `worker ${this.owner}: could not give its leases up (${messageOf(r.reason)}); they expire in ${this.leaseMs} ms`, {
          owner: this.owner,
          error: messageOf(r.reason),
        });
      }
    }
  }

  /** True while this worker holds `shardId` with at least half a lease left (see the file comment). */
  public holds(shardId: string): boolean {
    const until = this.held.get(shardId);
    return until !== undefined && until - this.clock() >= this.leaseMs / 2;
  }

  /**
   * One round of sharing, from the shards' records as just listed and the shards readable now
   * (lineage satisfied, not finished). Claims free shards up to this worker's share.
   */
  public async round(records: readonly ShardCheckpoint[], readable: readonly ShardInfo[]): Promise<LeaseRound> {
    const workers = await this.leases.liveWorkers();
    const count = 1 + workers.filter((w) => w.owner !== this.owner).length;
    const share = Math.ceil(readable.length / count);
    const mine = readable.filter((s) => this.held.has(s.shardId)).map((s) => s.shardId);
    const shed = mine.slice(share);
    const claimed: ShardCheckpoint[] = [];
    const now = this.clock();
    const byId = new Map(records.map((r) => [r.shardId, r]));
    const free = readable.filter((s) => {
      if (this.held.has(s.shardId)) return false;
      const r = byId.get(s.shardId);
      return !r || (!r.finished && (r.owner === undefined || r.owner === this.owner || (r.leaseExpiresAt ?? 0) < now));
    });
    for (const shard of rotate(free)) {
      if (mine.length + claimed.length >= share) break;
      const sent = this.clock();
      const c = await this.leases.claim(shard.shardId, this.owner, this.leaseMs, byId.get(shard.shardId), { parentShardId: shard.parentShardId });
      if (!c) continue; // another worker was first
      this.held.set(shard.shardId, sent + this.leaseMs);
      claimed.push(c.checkpoint);
      DATA_IO.STREAM_I5008.emit(
        this.ioHost,
        `worker ${this.owner} took shard ${shard.shardId}${c.takeover ? ` over from ${c.checkpoint.previousOwner} (its lease had expired)` : ''}`,
        { shardId: shard.shardId, owner: this.owner, takeover: c.takeover, ...(c.takeover ? { previousOwner: c.checkpoint.previousOwner } : {}) },
      );
    }
    return { claimed, shed };
  }

  /** Gives a shard up (after its last batch was checkpointed). */
  public async release(shardId: string, reason: 'handed over' | 'stopped'): Promise<void> {
    this.caughtUpAt.delete(shardId);
    if (!this.held.delete(shardId)) return;
    await this.leases.release(shardId, this.owner);
    DATA_IO.STREAM_I5009.emit(this.ioHost, `worker ${this.owner} released shard ${shardId} (${reason})`, { shardId, owner: this.owner, reason });
  }

  /** The shard is not ours any more (taken over, or not renewed in time): forget it without a write. */
  public lost(shardId: string, reason: string): void {
    this.caughtUpAt.delete(shardId);
    if (!this.held.delete(shardId)) return;
    DATA_IO.STREAM_W5010.emit(this.ioHost, `worker ${this.owner} lost shard ${shardId}: ${reason}; it stopped reading it`, { shardId, owner: this.owner, reason });
  }

  /** A finished shard's lease went with its finish. */
  public finished(shardId: string): void {
    this.held.delete(shardId);
    this.caughtUpAt.delete(shardId);
  }

  /**
   * A read of a held shard that started at `startedAt` found nothing more: recorded in the ledger
   * when the shard was not caught up before, and with each heartbeat after (ShardLeases.markCaughtUp).
   */
  public async emptyRead(shardId: string, startedAt: number): Promise<void> {
    if (!this.held.has(shardId)) return;
    const was = this.caughtUpAt.has(shardId);
    this.caughtUpAt.set(shardId, startedAt);
    if (!was && !(await this.leases.markCaughtUp(shardId, this.owner, startedAt))) this.lost(shardId, 'another worker holds it now');
  }

  /** A batch of the shard was applied: it is not caught up (the checkpoint cleared the mark). */
  public applied(shardId: string): void {
    this.caughtUpAt.delete(shardId);
  }

  private heartbeat(): void {
    if (this.heartbeating) return; // the previous one is still waiting for the ledger
    this.heartbeating = this.renewAll().finally(() => (this.heartbeating = undefined));
  }

  private async renewAll(): Promise<void> {
    try {
      await this.leases.join(this.owner, this.leaseMs);
      await Promise.all(
        [...this.held.keys()].map(async (shardId) => {
          const sent = this.clock();
          if (await this.leases.renew(shardId, this.owner, this.leaseMs, this.caughtUpAt.get(shardId))) {
            if (this.held.has(shardId)) this.held.set(shardId, sent + this.leaseMs);
          } else {
            this.lost(shardId, 'another worker took it over');
          }
        }),
      );
    } catch (err) {
      // Not fatal: the next heartbeat tries again; `holds` stops the batches meanwhile if it lasts.
      DATA_IO.STREAM_W5011.emit(this.ioHost, `worker ${this.owner}: lease heartbeat failed (${messageOf(err)})`, { owner: this.owner, error: messageOf(err) });
    }
  }
}

/** The list, started at a random index and wrapped around: workers claiming together spread. */
function rotate<T>(list: readonly T[]): T[] {
  if (list.length === 0) return [];
  const start = Math.floor(Math.random() * list.length);
  return [...list.slice(start), ...list.slice(0, start)];
}
