/**
 * A resumable DynamoDB Streams reader (DESIGN.md, Data, step 3): it hands the records of every
 * shard to an apply callback, in shard order, one batch at a time, and checkpoints a shard in the
 * ledger only after the apply of its batch resolved. A crash at any moment re-delivers at most the
 * batch that was being applied; apply is idempotent (full images, in order per key), so that is
 * harmless, and nothing is ever skipped.
 *
 * - Discovery: DescribeStream, paginated, at the start and every `discoveryIntervalMs`.
 * - Lineage: a shard is read only after its parent was read to its end, or when its parent is no
 *   longer in the description (trimmed); see shard-lineage.ts for the rules and for why a shard
 *   without a checkpoint starts at TRIM_HORIZON.
 * - Shards that are not parent and child of each other are read concurrently, so `apply` may run
 *   for several shards at once. The records of one key are in one shard at a time, so batches of
 *   different shards never hold the same key. Within a shard, up to `maxBatchesInFlight` batches
 *   are applied at once (read ahead while the previous ones apply; 1 by default): then `apply`
 *   must keep each key's order across its calls, and checkpoints still advance batch by batch, in
 *   order, each once its batch and every earlier one resolved.
 * - ExpiredIteratorException (an iterator is valid for 15 minutes: a slow apply outlives it): a new
 *   iterator from the last applied sequence number. Throttling (LimitExceededException) and
 *   transient faults: capped exponential backoff with jitter.
 * - TrimmedDataAccessException from GetRecords is NOT taken as proof of loss: DynamoDB Local
 *   answers it when an iterator taken on an empty shard (TRIM_HORIZON of an empty stream, or at
 *   the end) is used after a record was written (aws/aws-sdk-java#2923), and on AWS an iterator can
 *   race the trim. Like an expired iterator: batches in flight are drained, a fresh iterator is
 *   taken from the checkpoint (STREAM_W5012) and reading goes on; after MAX_TRIMMED_RENEWALS of
 *   them in a row without a successful read, the reader stops. STREAM_TRIMMED (records lost to the
 *   24 h retention, start the copy over) needs evidence: GetShardIterator refusing the checkpoint
 *   (AFTER_SEQUENCE_NUMBER) with TrimmedDataAccessException, the checkpoint older than the shard's
 *   first available record (DescribeStream's StartingSequenceNumber), or the shard gone from the
 *   description before it was read to its end. Without evidence the reader stops with
 *   STREAM_TRIM_UNCONFIRMED, and its checkpoint is intact: a new run resumes from it.
 * - A shard whose GetRecords returns no NextShardIterator is closed and was read to its end: its
 *   checkpoint is marked finished and its children become readable.
 *
 * "Caught up": DynamoDB Streams has no MillisBehindLatest (that is Kinesis), so a shard is caught
 * up when a read returns no records (`emptyReadsToCatchUp` in a row). `stopWhenCaughtUp` returns
 * once every shard of the description is finished or caught up, confirmed by one more
 * DescribeStream (a shard created meanwhile is read too). Used by tests, and to drain a sync after
 * writes to the source stopped.
 *
 * Lag of a shard: now − ApproximateCreationDateTime of its last applied record, or 0 once a read
 * came back empty (an idle, caught-up shard is not behind, however old its last record), and never
 * more than the time since the last such empty read (record times are coarse: whole seconds on
 * AWS, whole minutes on DynamoDB Local, so under steady writes that bound is the tighter). A shard
 * without an answer to a read in this run yet has no lag; `lag().pending` lists it.
 *
 * Shared (with `leases`): several readers of one sync, in any processes, split the shards. Every
 * `heartbeatMs` (and when a shard ends) a reader lists the sync's checkpoints, so lineage counts
 * shards other workers finished, and asks its ShardLeaseKeeper which readable shards to claim or
 * hand over; it reads only shards it holds, each from the checkpoint its claim returned, and
 * checkpoints under the lease. A shard lost to another worker stops that shard only. "Caught up"
 * then also counts shards that live workers hold and marked caught up. Without `leases` (one
 * worker per sync), a reader refuses to start while another worker holds a live lease of the sync.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetRecordsOutput,
  type GetShardIteratorCommandOutput,
} from '@aws-sdk/client-dynamodb-streams';
import { ReleaseError, messageOf, toolError, userError } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import { isLeaseLost } from '../../ledger/lease-lost';
import type { ShardCheckpoint, ShardCheckpoints } from '../../ledger/shard-checkpoints';
import { Backoff, isRetryable, type BackoffOptions } from '../retry';
import { guardSpecialNames } from '../../item/special-names';
import type { ShardLeaseKeeper } from './shard-lease-keeper';
import { planShardReads, type ShardInfo, type ShardProgress } from './shard-lineage';
import { toStreamRecord, type StreamRecord, type StreamRecordBatch } from './stream-records';

export type { StreamRecord, StreamRecordBatch, StreamEventName } from './stream-records';

export const DEFAULT_POLL_INTERVAL_MS = 250;
export const DEFAULT_BATCH_LIMIT = 1000;
export const DEFAULT_DISCOVERY_INTERVAL_MS = 5000;
export const DEFAULT_PROGRESS_INTERVAL_MS = 2000;

/** Retries of one throttled or failing call before the reader gives up. */
const MAX_RETRIES = 12;
/** The shortest sleep of the main loop between two looks at the shards. */
const MIN_WAIT_MS = 10;
/** Iterator renewals in a row without a successful read before the reader gives up. */
const MAX_EXPIRED_IN_A_ROW = 3;
/**
 * Renewals after TrimmedDataAccessException from GetRecords, in a row without a successful read,
 * before the reader stops and looks for evidence of a real trim (see the file comment). One renewal
 * is enough for DynamoDB Local's defect; the rest absorb a trim race.
 */
const MAX_TRIMMED_RENEWALS = 5;

export interface StreamReaderProps {
  readonly ioHost: IoHost;
  /** The stream to read (the source table's LatestStreamArn, as captured at T0). */
  readonly streamArn: string;
  /** Where each shard stands; read at the start of `run` and advanced after every applied batch. */
  readonly checkpoints: ShardCheckpoints;
  /** @default - a client from the environment's configuration (AWS_ENDPOINT_URL_DYNAMODB_STREAMS) */
  readonly client?: DynamoDBStreamsClient;
  /** Wait after a read that returned no records, per shard, in ms. @default 250 */
  readonly pollIntervalMs?: number;
  /** GetRecords `Limit`: records per batch, 1 to 1000. @default 1000 */
  readonly batchLimit?: number;
  /**
   * Batches of one shard being applied at once: the next batch is read while earlier ones apply.
   * More than 1 only with an apply that keeps each key's order across calls (ChangeApplier does).
   * @default 1
   */
  readonly maxBatchesInFlight?: number;
  /** How often DescribeStream looks for new shards, in ms. @default 5000 */
  readonly discoveryIntervalMs?: number;
  /** How often progress (STREAM_I5001) is reported, in ms. @default 2000 */
  readonly progressIntervalMs?: number;
  /** Empty reads in a row after which a shard counts as caught up. @default 1 */
  readonly emptyReadsToCatchUp?: number;
  /** Backoff of throttled calls. @default - lib/data/retry.ts defaults */
  readonly backoff?: Omit<BackoffOptions, 'sleep'>;
  /** Now in epoch ms: lag. @default Date.now */
  readonly clock?: () => number;
  /**
   * Shares the stream with the other workers of this sync: this reader reads only the shards it
   * holds a lease on (shard-lease-keeper.ts). @default - this reader reads every shard (one worker per sync)
   */
  readonly leases?: ShardLeaseKeeper;
}

export interface StreamRunOptions {
  /** Stops the reader: batches being applied finish and are checkpointed, then `run` resolves. @default - none */
  readonly signal?: AbortSignal;
  /** Resolve once every shard is finished or caught up (see the file comment). @default false */
  readonly stopWhenCaughtUp?: boolean;
}

/**
 * Applies one batch; the shard's checkpoint advances only after it (and every earlier batch of the
 * shard) resolved. Must be idempotent; with `maxBatchesInFlight` > 1, it is called for the next
 * batch of a shard before the previous one resolved, and must keep each key's order across calls.
 */
export type ApplyStreamBatch = (batch: StreamRecordBatch) => Promise<void>;

export type StreamStopReason = 'caught-up' | 'aborted' | 'stream-disabled';

export interface StreamRunResult {
  /** Records applied in this run. */
  readonly recordsApplied: number;
  readonly batches: number;
  /** Why `run` returned: caught up (stopWhenCaughtUp), the signal, or a disabled stream read to its end. */
  readonly stoppedBy: StreamStopReason;
  /** Shards read to their end in this run. */
  readonly shardsFinished: readonly string[];
}

export interface StreamLag {
  /** Lag in ms per shard being read (see the file comment). */
  readonly perShard: Record<string, number>;
  /** The largest lag, 0 when no shard has one. */
  readonly maxMs: number;
  /**
   * Shards being read that have no lag yet (no read answered in this run); while a run has not yet
   * started reading its shards, `STREAM_NOT_PLANNED` alone: until then nothing is known.
   */
  readonly pending: readonly string[];
}

/** The one `pending` entry of a reader that has not started reading its shards yet. */
export const STREAM_NOT_PLANNED = '(shards not planned yet)';

interface ShardRun {
  readonly shardId: string;
  readonly parentShardId?: string;
  /** Running total, continued from the checkpoint. */
  recordsApplied: number;
  /** The last applied sequence number. */
  position?: string;
  /** Creation time of the last applied record; before any, of the first record read (see lag). */
  lastCreatedMs?: number;
  /** True once a read answered in this run. */
  answered: boolean;
  emptyReads: number;
  caughtUp: boolean;
  /** When a read last found the shard fully applied (everything written before it was applied). */
  caughtUpAtMs?: number;
  finished: boolean;
  /** Shared readers: hand the shard over after the batch in flight. */
  stopRequested: boolean;
  /** Shared readers: the lease is gone; stop without another checkpoint. */
  lost: boolean;
  task?: Promise<void>;
}

interface RunContext {
  readonly apply: ApplyStreamBatch;
  readonly stop: AbortSignal;
  /** Stops every shard now (after a failure): their batches being applied are still checkpointed. */
  readonly halt: () => void;
  readonly wake: Wakeup;
  failure?: unknown;
  recordsApplied: number;
  batches: number;
  readonly finished: string[];
  /** Shared readers: a shard run ended, so shares and lineage are worth a look now. */
  leaseRoundDue: boolean;
}

/** A shard of the description, with the first sequence number the stream still holds for it. */
interface DescribedShard extends ShardInfo {
  /** SequenceNumberRange.StartingSequenceNumber. @default - not given */
  readonly startingSequenceNumber?: string;
}

interface Description {
  readonly status?: string;
  readonly shards: DescribedShard[];
}

export class StreamReader {
  public readonly streamArn: string;
  private readonly ioHost: IoHost;
  private readonly checkpoints: ShardCheckpoints;
  private readonly client: DynamoDBStreamsClient;
  private readonly pollIntervalMs: number;
  private readonly batchLimit: number;
  private readonly maxBatchesInFlight: number;
  private readonly discoveryIntervalMs: number;
  private readonly progressIntervalMs: number;
  private readonly emptyReadsToCatchUp: number;
  private readonly backoff: Backoff;
  private readonly clock: () => number;
  private readonly leases?: ShardLeaseKeeper;
  /** Shared readers: the sync's checkpoint records as last listed (other workers' leases and progress). */
  private ledgerView = new Map<string, ShardCheckpoint>();
  /** When the current `run` started (shared readers: how fresh another worker's caught-up mark must be). */
  private runStartedAt = 0;
  private readonly runs = new Map<string, ShardRun>();
  private readonly known = new Set<string>();
  private progress = new Map<string, ShardProgress>();
  private lastDescription: Description = { shards: [] };
  private running = false;
  /** True once this run has started reading the shards of its first stream description. */
  private planned = false;

  public constructor(props: StreamReaderProps) {
    this.ioHost = props.ioHost;
    this.streamArn = props.streamArn;
    this.checkpoints = props.checkpoints;
    // stream images carry item attributes: `__proto__` and `constructor` among them must survive the SDK
    this.client = guardSpecialNames(props.client ?? new DynamoDBStreamsClient({}));
    this.pollIntervalMs = nonNegative('pollIntervalMs', props.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.batchLimit = props.batchLimit ?? DEFAULT_BATCH_LIMIT;
    if (!Number.isInteger(this.batchLimit) || this.batchLimit < 1 || this.batchLimit > 1000) {
      throw toolError('STREAM_BAD_OPTION', `batchLimit must be an integer from 1 to 1000 (found: ${this.batchLimit})`);
    }
    this.maxBatchesInFlight = props.maxBatchesInFlight ?? 1;
    if (!Number.isInteger(this.maxBatchesInFlight) || this.maxBatchesInFlight < 1) {
      throw toolError('STREAM_BAD_OPTION', `maxBatchesInFlight must be a whole number >= 1 (found: ${this.maxBatchesInFlight})`);
    }
    this.discoveryIntervalMs = nonNegative('discoveryIntervalMs', props.discoveryIntervalMs ?? DEFAULT_DISCOVERY_INTERVAL_MS);
    this.progressIntervalMs = nonNegative('progressIntervalMs', props.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
    this.emptyReadsToCatchUp = Math.max(1, props.emptyReadsToCatchUp ?? 1);
    this.backoff = new Backoff(props.backoff);
    this.clock = props.clock ?? Date.now;
    this.leases = props.leases;
  }

  /** The lag of each shard being read (see the file comment). */
  public lag(): StreamLag {
    const now = this.clock();
    const perShard: Record<string, number> = {};
    const pending: string[] = [];
    // Before the first description is planned there are no runs, which must not read as caught up.
    if (this.running && !this.planned) return { perShard, maxMs: 0, pending: [STREAM_NOT_PLANNED] };
    for (const run of this.runs.values()) {
      if (run.finished) continue;
      if (!run.answered) pending.push(run.shardId);
      else perShard[run.shardId] = run.caughtUp || run.lastCreatedMs === undefined ? 0 : Math.max(0, Math.min(now - run.lastCreatedMs, now - (run.caughtUpAtMs ?? -Infinity)));
    }
    return { perShard, maxMs: Math.max(0, ...Object.values(perShard)), pending };
  }

  /**
   * Reads the stream and hands every record to `apply` until the signal stops it, or until caught
   * up with `stopWhenCaughtUp`, or until a disabled stream was read to its end. Rejects with the
   * first failure (an apply that threw, STREAM_TRIMMED, ...) after the other shards' batches in
   * flight were applied and checkpointed.
   */
  public async run(apply: ApplyStreamBatch, options: StreamRunOptions = {}): Promise<StreamRunResult> {
    if (this.running) throw toolError('STREAM_READER_BUSY', `the reader of ${this.streamArn} is already running`);
    this.running = true;
    this.planned = false;
    this.runStartedAt = this.clock();
    this.runs.clear();
    const stopper = new AbortController();
    const onAbort = () => stopper.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stopper.abort();
    const ctx: RunContext = {
      apply,
      stop: stopper.signal,
      halt: () => stopper.abort(),
      wake: new Wakeup(),
      recordsApplied: 0,
      batches: 0,
      finished: [],
      leaseRoundDue: true,
    };
    let stoppedBy: StreamStopReason = 'aborted';
    try {
      await this.leases?.start();
      stoppedBy = await this.loop(ctx, options);
    } catch (err) {
      ctx.failure ??= err;
    } finally {
      stopper.abort();
      await Promise.allSettled([...this.runs.values()].map((r) => r.task));
      // Every batch in flight is checkpointed: the shards can go to the other workers now.
      await this.leases?.stop();
      options.signal?.removeEventListener('abort', onAbort);
      this.running = false;
    }
    // An abort that came from our own stop is not a failure of its own.
    if (ctx.failure !== undefined && !(isAbortError(ctx.failure) && options.signal?.aborted)) throw ctx.failure;
    this.emitProgress(ctx);
    const result: StreamRunResult = { recordsApplied: ctx.recordsApplied, batches: ctx.batches, stoppedBy, shardsFinished: ctx.finished };
    DATA_IO.STREAM_I5007.emit(this.ioHost, `stream reader stopped (${stoppedBy}): ${ctx.recordsApplied} records applied`, {
      streamArn: this.streamArn,
      recordsApplied: ctx.recordsApplied,
      batches: ctx.batches,
      stoppedBy,
    });
    return result;
  }

  private async loop(ctx: RunContext, options: StreamRunOptions): Promise<StreamStopReason> {
    if (ctx.stop.aborted) return 'aborted';
    const listed = await this.checkpoints.list();
    if (!this.leases) this.refuseLeasedSync(listed);
    const checkpoints = new Map(listed.map((c) => [c.shardId, c]));
    this.progress = new Map(checkpoints);
    let description = await this.describe(ctx.stop);
    let lastDescribe = this.clock();
    let lastProgress = this.clock();
    let lastLeaseRound = -Infinity;
    let confirmed = false;
    const first = planShardReads(description.shards, this.progress.values());
    DATA_IO.STREAM_I5000.emit(this.ioHost, `reading stream ${this.streamArn}: ${description.shards.length} shards, ${first.finished.length} finished`, {
      streamArn: this.streamArn,
      shards: description.shards.length,
      readable: first.readable.length,
      finished: first.finished.length,
    });

    for (;;) {
      if (ctx.failure !== undefined) throw ctx.failure;
      if (ctx.stop.aborted) return 'aborted';
      if (this.leases && (ctx.leaseRoundDue || this.clock() - lastLeaseRound >= this.leases.heartbeatMs)) {
        ctx.leaseRoundDue = false;
        await this.leaseRound(description, ctx);
        lastLeaseRound = this.clock();
        if (ctx.stop.aborted) continue;
      }
      const plan = planShardReads(description.shards, this.progress.values());
      if (plan.lost.length > 0) throw trimmed(this.streamArn, plan.lost[0]!, 'it left the stream description before it was read to its end');
      if (!this.leases) {
        for (const shard of plan.readable) if (!this.runs.has(shard.shardId)) this.startRun(shard, checkpoints.get(shard.shardId), ctx);
      }
      this.planned = true;

      const isFinished = (id: string) => this.progress.get(id)?.finished === true;
      const allFinished = description.shards.every((s) => isFinished(s.shardId));
      if (description.status === 'DISABLED' && allFinished) return 'stream-disabled';
      const allCaughtUp = description.shards.every((s) => isFinished(s.shardId) || this.runs.get(s.shardId)?.caughtUp === true || this.caughtUpElsewhere(s.shardId));
      if (options.stopWhenCaughtUp && allCaughtUp) {
        if (confirmed) return 'caught-up';
        // One more look: a shard created since the last description must be read too (and, shared,
        // the other workers' shards as they are now).
        description = await this.describe(ctx.stop);
        lastDescribe = this.clock();
        confirmed = true;
        ctx.leaseRoundDue = this.leases !== undefined;
        continue;
      }
      confirmed = false;

      const now = this.clock();
      const untilDescribe = lastDescribe + this.discoveryIntervalMs - now;
      const untilProgress = lastProgress + this.progressIntervalMs - now;
      const untilLeases = this.leases ? lastLeaseRound + this.leases.heartbeatMs - now : Infinity;
      await ctx.wake.wait(Math.max(MIN_WAIT_MS, Math.min(untilDescribe, untilProgress, untilLeases)), ctx.stop);
      if (ctx.stop.aborted || ctx.failure !== undefined) continue;
      if (this.clock() - lastDescribe >= this.discoveryIntervalMs) {
        description = await this.describe(ctx.stop);
        lastDescribe = this.clock();
      }
      if (this.clock() - lastProgress >= this.progressIntervalMs) {
        this.emitProgress(ctx);
        lastProgress = this.clock();
      }
    }
  }

  /**
   * Shared readers: the sync's checkpoints as every worker left them (lineage counts the shards
   * others finished), then this worker's share: runs for shards it claimed, hand-overs for its surplus.
   */
  private async leaseRound(description: Description, ctx: RunContext): Promise<void> {
    const leases = this.leases!;
    const listed = await this.checkpoints.list();
    this.ledgerView = new Map(listed.map((c) => [c.shardId, c]));
    for (const c of listed) {
      const own = this.progress.get(c.shardId);
      // Our own running shards are ahead of (or equal to) the ledger; others' are as listed.
      if (this.runs.has(c.shardId) && !c.finished) continue;
      this.progress.set(c.shardId, { shardId: c.shardId, finished: c.finished || own?.finished === true, sequenceNumber: c.sequenceNumber ?? own?.sequenceNumber });
    }
    const plan = planShardReads(description.shards, this.progress.values());
    const round = await leases.round(listed, plan.readable.filter((s) => !this.runs.get(s.shardId)?.finished));
    const parents = new Map(description.shards.map((s) => [s.shardId, s.parentShardId]));
    for (const claimed of round.claimed) {
      const running = this.runs.get(claimed.shardId);
      if (running && !running.stopRequested && !running.lost) continue; // a renewal of a shard we read
      // A read of it that is winding down (handed over, or lost) is not its reader: a new one starts
      // once that one's batches are checkpointed, from where they left it.
      this.startRun({ shardId: claimed.shardId, parentShardId: parents.get(claimed.shardId) ?? claimed.parentShardId }, claimed, ctx, running);
    }
    for (const shardId of round.shed) {
      const run = this.runs.get(shardId);
      if (run) run.stopRequested = true;
    }
  }

  private startRun(shard: ShardInfo, checkpoint: ShardCheckpoint | undefined, ctx: RunContext, windingDown?: ShardRun): void {
    const run: ShardRun = {
      shardId: shard.shardId,
      parentShardId: shard.parentShardId,
      recordsApplied: checkpoint?.recordsApplied ?? 0,
      position: checkpoint?.sequenceNumber,
      lastCreatedMs: checkpoint?.lastApproximateCreationMs,
      answered: false,
      emptyReads: 0,
      caughtUp: false,
      finished: false,
      stopRequested: false,
      lost: false,
    };
    this.runs.set(shard.shardId, run);
    run.task = windingDown?.task
      ? windingDown.task.then(() => {
          // The old read's own checkpoints may be newer than the claim saw.
          if (windingDown.position !== undefined && (run.position === undefined || isOlder(run.position, windingDown.position))) {
            run.position = windingDown.position;
            run.recordsApplied = windingDown.recordsApplied;
            run.lastCreatedMs = windingDown.lastCreatedMs;
          }
          return this.readShard(run, ctx);
        })
      : this.readShard(run, ctx);
  }

  /**
   * Shared readers: another live worker holds the shard and a read of it that started after this
   * run did found nothing more, so every record written before this run started is applied.
   */
  private caughtUpElsewhere(shardId: string): boolean {
    if (!this.leases) return false;
    const c = this.ledgerView.get(shardId);
    const live = c?.owner !== undefined && c.owner !== this.leases.owner && (c.leaseExpiresAt ?? 0) >= this.clock();
    return live && c.caughtUpAt !== undefined && c.caughtUpAt >= this.runStartedAt;
  }

  /** One worker per sync must not read a sync that workers share under leases (nor the other way round). */
  private refuseLeasedSync(listed: readonly ShardCheckpoint[]): void {
    const now = this.clock();
    const held = listed.find((c) => c.owner !== undefined && (c.leaseExpiresAt ?? 0) >= now);
    if (held) {
      throw userError('SYNC_SHARED', `shard ${held.shardId} of sync ${this.checkpoints.syncId} is held by worker ${held.owner} under a lease: the sync is shared by several workers`, {
        fix: 'run this worker with shard leases too (npm run sync -- --shared ...), or stop the others first',
      });
    }
  }

  /** One shard, from its checkpoint to its end (or until the reader stops). Never rejects: a failure goes to ctx. */
  private async readShard(run: ShardRun, ctx: RunContext): Promise<void> {
    // Batches applying, each resolving once it is checkpointed (in order: each waits for the one before).
    const inFlight: Array<Promise<void>> = [];
    let previous: Promise<void> = Promise.resolve();
    const drain = async () => {
      while (inFlight.length > 0) await inFlight.shift();
    };
    try {
      // undefined: take a fresh one from the checkpoint (at the start, and after a renewal).
      let iterator: string | undefined;
      let expiredInARow = 0;
      let trimmedInARow = 0;
      while (!ctx.stop.aborted && !run.stopRequested && !run.lost) {
        let out: GetRecordsOutput;
        const readStartedAt = this.clock();
        try {
          const current = (iterator ??= await this.iteratorFor(run, ctx.stop));
          out = await this.call('GetRecords', run.shardId, ctx.stop, () =>
            this.client.send(new GetRecordsCommand({ ShardIterator: current, Limit: this.batchLimit }), { abortSignal: ctx.stop }),
          );
        } catch (err) {
          const name = errorName(err);
          if (name === 'ExpiredIteratorException') {
            if (++expiredInARow > MAX_EXPIRED_IN_A_ROW) {
              throw toolError('STREAM_ITERATOR_EXPIRED', `shard ${run.shardId}: ${expiredInARow} fresh iterators in a row expired before a read`, {
                cause: err,
                fix: 'check the clock of this machine and of the streams endpoint',
              });
            }
            await drain(); // the checkpoint is then the last record read
            DATA_IO.STREAM_W5005.emit(this.ioHost, `shard ${run.shardId}: the iterator expired; continuing from the checkpoint`, {
              shardId: run.shardId,
              sequenceNumber: run.position,
            });
          } else if (name === 'TrimmedDataAccessException') {
            // Not proof that anything was lost (see the file comment): DynamoDB Local answers it to
            // an iterator taken on an empty shard once a record is written (aws/aws-sdk-java#2923),
            // and on AWS an iterator can race the trim. Continue from the checkpoint; only after
            // MAX_TRIMMED_RENEWALS in a row look for evidence, and say STREAM_TRIMMED only with it.
            // (A Trimmed refusal of the checkpoint by GetShardIterator is evidence: iteratorFor
            // throws STREAM_TRIMMED for it and that ends the shard at once.)
            if (++trimmedInARow > MAX_TRIMMED_RENEWALS) throw await this.trimVerdict(run, trimmedInARow, err, ctx.stop);
            await drain(); // the checkpoint is then the last record read
            const position = run.position;
            DATA_IO.STREAM_W5012.emit(
              this.ioHost,
              `shard ${run.shardId}: GetRecords answered TrimmedDataAccessException (DynamoDB Local's known defect on a shard that was empty, or a trim race); nothing is known lost, continuing from the checkpoint (${position !== undefined ? `after ${position}` : 'TRIM_HORIZON'})`,
              {
                shardId: run.shardId,
                iteratorType: position !== undefined ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
                ...(position !== undefined ? { sequenceNumber: position } : {}),
                renewals: trimmedInARow,
                error: messageOf(err),
              },
            );
            // The first renewal at once (the defect needs nothing more); later ones back off.
            if (trimmedInARow > 1) await sleep(this.backoff.delayMs(trimmedInARow - 2), undefined, { signal: ctx.stop });
          } else {
            throw err;
          }
          iterator = undefined;
          continue;
        }
        expiredInARow = 0;
        trimmedInARow = 0;
        run.answered = true;
        const wire = out.Records ?? [];
        if (wire.length > 0) {
          if (run.stopRequested) break; // handed over: the next holder reads these from the checkpoint
          if (this.leases && !this.leases.holds(run.shardId)) {
            this.loseShard(run, 'its lease was not renewed in time', ctx);
            break;
          }
          const records = wire.map((r) => toStreamRecord(run.shardId, r));
          run.emptyReads = 0;
          run.caughtUp = false;
          // Nothing applied yet: the lag is the age of the first record read, not 0, until a
          // checkpoint gives the last applied record's age.
          run.lastCreatedMs ??= records[0]!.approximateCreationMs;
          this.leases?.applied(run.shardId);
          // The apply is not given the stop signal: a batch that started is applied and checkpointed.
          const applied = ctx.apply({ shardId: run.shardId, records });
          applied.catch(() => undefined); // its failure surfaces through `checkpointed`
          const checkpointed = previous.then(() => applied).then(() => this.checkpointBatch(run, records, ctx));
          checkpointed.catch(() => undefined); // awaited through `inFlight`
          previous = checkpointed;
          inFlight.push(checkpointed);
          while (inFlight.length >= this.maxBatchesInFlight) await inFlight.shift();
        } else if (++run.emptyReads >= this.emptyReadsToCatchUp) {
          await drain(); // caught up once everything read is applied and checkpointed
          await this.leases?.emptyRead(run.shardId, readStartedAt);
          // Everything written before this read is applied: lag is at most the time since. A bound
          // that needs no record timestamp (DynamoDB Local truncates them to the minute).
          run.caughtUpAtMs = readStartedAt;
          if (!run.caughtUp) {
            run.caughtUp = true;
            ctx.wake.notify();
          }
        }
        if (!out.NextShardIterator) {
          await drain();
          await this.finishShard(run, ctx);
          return;
        }
        iterator = out.NextShardIterator;
        if (wire.length === 0) await sleep(this.pollIntervalMs, undefined, { signal: ctx.stop });
      }
      await drain();
      if (run.stopRequested && !run.lost && !ctx.stop.aborted) await this.leases?.release(run.shardId, 'handed over');
    } catch (err) {
      // Nothing of this shard is still applying when its failure is reported.
      await Promise.allSettled(inFlight);
      if (ctx.stop.aborted && isAbortError(err)) return;
      if (this.leases && isLeaseLost(err)) {
        this.loseShard(run, 'another worker holds it now', ctx);
        return;
      }
      ctx.failure ??= err;
      ctx.halt();
      ctx.wake.notify();
    } finally {
      // A shared reader's shard that ended unfinished may be claimed again (by anyone, us included).
      if (this.leases && !run.finished && this.runs.get(run.shardId) === run) this.runs.delete(run.shardId);
      if (this.leases) {
        ctx.leaseRoundDue = true;
        ctx.wake.notify();
      }
    }
  }

  private loseShard(run: ShardRun, reason: string, ctx: RunContext): void {
    run.lost = true;
    this.leases?.lost(run.shardId, reason);
    ctx.leaseRoundDue = true;
  }

  /** After a batch was applied (and every earlier batch of the shard checkpointed): its checkpoint. */
  private async checkpointBatch(run: ShardRun, records: readonly StreamRecord[], ctx: RunContext): Promise<void> {
    const last = records[records.length - 1]!;
    const lagMs = Math.max(0, this.clock() - last.approximateCreationMs);
    const recordsApplied = run.recordsApplied + records.length;
    await this.checkpoints.advance(run.shardId, {
      sequenceNumber: last.sequenceNumber,
      recordsApplied,
      approximateCreationMs: last.approximateCreationMs,
      lagMs,
      parentShardId: run.parentShardId,
      owner: this.leases?.owner,
    });
    run.recordsApplied = recordsApplied;
    run.position = last.sequenceNumber;
    run.lastCreatedMs = last.approximateCreationMs;
    this.progress.set(run.shardId, { shardId: run.shardId, finished: false, sequenceNumber: last.sequenceNumber });
    ctx.recordsApplied += records.length;
    ctx.batches++;
  }

  private async finishShard(run: ShardRun, ctx: RunContext): Promise<void> {
    await this.checkpoints.finish(run.shardId, { parentShardId: run.parentShardId, owner: this.leases?.owner });
    this.leases?.finished(run.shardId);
    run.finished = true;
    this.progress.set(run.shardId, { shardId: run.shardId, finished: true, sequenceNumber: run.position });
    ctx.finished.push(run.shardId);
    DATA_IO.STREAM_I5002.emit(this.ioHost, `shard ${run.shardId} was read to its end (${run.recordsApplied} records)`, {
      shardId: run.shardId,
      recordsApplied: run.recordsApplied,
    });
    ctx.wake.notify();
  }

  /**
   * An iterator after the last applied record, or at TRIM_HORIZON when nothing was applied.
   * TrimmedDataAccessException refusing the checkpoint is evidence of loss: STREAM_TRIMMED. At
   * TRIM_HORIZON it is rethrown as it came (no checkpoint: this shard's reading lost nothing), and
   * readShard counts it among its renewals.
   */
  private async iteratorFor(run: ShardRun, signal: AbortSignal): Promise<string> {
    const position = run.position;
    const iteratorType = position !== undefined ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON';
    DATA_IO.STREAM_D5004.emit(this.ioHost, `shard ${run.shardId}: reading from ${position !== undefined ? `after ${position}` : 'TRIM_HORIZON'}`, {
      shardId: run.shardId,
      iteratorType,
      ...(position !== undefined ? { sequenceNumber: position } : {}),
    });
    let out: GetShardIteratorCommandOutput;
    try {
      out = await this.call('GetShardIterator', run.shardId, signal, () =>
        this.client.send(
          new GetShardIteratorCommand({
            StreamArn: this.streamArn,
            ShardId: run.shardId,
            ShardIteratorType: iteratorType,
            ...(position !== undefined ? { SequenceNumber: position } : {}),
          }),
          { abortSignal: signal },
        ),
      );
    } catch (err) {
      if (position !== undefined && errorName(err) === 'TrimmedDataAccessException') {
        throw trimmed(this.streamArn, run.shardId, `GetShardIterator refused its checkpoint ${position} (AFTER_SEQUENCE_NUMBER): the records after it are no longer in the stream`, err);
      }
      throw err;
    }
    if (!out.ShardIterator) throw toolError('STREAM_NO_ITERATOR', `GetShardIterator returned no iterator for shard ${run.shardId} of ${this.streamArn}`);
    return out.ShardIterator;
  }

  /**
   * After TrimmedDataAccessException answered every fresh iterator of a shard: the error to stop
   * with. STREAM_TRIMMED only with evidence that records after the checkpoint left the stream
   * (GetShardIterator refusing the checkpoint was checked by each renewal, see iteratorFor): the
   * shard gone from the description, or the checkpoint older than the shard's first available
   * record. A false STREAM_TRIMMED tells the user to start the copy over for nothing.
   */
  private async trimVerdict(run: ShardRun, answers: number, cause: unknown, signal: AbortSignal): Promise<ReleaseError> {
    const position = run.position;
    const what = `shard ${run.shardId} of stream ${this.streamArn}: GetRecords answered TrimmedDataAccessException to ${answers} fresh iterators in a row`;
    const fix = 'nothing is known lost and the checkpoint is intact: run the sync again, it resumes from the checkpoint; if this repeats on DynamoDB Local, restart it (aws/aws-sdk-java#2923)';
    if (position === undefined) {
      // Read from TRIM_HORIZON: whatever the stream still holds is read, so this reading lost nothing.
      return toolError('STREAM_TRIM_UNCONFIRMED', `${what} from TRIM_HORIZON; the shard has no checkpoint, so nothing was skipped`, { cause, fix });
    }
    const shard = (await this.describe(signal)).shards.find((s) => s.shardId === run.shardId);
    if (!shard) return trimmed(this.streamArn, run.shardId, 'it left the stream description before it was read to its end', cause);
    const start = shard.startingSequenceNumber;
    if (start !== undefined && isOlder(position, start)) {
      return trimmed(this.streamArn, run.shardId, `its checkpoint ${position} is older than the shard's first available record ${start}`, cause);
    }
    return toolError(
      'STREAM_TRIM_UNCONFIRMED',
      `${what}, but nothing shows a loss: GetShardIterator accepted the checkpoint ${position}, and the shard starts at ${start ?? '(not given)'}`,
      { cause, fix },
    );
  }

  /** Every shard of the stream (DescribeStream pages through LastEvaluatedShardId). */
  private async describe(signal: AbortSignal): Promise<Description> {
    const shards: DescribedShard[] = [];
    let status: string | undefined;
    let start: string | undefined;
    do {
      const exclusiveStart = start;
      const out = await this.call('DescribeStream', undefined, signal, () =>
        this.client.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStart }), { abortSignal: signal }),
      );
      const d = out.StreamDescription;
      status = d?.StreamStatus ?? status;
      for (const s of d?.Shards ?? []) {
        if (!s.ShardId) continue;
        const start = s.SequenceNumberRange?.StartingSequenceNumber;
        shards.push({
          shardId: s.ShardId,
          ...(s.ParentShardId ? { parentShardId: s.ParentShardId } : {}),
          ...(start !== undefined ? { startingSequenceNumber: start } : {}),
        });
      }
      start = d?.LastEvaluatedShardId;
    } while (start);
    for (const s of shards) {
      if (this.known.has(s.shardId)) continue;
      this.known.add(s.shardId);
      DATA_IO.STREAM_D5003.emit(this.ioHost, `shard ${s.shardId}${s.parentShardId ? ` (child of ${s.parentShardId})` : ''}`, {
        shardId: s.shardId,
        ...(s.parentShardId ? { parentShardId: s.parentShardId } : {}),
      });
    }
    this.lastDescription = { status, shards };
    return this.lastDescription;
  }

  /**
   * One streams call, retried with backoff while throttled; stream errors mapped to clear ones.
   * TrimmedDataAccessException passes through unchanged: by itself it proves no loss (see the file
   * comment); readShard and iteratorFor decide what it means where it came from.
   */
  private async call<T>(operation: string, shardId: string | undefined, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        if (signal.aborted) throw err;
        const name = errorName(err);
        if (name === 'ResourceNotFoundException') {
          const what = shardId ? `shard ${shardId} of stream ${this.streamArn}` : `stream ${this.streamArn}`;
          throw userError('STREAM_NOT_FOUND', `${what} does not exist (deleted, or aged out)`, {
            cause: err,
            fix: 'when the table was re-created or its stream re-enabled, copy again from new stream positions',
          });
        }
        const throttled = name === 'LimitExceededException' || isRetryable(err);
        if (!throttled || attempt >= MAX_RETRIES) throw err;
        const delayMs = this.backoff.delayMs(attempt);
        DATA_IO.STREAM_W5006.emit(this.ioHost, `${operation}${shardId ? ` on shard ${shardId}` : ''} failed (${name}); retrying in ${Math.round(delayMs)} ms`, {
          operation,
          ...(shardId ? { shardId } : {}),
          attempt: attempt + 1,
          delayMs,
          error: messageOf(err),
        });
        await sleep(delayMs, undefined, { signal });
      }
    }
  }

  private emitProgress(ctx: RunContext): void {
    const lag = this.lag();
    const runs = [...this.runs.values()];
    const finished = [...this.progress.values()].filter((p) => p.finished).length;
    const waiting = planShardReads(this.lastDescription.shards, this.progress.values()).waiting.length;
    DATA_IO.STREAM_I5001.emit(
      this.ioHost,
      `stream: ${ctx.recordsApplied} records applied, lag ${Math.round(lag.maxMs / 1000)} s${lag.pending.length > 0 ? `, ${lag.pending.length} shard(s) not read yet` : ''}`,
      {
        streamArn: this.streamArn,
        recordsApplied: ctx.recordsApplied,
        maxLagMs: lag.maxMs,
        lagPerShard: lag.perShard,
        shardsReading: runs.filter((r) => !r.finished).length,
        shardsWaiting: waiting,
        shardsFinished: finished,
      },
      { task: `stream ${streamLabel(this.streamArn)}`, done: ctx.recordsApplied },
    );
  }
}

/** Wakes the reader's main loop early: a shard finished, caught up or failed. */
class Wakeup {
  private waiters: Array<() => void> = [];
  private pending = false;

  public notify(): void {
    if (this.waiters.length === 0) {
      this.pending = true;
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves on `notify` (also one that came before), after `ms`, or on abort. */
  public wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }
}

/**
 * STREAM_TRIMMED: records of a shard were lost and the copy must start over. Only with evidence
 * (a shard gone from the description unfinished, GetShardIterator refusing the checkpoint, the
 * checkpoint older than the shard's first record), never for TrimmedDataAccessException from
 * GetRecords alone: DynamoDB Local answers that when nothing was lost (see the file comment).
 */
function trimmed(streamArn: string, shardId: string, why: string, cause?: unknown): ReleaseError {
  return toolError('STREAM_TRIMMED', `records of shard ${shardId} of stream ${streamArn} were lost to the stream's 24 h retention: ${why}`, {
    cause,
    fix: 'the target cannot be brought in sync from this stream any more; start the copy over (new stream positions, new copy job)',
  });
}

/**
 * True when sequence number `a` comes before `b`. They are decimal strings of up to 40 digits,
 * beyond a JavaScript number's 2^53: compared as BigInt, never as Number.
 */
function isOlder(a: string, b: string): boolean {
  return toBigInt(a) < toBigInt(b);
}

function toBigInt(sequenceNumber: string): bigint {
  if (!/^\d{1,40}$/.test(sequenceNumber)) {
    throw toolError('STREAM_SEQUENCE_NUMBER_INVALID', `a stream sequence number must be 1 to 40 decimal digits (found: "${sequenceNumber}")`);
  }
  return BigInt(sequenceNumber);
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw toolError('STREAM_BAD_OPTION', `${name} must be a number >= 0 (found: ${value})`);
  return value;
}

/** The table name in a stream ARN, for progress lines. */
function streamLabel(arn: string): string {
  const m = /table\/([^/]+)\/stream\/(.+)$/.exec(arn);
  return m ? `${m[1]}` : arn;
}
