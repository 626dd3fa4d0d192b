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
 *   for several shards at once (never for two batches of one shard). The records of one key are in
 *   one shard at a time, so concurrent batches never hold the same key.
 * - ExpiredIteratorException (an iterator is valid for 15 minutes: a slow apply outlives it): a new
 *   iterator from the last applied sequence number. TrimmedDataAccessException: STREAM_TRIMMED,
 *   records were lost to the 24 h retention and the copy must start over. Throttling
 *   (LimitExceededException) and transient faults: capped exponential backoff with jitter.
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
 * came back empty (an idle, caught-up shard is not behind, however old its last record). A shard
 * without an answer to a read in this run yet has no lag; `lag().pending` lists it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetRecordsOutput,
} from '@aws-sdk/client-dynamodb-streams';
import { ReleaseError, messageOf, toolError, userError } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import type { ShardCheckpoints } from '../../ledger/shard-checkpoints';
import { Backoff, isRetryable, type BackoffOptions } from '../retry';
import { planShardReads, type ShardInfo, type ShardProgress } from './shard-lineage';
import { toStreamRecord, type StreamRecordBatch } from './stream-records';

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
}

export interface StreamRunOptions {
  /** Stops the reader: batches being applied finish and are checkpointed, then `run` resolves. @default - none */
  readonly signal?: AbortSignal;
  /** Resolve once every shard is finished or caught up (see the file comment). @default false */
  readonly stopWhenCaughtUp?: boolean;
}

/** Applies one batch; the shard's checkpoint advances only after it resolved. Must be idempotent. */
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
  /** Shards being read that have no lag yet (no read answered in this run). */
  readonly pending: readonly string[];
}

interface ShardRun {
  readonly shardId: string;
  readonly parentShardId?: string;
  /** Running total, continued from the checkpoint. */
  recordsApplied: number;
  /** The last applied sequence number. */
  position?: string;
  lastCreatedMs?: number;
  /** True once a read answered in this run. */
  answered: boolean;
  emptyReads: number;
  caughtUp: boolean;
  finished: boolean;
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
}

interface Description {
  readonly status?: string;
  readonly shards: ShardInfo[];
}

export class StreamReader {
  public readonly streamArn: string;
  private readonly ioHost: IoHost;
  private readonly checkpoints: ShardCheckpoints;
  private readonly client: DynamoDBStreamsClient;
  private readonly pollIntervalMs: number;
  private readonly batchLimit: number;
  private readonly discoveryIntervalMs: number;
  private readonly progressIntervalMs: number;
  private readonly emptyReadsToCatchUp: number;
  private readonly backoff: Backoff;
  private readonly clock: () => number;
  private readonly runs = new Map<string, ShardRun>();
  private readonly known = new Set<string>();
  private progress = new Map<string, ShardProgress>();
  private lastDescription: Description = { shards: [] };
  private running = false;

  public constructor(props: StreamReaderProps) {
    this.ioHost = props.ioHost;
    this.streamArn = props.streamArn;
    this.checkpoints = props.checkpoints;
    this.client = props.client ?? new DynamoDBStreamsClient({});
    this.pollIntervalMs = nonNegative('pollIntervalMs', props.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.batchLimit = props.batchLimit ?? DEFAULT_BATCH_LIMIT;
    if (!Number.isInteger(this.batchLimit) || this.batchLimit < 1 || this.batchLimit > 1000) {
      throw toolError('STREAM_BAD_OPTION', `batchLimit must be an integer from 1 to 1000 (found: ${this.batchLimit})`);
    }
    this.discoveryIntervalMs = nonNegative('discoveryIntervalMs', props.discoveryIntervalMs ?? DEFAULT_DISCOVERY_INTERVAL_MS);
    this.progressIntervalMs = nonNegative('progressIntervalMs', props.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
    this.emptyReadsToCatchUp = Math.max(1, props.emptyReadsToCatchUp ?? 1);
    this.backoff = new Backoff(props.backoff);
    this.clock = props.clock ?? Date.now;
  }

  /** The lag of each shard being read (see the file comment). */
  public lag(): StreamLag {
    const now = this.clock();
    const perShard: Record<string, number> = {};
    const pending: string[] = [];
    for (const run of this.runs.values()) {
      if (run.finished) continue;
      if (!run.answered) pending.push(run.shardId);
      else perShard[run.shardId] = run.caughtUp || run.lastCreatedMs === undefined ? 0 : Math.max(0, now - run.lastCreatedMs);
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
    };
    let stoppedBy: StreamStopReason = 'aborted';
    try {
      stoppedBy = await this.loop(ctx, options);
    } catch (err) {
      ctx.failure ??= err;
    } finally {
      stopper.abort();
      await Promise.allSettled([...this.runs.values()].map((r) => r.task));
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
    const checkpoints = new Map((await this.checkpoints.list()).map((c) => [c.shardId, c]));
    this.progress = new Map(checkpoints);
    let description = await this.describe(ctx.stop);
    let lastDescribe = this.clock();
    let lastProgress = this.clock();
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
      const plan = planShardReads(description.shards, this.progress.values());
      if (plan.lost.length > 0) throw trimmed(this.streamArn, plan.lost[0]!, 'it left the stream description before it was read to its end');
      for (const shard of plan.readable) {
        if (this.runs.has(shard.shardId)) continue;
        const checkpoint = checkpoints.get(shard.shardId);
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
        };
        this.runs.set(shard.shardId, run);
        run.task = this.readShard(run, ctx);
      }

      const isFinished = (id: string) => this.progress.get(id)?.finished === true;
      const allFinished = description.shards.every((s) => isFinished(s.shardId));
      if (description.status === 'DISABLED' && allFinished) return 'stream-disabled';
      const allCaughtUp = description.shards.every((s) => isFinished(s.shardId) || this.runs.get(s.shardId)?.caughtUp === true);
      if (options.stopWhenCaughtUp && allCaughtUp) {
        if (confirmed) return 'caught-up';
        // One more look: a shard created since the last description must be read too.
        description = await this.describe(ctx.stop);
        lastDescribe = this.clock();
        confirmed = true;
        continue;
      }
      confirmed = false;

      const now = this.clock();
      const untilDescribe = lastDescribe + this.discoveryIntervalMs - now;
      const untilProgress = lastProgress + this.progressIntervalMs - now;
      await ctx.wake.wait(Math.max(MIN_WAIT_MS, Math.min(untilDescribe, untilProgress)), ctx.stop);
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

  /** One shard, from its checkpoint to its end (or until the reader stops). Never rejects: a failure goes to ctx. */
  private async readShard(run: ShardRun, ctx: RunContext): Promise<void> {
    try {
      let iterator = await this.iteratorFor(run, ctx.stop);
      let expiredInARow = 0;
      while (!ctx.stop.aborted) {
        let out: GetRecordsOutput;
        try {
          const current = iterator;
          out = await this.call('GetRecords', run.shardId, ctx.stop, () =>
            this.client.send(new GetRecordsCommand({ ShardIterator: current, Limit: this.batchLimit }), { abortSignal: ctx.stop }),
          );
        } catch (err) {
          if (errorName(err) !== 'ExpiredIteratorException') throw err;
          if (++expiredInARow > MAX_EXPIRED_IN_A_ROW) {
            throw toolError('STREAM_ITERATOR_EXPIRED', `shard ${run.shardId}: ${expiredInARow} fresh iterators in a row expired before a read`, {
              cause: err,
              fix: 'check the clock of this machine and of the streams endpoint',
            });
          }
          DATA_IO.STREAM_W5005.emit(this.ioHost, `shard ${run.shardId}: the iterator expired; continuing from the checkpoint`, {
            shardId: run.shardId,
            sequenceNumber: run.position,
          });
          iterator = await this.iteratorFor(run, ctx.stop);
          continue;
        }
        expiredInARow = 0;
        run.answered = true;
        const wire = out.Records ?? [];
        if (wire.length > 0) {
          await this.applyBatch(run, wire.map((r) => toStreamRecord(run.shardId, r)), ctx);
        } else if (++run.emptyReads >= this.emptyReadsToCatchUp && !run.caughtUp) {
          run.caughtUp = true;
          ctx.wake.notify();
        }
        if (!out.NextShardIterator) {
          await this.finishShard(run, ctx);
          return;
        }
        iterator = out.NextShardIterator;
        if (wire.length === 0) await sleep(this.pollIntervalMs, undefined, { signal: ctx.stop });
      }
    } catch (err) {
      if (ctx.stop.aborted && isAbortError(err)) return;
      ctx.failure ??= err;
      ctx.halt();
      ctx.wake.notify();
    }
  }

  private async applyBatch(run: ShardRun, records: ReturnType<typeof toStreamRecord>[], ctx: RunContext): Promise<void> {
    // The apply is not given the stop signal: a batch that started is applied and checkpointed.
    await ctx.apply({ shardId: run.shardId, records });
    const last = records[records.length - 1]!;
    const lagMs = Math.max(0, this.clock() - last.approximateCreationMs);
    const recordsApplied = run.recordsApplied + records.length;
    await this.checkpoints.advance(run.shardId, {
      sequenceNumber: last.sequenceNumber,
      recordsApplied,
      approximateCreationMs: last.approximateCreationMs,
      lagMs,
      parentShardId: run.parentShardId,
    });
    run.recordsApplied = recordsApplied;
    run.position = last.sequenceNumber;
    run.lastCreatedMs = last.approximateCreationMs;
    run.emptyReads = 0;
    run.caughtUp = false;
    this.progress.set(run.shardId, { shardId: run.shardId, finished: false, sequenceNumber: last.sequenceNumber });
    ctx.recordsApplied += records.length;
    ctx.batches++;
  }

  private async finishShard(run: ShardRun, ctx: RunContext): Promise<void> {
    await this.checkpoints.finish(run.shardId, { parentShardId: run.parentShardId });
    run.finished = true;
    this.progress.set(run.shardId, { shardId: run.shardId, finished: true, sequenceNumber: run.position });
    ctx.finished.push(run.shardId);
    DATA_IO.STREAM_I5002.emit(this.ioHost, `shard ${run.shardId} was read to its end (${run.recordsApplied} records)`, {
      shardId: run.shardId,
      recordsApplied: run.recordsApplied,
    });
    ctx.wake.notify();
  }

  /** An iterator after the last applied record, or at TRIM_HORIZON when nothing was applied. */
  private async iteratorFor(run: ShardRun, signal: AbortSignal): Promise<string> {
    const position = run.position;
    const iteratorType = position !== undefined ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON';
    DATA_IO.STREAM_D5004.emit(this.ioHost, `shard ${run.shardId}: reading from ${position !== undefined ? `after ${position}` : 'TRIM_HORIZON'}`, {
      shardId: run.shardId,
      iteratorType,
      ...(position !== undefined ? { sequenceNumber: position } : {}),
    });
    const out = await this.call('GetShardIterator', run.shardId, signal, () =>
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
    if (!out.ShardIterator) throw toolError('STREAM_NO_ITERATOR', `GetShardIterator returned no iterator for shard ${run.shardId} of ${this.streamArn}`);
    return out.ShardIterator;
  }

  /** Every shard of the stream (DescribeStream pages through LastEvaluatedShardId). */
  private async describe(signal: AbortSignal): Promise<Description> {
    const shards: ShardInfo[] = [];
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
        if (s.ShardId) shards.push(s.ParentShardId ? { shardId: s.ShardId, parentShardId: s.ParentShardId } : { shardId: s.ShardId });
      }
      start = d?.LastEvaluatedShardId;
    } while (start);
    for (const s of shards) {
      if (this.known.has(s.shardId)) continue;
      this.known.add(s.shardId);
      DATA_IO.STREAM_D5003.emit(this.ioHost, `shard ${s.shardId}${s.parentShardId ? ` (child of ${s.parentShardId})` : ''}`, s);
    }
    this.lastDescription = { status, shards };
    return this.lastDescription;
  }

  /** One streams call, retried with backoff while throttled; stream errors mapped to clear ones. */
  private async call<T>(operation: string, shardId: string | undefined, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        if (signal.aborted) throw err;
        const name = errorName(err);
        if (name === 'TrimmedDataAccessException') {
          throw trimmed(this.streamArn, shardId ?? '(none)', 'its records before the checkpoint aged out of the stream', err);
        }
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
      `stream: ${ctx.recordsApplied} records applied, lag ${Math.round(lag.maxMs / 1000)} s`,
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

function trimmed(streamArn: string, shardId: string, why: string, cause?: unknown): ReleaseError {
  return toolError('STREAM_TRIMMED', `records of shard ${shardId} of stream ${streamArn} were lost to the stream's 24 h retention: ${why}`, {
    cause,
    fix: 'the target cannot be brought in sync from this stream any more; start the copy over (new stream positions, new copy job)',
  });
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
