import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { userError } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import { DeadLetters, SegmentTasks, ShardCheckpoints, ShardLeases, type CopyJob as CopyJobRecord, type Ledger } from '../../ledger';
import type { KeyNames } from '../../item/item';
import type { MigrationChain } from '../migrations/chain';
import { ChangeApplier, type ApplyBatchResult } from './change-applier';
import type { SyncOrigin } from './echo';
import { ShardLeaseKeeper, type ShardLeaseOptions } from './shard-lease-keeper';
import { captureStreamPositions } from './stream-positions';
import { StreamReader, type StreamLag, type StreamRunResult } from './stream-reader';
import type { StreamRecord } from './stream-records';
import { createItemClient } from '../../item/numbers';
import { preflightSync, type PreflightProps } from '../preflight';
import type { KeyTypes } from '../table-info';

export interface TableSyncProps {
  readonly ioHost: IoHost;
  /** Names the sync's shard checkpoints in the ledger, e.g. `<release id>#<table>#forward`. */
  readonly syncId: string;
  readonly ledger: Ledger;
  readonly sourceTable: string;
  readonly targetTable: string;
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** The manifest's key types (lib/manifest keyTypesOf), checked before anything is written. @default - names checked; types from a sample */
  readonly keyTypes?: PreflightProps['keyTypes'];
  /** See ChangeApplierProps.versionAttribute. @default - none */
  readonly versionAttribute?: string;
  /** 'sync' (forward, production → release) or 'reverse'. @default 'sync' */
  readonly origin?: SyncOrigin;
  /**
   * The copy job this sync follows. When given, the sync refuses to start before every segment of
   * the copy is COMPLETED, reads the stream recorded at the copy's T0, and its dead letters go with
   * the copy's. @default - no copy: the sync starts on the source's current stream
   */
  readonly copyJobId?: string;
  /**
   * Where this sync's dead letters go (a job id of the ledger's dead letters): stable across the
   * sync's epochs, so status, gates and redrive find them by one name.
   * @default - the copy's job id when it follows a copy, else the syncId
   */
  readonly deadLetterJobId?: string;
  /** @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
  /** @default - a client from the environment's configuration */
  readonly streams?: DynamoDBStreamsClient;
  /** Called after each applied batch, before its checkpoint (benchmarks measure lag here). @default - none */
  readonly onBatch?: (records: readonly StreamRecord[], result: ApplyBatchResult, shardId: string) => void;
  /** Wait after an empty read, per shard. @default 100 */
  readonly pollIntervalMs?: number;
  /**
   * Records per GetRecords call (at most 1000). A batch holds what arrived since the last read, so
   * this only bounds a backlog's batches; there, bigger batches share more calls (ChangeApplier
   * coalesces the writes of a batch's partitions) and catch up faster. @default 1000
   */
  readonly batchLimit?: number;
  /**
   * Batches of a shard applied at once: the next one is read and applied while earlier ones still
   * apply (each partition's records stay in order, ChangeApplier), so one slow partition does not
   * hold the others up; checkpoints still advance in order. 1 reads a batch only once the previous
   * one is checkpointed. @default 4
   */
  readonly batchesInFlight?: number;
  /**
   * Share this sync with other workers (processes or machines running a TableSync with the same
   * syncId and leases): each reads the shards it holds a lease on, and takes over the shards of a
   * worker whose lease expired (shard-lease-keeper.ts). Every worker of a sync must use leases.
   * @default - no leases: this worker reads every shard, and refuses to start while workers share the sync
   */
  readonly leases?: ShardLeaseOptions;
}

export interface TableSyncResult extends StreamRunResult {
  /** This worker's name in the shard leases. @default - no leases */
  readonly owner?: string;
  readonly puts: number;
  readonly deletes: number;
  readonly deadLetters: number;
  readonly echoesSkipped: number;
  /** Records skipped because the target held a newer version (RULE 7). */
  readonly superseded: number;
  readonly lag: StreamLag;
}

/**
 * Keeps a target table following its source's stream through the migrations: the stream reader
 * (shards in lineage order, checkpoints, renewals) feeding the change applier (per-key order,
 * stale and shared targets, dead letters, echo suppression).
 *
 * "The stream wins" is enforced here, by ordering: a sync that follows a copy starts only once every
 * segment of that copy is COMPLETED, and replays the stream from its trim horizon. Every change
 * since T0 is therefore applied after every copy write, in order, with full images.
 */
export class TableSync {
  private reader?: StreamReader;
  private readonly totals = { puts: 0, deletes: 0, deadLetters: 0, echoesSkipped: 0, superseded: 0 };

  public constructor(private readonly props: TableSyncProps) {}

  public async run(options: { readonly signal?: AbortSignal; readonly stopWhenCaughtUp?: boolean } = {}): Promise<TableSyncResult> {
    const { props } = this;
    const dynamodb = props.dynamodb ?? new DynamoDBClient({});
    const streams = props.streams ?? new DynamoDBStreamsClient({});
    const doc = createItemClient(dynamodb);
    await props.ledger.assertExists();
    const { streamArn, job } = await this.streamArn(dynamodb, streams);
    const targetKeyTypes = await preflightSync({
      doc,
      sourceTable: props.sourceTable,
      targetTable: props.targetTable,
      keyNames: props.keyNames,
      chain: props.chain,
      targetKeyTypes: props.keyTypes?.target,
      recordedTargetKeyTypes: job?.meta.targetKeyTypes as KeyTypes | undefined,
    });
    const deadLetters = new DeadLetters(props.ledger, props.deadLetterJobId ?? props.copyJobId ?? props.syncId);
    const applier = new ChangeApplier({
      ioHost: props.ioHost,
      client: doc,
      sourceTable: props.sourceTable,
      targetTable: props.targetTable,
      keyNames: props.keyNames,
      chain: props.chain,
      deadLetters,
      origin: props.origin ?? 'sync',
      versionAttribute: props.versionAttribute,
      targetKeyTypes,
    });
    const leases = props.leases
      ? new ShardLeaseKeeper({ ...props.leases, ioHost: props.ioHost, leases: new ShardLeases(props.ledger, props.syncId), clock: () => props.ledger.now() })
      : undefined;
    const reader = new StreamReader({
      ioHost: props.ioHost,
      streamArn,
      checkpoints: new ShardCheckpoints(props.ledger, props.syncId),
      client: streams,
      pollIntervalMs: props.pollIntervalMs ?? 100,
      batchLimit: props.batchLimit ?? 1000,
      maxBatchesInFlight: props.batchesInFlight ?? 4,
      leases,
    });
    this.reader = reader;
    const result = await reader.run(
      async (batch) => {
        const r = await applier.applyBatch(batch.records);
        this.totals.puts += r.puts;
        this.totals.deletes += r.deletes;
        this.totals.deadLetters += r.deadLetters;
        this.totals.echoesSkipped += r.echoesSkipped;
        this.totals.superseded += r.superseded;
        props.onBatch?.(batch.records, r, batch.shardId);
      },
      options,
    );
    const lag = reader.lag();
    const out: TableSyncResult = { ...result, ...this.totals, lag, ...(leases ? { owner: leases.owner } : {}) };
    DATA_IO.SYNC_I5102.emit(
      props.ioHost,
      `sync ${props.syncId}: ${result.recordsApplied} records (${this.totals.puts} puts, ${this.totals.deletes} deletes, ${this.totals.deadLetters} dead letters, ${this.totals.echoesSkipped} echoes skipped, ${this.totals.superseded} superseded), lag ${lag.maxMs} ms, stopped: ${result.stoppedBy}`,
      { syncId: props.syncId, recordsApplied: result.recordsApplied, ...this.totals, lagMs: lag.maxMs, stoppedBy: result.stoppedBy },
    );
    return out;
  }

  /** Current lag per shard (0 when caught up); undefined before `run`. */
  public lag(): StreamLag | undefined {
    return this.reader?.lag();
  }

  /** The stream to read, and the copy job this sync follows (when it follows one). */
  private async streamArn(dynamodb: DynamoDBClient, streams: DynamoDBStreamsClient): Promise<{ streamArn: string; job?: CopyJobRecord }> {
    const { props } = this;
    const current = await captureStreamPositions(streams, props.sourceTable, { dynamodb });
    if (!props.copyJobId) return { streamArn: current.streamArn };
    const tasks = new SegmentTasks(props.ledger, props.copyJobId);
    const job = await tasks.getJob();
    if (!job) {
      throw userError('SYNC_COPY_UNKNOWN', `copy job "${props.copyJobId}" does not exist`, { fix: 'run the copy first (npm run copy)' });
    }
    const summary = await tasks.summary();
    if (summary.byStatus.COMPLETED !== summary.segments) {
      throw userError(
        'SYNC_COPY_INCOMPLETE',
        `copy job "${props.copyJobId}" is not complete (${summary.byStatus.COMPLETED}/${summary.segments} segments COMPLETED, ${summary.byStatus.DEAD} DEAD)`,
        { fix: 'finish the copy first (npm run copy resumes it); a sync started earlier could be overwritten by late copy writes' },
      );
    }
    const recorded = job.meta.streamArn as string | undefined;
    if (recorded && recorded !== current.streamArn) {
      throw userError(
        'SYNC_STREAM_CHANGED',
        `the stream of "${props.sourceTable}" changed since the copy started (${recorded} → ${current.streamArn}): changes in between are lost`,
        { fix: 'start the copy again into an empty target' },
      );
    }
    return { streamArn: current.streamArn, job };
  }
}
