import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { messageOf, userError } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import { DeadLetters, isLeaseLost, SegmentTasks, type ClaimedSegment, type Ledger } from '../../ledger';
import { parseStableJson, type Item, type KeyNames } from '../../item/item';
import type { MigrationChain } from '../migrations/chain';
import { createMigrationContext } from '../migrations/context';
import { preflight, type PreflightProps } from '../preflight';
import type { KeyTypes, TableInfo } from '../table-info';
import { scanSegmentsFor } from '../scan-segments';
import { BatchWriter } from '../write/batch-writer';
import { SharedItemWriter } from '../write/shared-writer';
import { migratePage, type MigrationFailure } from './page-migrator';
import { PageWriter } from './page-writer';
import { estimateTotal, ProgressMeter } from './progress-meter';
import { createItemClient } from '../../item/numbers';

export interface CopyJobProps {
  readonly ioHost: IoHost;
  /** Names the copy in the ledger, e.g. `<releaseId>#<logical table>`. */
  readonly jobId: string;
  readonly sourceTable: string;
  readonly targetTable: string;
  /** Key attribute names both tables must have (from the table manifest). */
  readonly keyNames: KeyNames;
  /** Migrations from the source's data version to the target's. */
  readonly chain: MigrationChain;
  readonly ledger: Ledger;
  /**
   * The manifest's key types of the source and target tables (lib/manifest keyTypesOf), checked
   * before anything is written. @default - key names checked; types from a migrated sample
   */
  readonly keyTypes?: PreflightProps['keyTypes'];
  /** @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
  /** Parallel Scan segments; fixed when the job is created. @default - from the table size (`scanSegmentsFor`) */
  readonly totalSegments?: number;
  /** Segments this process works on at once. @default 4 */
  readonly concurrency?: number;
  /** BatchWriteItem calls in flight in this process (shared by its segments: the backpressure). @default 16 */
  readonly writeConcurrency?: number;
  /** Lease on a claimed segment; renewed by heartbeat and at each checkpoint. @default 30000 */
  readonly leaseMs?: number;
  /** Identifies this worker in the ledger. @default - host:pid:random */
  readonly owner?: string;
  /**
   * Scan page size in items. Memory is bounded by concurrency × 2 pages (one being written, one
   * prefetched): 1 MB pages of 300-byte items cost ~15 MB each in flight once parsed, migrated and
   * marshalled, so the default keeps pages small. @default 1000
   */
  readonly pageSize?: number;
  /** Allow a target that already holds items without a copy job of ours. @default false */
  readonly resume?: boolean;
  /** For fault injection in tests. @default - built from `dynamodb` */
  readonly batchWriter?: BatchWriter;
  /** How often progress is reported. @default 1000 */
  readonly progressIntervalMs?: number;
}

export interface CopyResult {
  readonly jobId: string;
  readonly itemsRead: number;
  readonly itemsWritten: number;
  /** Items this process scanned, pages redone after a crash included. */
  readonly workerItemsRead: number;
  readonly deadLetters: number;
  readonly retries: number;
  readonly segments: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly itemsPerSecond: number;
  /** True when every segment is COMPLETED (none DEAD). */
  readonly complete: boolean;
}

/**
 * Bulk copy of one table with migrations: a parallel Scan whose segments are tasks in the ledger,
 * claimed by workers with leases, so several processes (or machines) share one copy and a dead
 * worker's segment is taken over when its lease expires.
 *
 * Per page: migrate → write (batched, retried, never dropped) → dead-letter what failed → only
 * then checkpoint the page's LastEvaluatedKey. A crash redoes at most the page in flight of each
 * segment, and every write is idempotent (full-item puts, hash-checked shared items).
 *
 * Ordering rule with the stream sync ("the stream wins"): the copy runs before any stream record
 * is applied to the target. Stream positions are captured before the scan starts (T0) and the
 * sync starts only once every segment is COMPLETED, then replays every change since T0 in order
 * with full images. So no copy write can land after a newer streamed change, and a delete made
 * during the copy is replayed after the copy wrote the item: nothing is resurrected.
 */
export class CopyJob {
  private readonly ioHost: IoHost;
  private readonly dynamodb: DynamoDBClient;
  private readonly doc: DynamoDBDocumentClient;
  private readonly tasks: SegmentTasks;
  private readonly deadLetters: DeadLetters;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly batchWriter: BatchWriter;
  private readonly pageWriter: PageWriter;
  private readonly meter = new ProgressMeter();
  private sourceInfo?: TableInfo;
  /** The target table's key types (from prepare): outputs are checked against them before writing. */
  private targetKeyTypes?: KeyTypes;
  /** False when the job copies over items that were in the target before it: always conditional. */
  private trustPartitionLocal = true;
  private totalSegments = 0;
  private readonly counters = { itemsRead: 0, itemsWritten: 0, deadLetters: 0, retries: 0 };

  public constructor(private readonly props: CopyJobProps) {
    this.ioHost = props.ioHost;
    this.dynamodb = props.dynamodb ?? new DynamoDBClient({});
    this.doc = createItemClient(this.dynamodb);
    this.tasks = new SegmentTasks(props.ledger, props.jobId);
    this.deadLetters = new DeadLetters(props.ledger, props.jobId);
    this.owner = props.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.leaseMs = props.leaseMs ?? 30_000;
    this.concurrency = props.concurrency ?? 4;
    this.batchWriter =
      props.batchWriter ??
      new BatchWriter({ client: this.doc, concurrency: props.writeConcurrency ?? 16, onRetry: () => this.counters.retries++ });
    this.pageWriter = new PageWriter({
      client: this.doc,
      targetTable: props.targetTable,
      targetKeys: props.keyNames,
      sourceKeys: props.keyNames,
      chain: props.chain,
      batchWriter: this.batchWriter,
      sharedWriter: new SharedItemWriter({ client: this.doc }),
    });
  }

  /**
   * Checks the input and creates the job (idempotent). Nothing is written to the target here, and
   * a bad input writes nothing at all: missing table, key schema mismatch, a non-empty target that
   * is not ours to resume.
   */
  public async prepare(): Promise<void> {
    const { props } = this;
    const { source, target } = await preflight({ dynamodb: this.dynamodb, doc: this.doc, ledger: props.ledger, sourceTable: props.sourceTable, targetTable: props.targetTable, keyNames: props.keyNames, chain: props.chain, keyTypes: props.keyTypes });
    this.sourceInfo = source;
    this.targetKeyTypes = target.keyTypes;

    const existing = await this.tasks.getJob();
    const foreignItems = !existing && (await this.hasItems(props.targetTable));
    if (foreignItems && !props.resume) {
      throw userError('COPY_TARGET_NOT_EMPTY', `target table "${props.targetTable}" already holds items and no copy job "${props.jobId}" exists`, {
        fix: 'copy into an empty table, or pass --resume to copy over what is there',
      });
    }
    const job = await this.tasks.createJob({
      totalSegments: props.totalSegments ?? existing?.totalSegments ?? scanSegmentsFor(source),
      sourceTable: props.sourceTable,
      targetTable: props.targetTable,
      // T0: the stream every change from now on lands in. The sync that follows this copy checks
      // it is still the same stream (a stream turned off and on again lost the changes in between).
      meta: { targetHadItems: foreignItems, targetKeyTypes: target.keyTypes, ...(source.streamArn ? { streamArn: source.streamArn, streamCapturedAt: new Date().toISOString() } : {}) },
    });
    this.totalSegments = job.totalSegments;
    // A DEAD segment is retried when the copy is run again (from its cursor, with fresh attempts).
    if (existing) {
      const revived = await this.tasks.reviveDead();
      if (revived.length > 0) {
        DATA_IO.COPY_I2007.emit(this.ioHost, `copy ${props.jobId}: retrying ${revived.length} DEAD segments (${revived.join(', ')}) from their last checkpoint`, { segments: revived });
      }
    }
    this.trustPartitionLocal = job.meta.targetHadItems !== true;
    DATA_IO.COPY_I2000.emit(this.ioHost, `copy ${props.jobId}: ${props.sourceTable} → ${props.targetTable} in ${job.totalSegments} segments${existing ? ' (resumed)' : ''}`, {
      jobId: props.jobId,
      totalSegments: job.totalSegments,
      sourceTable: props.sourceTable,
      targetTable: props.targetTable,
      resumed: Boolean(existing),
    });
  }

  /** Work on the job until every segment is settled (COMPLETED or DEAD), by this worker or others. */
  public async run(): Promise<CopyResult> {
    if (!this.sourceInfo) await this.prepare();
    const started = Date.now();
    const ticker = setInterval(() => void this.reportProgress(false), this.props.progressIntervalMs ?? 1000);
    try {
      await Promise.all(Array.from({ length: this.concurrency }, () => this.segmentLoop()));
    } finally {
      clearInterval(ticker);
    }
    const summary = await this.tasks.summary();
    const seconds = (Date.now() - started) / 1000;
    const result: CopyResult = {
      jobId: this.props.jobId,
      itemsRead: summary.itemsRead,
      itemsWritten: summary.itemsWritten,
      workerItemsRead: this.counters.itemsRead,
      deadLetters: await this.deadLetters.count(),
      retries: this.counters.retries,
      segments: summary.byStatus,
      seconds,
      itemsPerSecond: seconds > 0 ? this.counters.itemsRead / seconds : 0,
      complete: (summary.byStatus.COMPLETED ?? 0) === this.totalSegments,
    };
    await this.reportProgress(true);
    DATA_IO.COPY_I2006.emit(
      this.ioHost,
      `copied ${result.itemsRead} items (${result.itemsWritten} written, ${result.deadLetters} dead letters, ${result.retries} retries) in ${seconds.toFixed(1)}s`,
      result,
    );
    return result;
  }

  private async segmentLoop(): Promise<void> {
    for (;;) {
      const segment = await this.tasks.claim(this.owner, this.leaseMs);
      if (segment) {
        await this.copySegment(segment);
        continue;
      }
      const summary = await this.tasks.summary();
      const open = (summary.byStatus.READY ?? 0) + (summary.byStatus.IN_PROGRESS ?? 0) + (summary.byStatus.ERROR ?? 0);
      if (open === 0) return;
      // Other workers hold the rest: wait, and take over any whose lease runs out.
      await sleep(Math.min(1000, this.leaseMs / 4));
    }
  }

  private async copySegment(segment: ClaimedSegment): Promise<void> {
    const n = segment.segment;
    let lost = false;
    const heartbeat = setInterval(() => {
      this.tasks.heartbeat(n, this.owner, this.leaseMs).catch((err: unknown) => {
        if (isLeaseLost(err)) lost = true;
      });
    }, Math.max(50, this.leaseMs / 3));
    const ctx = createMigrationContext({ client: this.doc, tableName: this.props.sourceTable, keyNames: this.props.keyNames });
    try {
      // Running totals of the segment, from its last checkpoint: a page redone after a crash is
      // counted once.
      let firstPageAfterResume = segment.cursor !== undefined || segment.takeover || segment.attempts > 1;
      let itemsRead = segment.itemsRead;
      let itemsWritten = segment.itemsWritten;
      for await (const page of this.scanPages(n, segment.cursor)) {
        if (lost) throw leaseLostMarker;
        const migrated = await migratePage(page.items, this.props.chain, ctx, this.props.keyNames, this.targetKeyTypes);
        // The first page after a resume, a retry or a takeover may hold the tail of a partition whose
        // head was written before: its shared items go through conditional writes.
        const written = await this.pageWriter.write(migrated, this.trustPartitionLocal && !firstPageAfterResume);
        firstPageAfterResume = false;
        const failures = [...migrated.failures, ...written.failures];
        for (const f of failures) await this.deadLetter(f);
        itemsRead += page.items.length;
        itemsWritten += written.written;
        // Only now, with the page's writes durable and its failures recorded, move the cursor.
        if (page.lastKey) {
          await this.tasks.checkpoint(n, this.owner, { cursor: page.lastKey, itemsRead, itemsWritten, leaseMs: this.leaseMs });
        } else {
          await this.tasks.complete(n, this.owner, { itemsRead, itemsWritten });
        }
        this.counters.itemsRead += page.items.length;
        this.counters.itemsWritten += written.written;
        this.meter.record(this.counters.itemsRead);
      }
      DATA_IO.COPY_I2002.emit(this.ioHost, `segment ${n} copied`, { segment: n, itemsRead });
    } catch (err) {
      if (err === leaseLostMarker || isLeaseLost(err)) {
        DATA_IO.COPY_W2003.emit(this.ioHost, `segment ${n}: lease lost to another worker`, { segment: n });
        return;
      }
      DATA_IO.COPY_E2004.emit(this.ioHost, `segment ${n} failed: ${messageOf(err)}`, { segment: n, error: messageOf(err) });
      await this.tasks.fail(n, this.owner, messageOf(err)).catch((e: unknown) => {
        if (!isLeaseLost(e)) throw e;
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Scan pages of one segment from a cursor, fetching the next page while the caller works on this one. */
  private async *scanPages(segment: number, cursor: Item | undefined): AsyncGenerator<{ items: Item[]; lastKey?: Item }> {
    const fetchPage = (start: Item | undefined) =>
      this.doc.send(
        new ScanCommand({
          TableName: this.props.sourceTable,
          Segment: segment,
          TotalSegments: this.totalSegments,
          ConsistentRead: true,
          ExclusiveStartKey: start,
          Limit: this.props.pageSize ?? 1000,
        }),
      );
    let next = fetchPage(cursor);
    for (;;) {
      const page = await next;
      const lastKey = page.LastEvaluatedKey;
      if (lastKey) next = fetchPage(lastKey); // one page ahead, no more: memory stays bounded
      yield { items: page.Items ?? [], lastKey };
      if (!lastKey) return;
    }
  }

  private async deadLetter(f: MigrationFailure): Promise<void> {
    this.counters.deadLetters++;
    await this.deadLetters.put({
      sourceKey: parseStableJson(f.sourceKey),
      keyString: f.sourceKey,
      error: f.error,
      errorCode: f.code,
      image: f.source,
      phase: 'copy',
    });
    DATA_IO.COPY_W2005.emit(this.ioHost, `dead letter ${f.sourceKey}: ${f.code}: ${f.error}`, { sourceKey: f.sourceKey, code: f.code, error: f.error });
  }

  private async reportProgress(finished: boolean): Promise<void> {
    const summary = await this.tasks.summary().catch(() => undefined);
    if (!summary) return;
    const total = estimateTotal({
      totalSegments: this.totalSegments,
      completedSegments: summary.byStatus.COMPLETED ?? 0,
      itemsInCompletedSegments: summary.itemsInCompletedSegments,
      itemsReadSoFar: summary.itemsRead,
      approximateItemCount: this.sourceInfo?.approximateItemCount ?? 0,
    });
    const rate = this.meter.rate();
    DATA_IO.COPY_I2001.emit(
      this.ioHost,
      `copy ${this.props.jobId}: ${summary.itemsRead}/${total}`,
      {
        jobId: this.props.jobId,
        itemsRead: summary.itemsRead,
        itemsWritten: summary.itemsWritten,
        estimatedTotal: total,
        itemsPerSecond: rate,
        etaSeconds: rate ? Math.max(0, (total - summary.itemsRead) / rate) : undefined,
        deadLetters: this.counters.deadLetters,
        retries: this.counters.retries,
        segmentsCompleted: summary.byStatus.COMPLETED ?? 0,
        totalSegments: this.totalSegments,
      },
      { task: this.props.jobId, done: summary.itemsRead, total, rate, finished },
    );
  }

  private async hasItems(table: string): Promise<boolean> {
    const r = await this.doc.send(new ScanCommand({ TableName: table, Limit: 1, Select: 'COUNT' }));
    return (r.Count ?? 0) > 0 || r.LastEvaluatedKey !== undefined;
  }
}

const leaseLostMarker = Symbol('lease lost');
