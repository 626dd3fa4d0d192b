/**
 * The work units of one parallel-Scan copy, kept in the ledger so that several processes or
 * machines share one copy and a dead worker's segment is taken over (DESIGN.md, Data, step 2).
 *
 * Records, in partition `COPY#<jobId>`:
 *   - sk `JOB`: totalSegments, sourceTable, targetTable, createdAt and the caller's opaque `meta`
 *     (e.g. the stream positions at T0). It sets `kind = COPY_JOB`, `sortAt = createdAt` so the
 *     `byKind` index lists copy jobs; segments stay out of that sparse index.
 *   - sk `SEG#<00000-padded n>` per segment: status, owner, leaseExpiresAt, cursor, counts.
 *
 * Statuses: READY → IN_PROGRESS → COMPLETED, or → ERROR (claimable again while attempts remain)
 * → DEAD (needs a person). Every change of a held segment is a conditional write on
 * `owner = me AND status = IN_PROGRESS`, so a worker that lost its segment can never overwrite
 * the new owner's progress: it gets LEASE_LOST instead. Lease expiry compares the claimer's clock
 * with the holder's; clock skew can only cause an early takeover, which the owner condition makes
 * safe (the old holder's next call fails), and the copy's writes are idempotent.
 *
 * Decisions:
 *   - `attempts` counts the tries of a segment: claiming a READY or an ERROR segment starts a new
 *     try and adds one. A takeover does NOT: it continues the same try from its checkpoint (a
 *     worker that died is not the segment's failure, and a restarted copy must not find healthy
 *     segments DEAD). A takeover adds one to `takeovers` and records `previousOwner` instead; the
 *     claim result says `takeover: true`. ERROR is claimable while attempts < maxAttempts; `fail`
 *     makes a segment DEAD when attempts >= maxAttempts. A retry resumes from the last cursor.
 *   - Counts given to `checkpoint` and `complete` are TOTALS for the segment (continue from the
 *     claimed segment's counts), not deltas: a call the SDK retries after a lost response, or a
 *     checkpoint sent twice, changes nothing.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, paginateQuery, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { messageOf, ReleaseError, toolError, userError } from '../errors';
import type { Key } from '../item/item';
import { batchPut } from './batch-put';
import { leaseLost } from './lease-lost';
import type { Ledger } from './ledger';
import { COPY_JOB_SK, copyJobPk, SEGMENT_PREFIX, segmentSk } from './keys';

export type SegmentStatus = 'READY' | 'IN_PROGRESS' | 'COMPLETED' | 'ERROR' | 'DEAD';

export const SEGMENT_STATUSES: readonly SegmentStatus[] = ['READY', 'IN_PROGRESS', 'COMPLETED', 'ERROR', 'DEAD'];

/** The most segments a job may have: segment numbers are 5 digits in the sort key. */
export const MAX_SEGMENTS = 100_000;

/** The `kind` of copy job records in the `byKind` index. */
export const COPY_JOB_KIND = 'COPY_JOB';

export interface CopyJob {
  readonly jobId: string;
  readonly totalSegments: number;
  readonly sourceTable: string;
  readonly targetTable: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** What the caller stored with the job when it was first created (never replaced). */
  readonly meta: Record<string, NativeAttributeValue>;
}

export interface SegmentError {
  /** The error's code (ReleaseError code, or the error's name). */
  readonly code: string;
  readonly message: string;
  /** ISO 8601. */
  readonly at: string;
}

export interface Segment {
  readonly jobId: string;
  /** 0-based: Scan's `Segment`. */
  readonly segment: number;
  /** Scan's `TotalSegments`. */
  readonly totalSegments: number;
  readonly status: SegmentStatus;
  /** The worker holding it (IN_PROGRESS), or the last one that did. @default - never claimed */
  readonly owner?: string;
  /** Epoch ms; set while IN_PROGRESS. @default - not held */
  readonly leaseExpiresAt?: number;
  /** Where the scan continues (the last checkpointed LastEvaluatedKey). @default - the segment's start */
  readonly cursor?: Key;
  readonly itemsRead: number;
  readonly itemsWritten: number;
  readonly pages: number;
  /** Tries so far (see the file comment). */
  readonly attempts: number;
  /** How often a worker took it over from one whose lease had expired. */
  readonly takeovers: number;
  /** The worker it was last taken over from. @default - never taken over */
  readonly previousOwner?: string;
  /** @default - never failed */
  readonly lastError?: SegmentError;
  /** ISO 8601. @default - never claimed */
  readonly claimedAt?: string;
  /** ISO 8601. @default - not completed */
  readonly completedAt?: string;
}

/** A segment just claimed. */
export interface ClaimedSegment extends Segment {
  /** True when it was taken over from a worker whose lease had expired. */
  readonly takeover: boolean;
}

export interface CreateCopyJobOptions {
  readonly totalSegments: number;
  readonly sourceTable: string;
  readonly targetTable: string;
  /** Opaque data kept with the job, e.g. stream positions at T0. Only the first creation's is kept. @default {} */
  readonly meta?: Record<string, NativeAttributeValue>;
}

/** Running totals of one segment since it started (not deltas). */
export interface SegmentCounts {
  readonly itemsRead: number;
  readonly itemsWritten: number;
  /** Pages scanned in total. @default - the stored count, plus one for a checkpoint */
  readonly pages?: number;
}

export interface CheckpointOptions extends SegmentCounts {
  /** The page's LastEvaluatedKey. The last page has none: call `complete` instead. */
  readonly cursor: Key;
  /** Extends the lease by this much from now. @default - the SegmentTasks' leaseMs */
  readonly leaseMs?: number;
}

export interface FailOptions {
  /** Make it DEAD now (the error will not go away by retrying). @default false */
  readonly dead?: boolean;
}

export interface CopyJobSummary {
  readonly jobId: string;
  /** Segment records found. */
  readonly segments: number;
  /** Segments per status (every status present, 0 when none). */
  readonly byStatus: Readonly<Record<SegmentStatus, number>>;
  /** Totals over all segments, checkpointed progress included. */
  readonly itemsRead: number;
  readonly itemsWritten: number;
  readonly pages: number;
  /** Takeovers of expired leases, over all segments. */
  readonly takeovers: number;
  readonly completedSegments: number;
  /** Items read by COMPLETED segments: divided by completedSegments, the items of a whole segment. */
  readonly itemsInCompletedSegments: number;
  readonly itemsWrittenInCompletedSegments: number;
}

export interface SegmentTasksProps {
  /** Tries of a segment before a failure makes it DEAD. @default 3 */
  readonly maxAttempts?: number;
  /** Lease length when a call gives none, in ms. @default 60000 */
  readonly leaseMs?: number;
  /** Picks where the search for a claimable segment starts, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

const NAMES = { '#status': 'status', '#owner': 'owner' } as const;



/** The segments of one copy job: create them once, then claim, checkpoint and finish them. */
export class SegmentTasks {
  public readonly jobId: string;
  public readonly maxAttempts: number;
  public readonly leaseMs: number;
  private readonly ledger: Ledger;
  private readonly random: () => number;
  private readonly pk: string;

  /**
   * @param ledger the ledger table
   * @param jobId one copy job, e.g. `<releaseId>#<logicalTable>`
   */
  public constructor(ledger: Ledger, jobId: string, props: SegmentTasksProps = {}) {
    if (!jobId) throw toolError('LEDGER_JOB_ID_EMPTY', 'a copy job id must not be empty');
    this.ledger = ledger;
    this.jobId = jobId;
    this.maxAttempts = positiveInteger('maxAttempts', props.maxAttempts ?? 3);
    this.leaseMs = positiveInteger('leaseMs', props.leaseMs ?? 60_000);
    this.random = props.random ?? Math.random;
    this.pk = copyJobPk(jobId);
  }

  /**
   * Creates the job and its READY segments; idempotent. The JOB record is a conditional put, so one
   * caller creates it and only that caller batch-writes the segments. A later call (a re-run after
   * a crash) returns the stored job, meta included, and adds segments a crash left unwritten with
   * conditional puts. A stored job with other parameters is refused (COPY_JOB_MISMATCH).
   * Two callers racing the very first creation: the winner's batch may overwrite a segment the
   * other just repaired and a worker claimed; that worker then gets LEASE_LOST and the segment is
   * copied again from its start — slower, never wrong (every segment change is owner-conditional).
   */
  public async createJob(options: CreateCopyJobOptions): Promise<CopyJob> {
    const { totalSegments, sourceTable, targetTable } = options;
    if (!Number.isInteger(totalSegments) || totalSegments < 1 || totalSegments > MAX_SEGMENTS) {
      throw userError('COPY_SEGMENTS_INVALID', `a copy job needs 1 to ${MAX_SEGMENTS} segments (found: ${totalSegments})`);
    }
    const job: CopyJob = { jobId: this.jobId, totalSegments, sourceTable, targetTable, createdAt: this.ledger.nowIso(), meta: options.meta ?? {} };
    try {
      await this.ledger.client.send(
        new PutCommand({
          TableName: this.ledger.tableName,
          Item: { pk: this.pk, sk: COPY_JOB_SK, kind: COPY_JOB_KIND, sortAt: job.createdAt, ...job },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return this.resumeJob(job);
    }
    await batchPut(this.ledger, range(totalSegments).map((n) => this.newSegmentRecord(n, totalSegments)));
    return job;
  }

  public async getJob(): Promise<CopyJob | undefined> {
    const out = await this.ledger.client.send(
      new GetCommand({ TableName: this.ledger.tableName, Key: { pk: this.pk, sk: COPY_JOB_SK }, ConsistentRead: true }),
    );
    return out.Item ? toJob(out.Item) : undefined;
  }

  /** Every segment of the job, in segment order (consistent reads). */
  public async listSegments(): Promise<Segment[]> {
    const segments: Segment[] = [];
    const pages = paginateQuery(
      { client: this.ledger.client },
      {
        TableName: this.ledger.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :seg)',
        ExpressionAttributeValues: { ':pk': this.pk, ':seg': SEGMENT_PREFIX },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) segments.push(toSegment(item));
    return segments.sort((a, b) => a.segment - b.segment);
  }

  /**
   * Claims one segment for `owner` (unique per worker: two workers with one name are one worker to
   * the ledger), or returns undefined when none is claimable. Claimable: READY; IN_PROGRESS with an
   * expired lease (a takeover); ERROR with attempts left. READY ones are tried first, then
   * takeovers, then retries, each group from a random place, so workers starting together spread.
   * The claim is a conditional update on the state that was read: two workers never get one segment.
   * Reads every segment record: cheap for the hundreds of segments a copy has.
   */
  public async claim(owner: string, leaseMs: number = this.leaseMs): Promise<ClaimedSegment | undefined> {
    positiveInteger('leaseMs', leaseMs);
    const now = this.ledger.now();
    const segments = await this.listSegments();
    const groups: Record<ClaimKind, Segment[]> = { fresh: [], takeover: [], retry: [] };
    for (const s of segments) {
      const kind = this.claimKind(s, now);
      if (kind) groups[kind].push(s);
    }
    for (const kind of ['fresh', 'takeover', 'retry'] as const) {
      for (const s of rotate(groups[kind], this.random)) {
        const claimed = await this.tryClaim(s, kind, owner, leaseMs, now);
        if (claimed) return claimed;
      }
    }
    return undefined;
  }

  /** Extends `owner`'s lease on a segment it holds. Throws LEASE_LOST when it holds it no more. */
  public async heartbeat(segment: number, owner: string, leaseMs: number = this.leaseMs): Promise<Segment> {
    positiveInteger('leaseMs', leaseMs);
    return this.updateHeld('heartbeat', segment, owner, {
      set: { leaseExpiresAt: this.ledger.now() + leaseMs, updatedAt: this.ledger.nowIso() },
    });
  }

  /**
   * Records progress after a page was written: the cursor to continue from and the segment's
   * running totals; extends the lease. Throws LEASE_LOST when `owner` holds the segment no more.
   */
  public async checkpoint(segment: number, owner: string, options: CheckpointOptions): Promise<Segment> {
    const leaseMs = positiveInteger('leaseMs', options.leaseMs ?? this.leaseMs);
    return this.updateHeld('checkpoint', segment, owner, {
      set: {
        cursor: options.cursor,
        itemsRead: options.itemsRead,
        itemsWritten: options.itemsWritten,
        leaseExpiresAt: this.ledger.now() + leaseMs,
        updatedAt: this.ledger.nowIso(),
        ...(options.pages !== undefined ? { pages: options.pages } : {}),
      },
      incrementPages: options.pages === undefined,
    });
  }

  /**
   * Marks a held segment COMPLETED, with its final totals (the last page has no cursor to
   * checkpoint: give its counts here). Throws LEASE_LOST when not held.
   * @param counts @default - the totals of the last checkpoint
   */
  public async complete(segment: number, owner: string, counts?: SegmentCounts): Promise<Segment> {
    const now = this.ledger.nowIso();
    return this.updateHeld('complete', segment, owner, {
      set: {
        status: 'COMPLETED',
        completedAt: now,
        updatedAt: now,
        ...(counts ? { itemsRead: counts.itemsRead, itemsWritten: counts.itemsWritten } : {}),
        ...(counts?.pages !== undefined ? { pages: counts.pages } : {}),
      },
      remove: ['leaseExpiresAt', 'cursor'],
    });
  }

  /**
   * Gives up a held segment after an error: ERROR (claimable again, resuming from its cursor) while
   * attempts remain, DEAD once attempts reach maxAttempts or with `dead: true`. Throws LEASE_LOST
   * when not held.
   */
  public async fail(segment: number, owner: string, error: unknown, options: FailOptions = {}): Promise<Segment> {
    const now = this.ledger.nowIso();
    const lastError: SegmentError = { code: errorCode(error), message: messageOf(error).slice(0, 4096), at: now };
    const change = (status: SegmentStatus): HeldUpdate => ({ set: { status, lastError, updatedAt: now }, remove: ['leaseExpiresAt'] });
    if (options.dead) return this.updateHeld('fail', segment, owner, change('DEAD'));
    const asError = await this.updateHeldIf(segment, owner, change('ERROR'), { condition: 'attempts < :max', values: { ':max': this.maxAttempts } });
    if (asError) return asError;
    return this.updateHeld('fail', segment, owner, change('DEAD'), { condition: 'attempts >= :max', values: { ':max': this.maxAttempts } });
  }

  /** Counts per status and item totals, for progress and estimates. */
  /**
   * Makes every DEAD segment claimable again (ERROR, with fresh attempts), resuming from its last
   * cursor: a copy run again retries what failed before (the cause, e.g. a source item, may be
   * fixed since). Returns the segments revived. Each is a conditional update on `status = DEAD`,
   * so two workers starting together revive a segment once.
   */
  public async reviveDead(): Promise<number[]> {
    const revived: number[] = [];
    for (const s of await this.listSegments()) {
      if (s.status !== 'DEAD') continue;
      try {
        await this.ledger.client.send(
          new UpdateCommand({
            TableName: this.ledger.tableName,
            Key: { pk: this.pk, sk: segmentSk(s.segment) },
            UpdateExpression: 'SET #status = :error, attempts = :zero, updatedAt = :iso, revivals = if_not_exists(revivals, :zero) + :one',
            ConditionExpression: '#status = :dead',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':error': 'ERROR', ':dead': 'DEAD', ':zero': 0, ':one': 1, ':iso': this.ledger.nowIso() },
          }),
        );
        revived.push(s.segment);
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
    return revived;
  }

  public async summary(): Promise<CopyJobSummary> {
    const byStatus = Object.fromEntries(SEGMENT_STATUSES.map((s) => [s, 0])) as Record<SegmentStatus, number>;
    const sum = { itemsRead: 0, itemsWritten: 0, pages: 0, takeovers: 0 };
    const completed = { completedSegments: 0, itemsInCompletedSegments: 0, itemsWrittenInCompletedSegments: 0 };
    const segments = await this.listSegments();
    for (const s of segments) {
      byStatus[s.status]++;
      sum.itemsRead += s.itemsRead;
      sum.itemsWritten += s.itemsWritten;
      sum.pages += s.pages;
      sum.takeovers += s.takeovers;
      if (s.status === 'COMPLETED') {
        completed.completedSegments++;
        completed.itemsInCompletedSegments += s.itemsRead;
        completed.itemsWrittenInCompletedSegments += s.itemsWritten;
      }
    }
    return { jobId: this.jobId, segments: segments.length, byStatus, ...sum, ...completed };
  }

  private newSegmentRecord(segment: number, totalSegments: number): Record<string, NativeAttributeValue> {
    return {
      pk: this.pk,
      sk: segmentSk(segment),
      jobId: this.jobId,
      segment,
      totalSegments,
      status: 'READY' satisfies SegmentStatus,
      itemsRead: 0,
      itemsWritten: 0,
      pages: 0,
      attempts: 0,
      takeovers: 0,
      updatedAt: this.ledger.nowIso(),
    };
  }

  private async resumeJob(requested: CopyJob): Promise<CopyJob> {
    const stored = await this.getJob();
    if (!stored) throw toolError('LEDGER_JOB_VANISHED', `copy job ${this.jobId} existed a moment ago and is gone`);
    const shape = (j: CopyJob) => `${j.totalSegments} segments, ${j.sourceTable} → ${j.targetTable}`;
    if (stored.totalSegments !== requested.totalSegments || stored.sourceTable !== requested.sourceTable || stored.targetTable !== requested.targetTable) {
      throw userError('COPY_JOB_MISMATCH', `copy job ${this.jobId} exists with ${shape(stored)}, not ${shape(requested)}`, {
        fix: 'resume it with its original parameters, or copy under a new release id',
      });
    }
    const present = new Set((await this.listSegments()).map((s) => s.segment));
    for (const n of range(stored.totalSegments)) {
      if (present.has(n)) continue;
      try {
        await this.ledger.client.send(
          new PutCommand({
            TableName: this.ledger.tableName,
            Item: this.newSegmentRecord(n, stored.totalSegments),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
    return stored;
  }

  private claimKind(s: Segment, now: number): ClaimKind | undefined {
    if (s.status === 'READY') return 'fresh';
    if (s.status === 'IN_PROGRESS' && (s.leaseExpiresAt ?? 0) < now) return 'takeover';
    if (s.status === 'ERROR' && s.attempts < this.maxAttempts) return 'retry';
    return undefined;
  }

  private async tryClaim(s: Segment, kind: ClaimKind, owner: string, leaseMs: number, now: number): Promise<ClaimedSegment | undefined> {
    const sets = ['#status = :inProgress', '#owner = :me', 'leaseExpiresAt = :lease', 'claimedAt = :iso', 'updatedAt = :iso'];
    const values: Record<string, NativeAttributeValue> = {
      ':inProgress': 'IN_PROGRESS',
      ':me': owner,
      ':lease': now + leaseMs,
      ':iso': new Date(now).toISOString(),
      ':one': 1,
    };
    let condition: string;
    if (kind === 'takeover') {
      // The same try continues from its checkpoint: attempts stay, the takeover is counted.
      condition = '#status = :inProgress AND leaseExpiresAt < :now';
      sets.push('takeovers = takeovers + :one', 'previousOwner = :previous');
      values[':now'] = now;
      values[':previous'] = s.owner ?? '';
    } else {
      condition = kind === 'fresh' ? '#status = :ready' : '#status = :error AND attempts < :max';
      sets.push('attempts = attempts + :one');
      if (kind === 'fresh') values[':ready'] = 'READY';
      else Object.assign(values, { ':error': 'ERROR', ':max': this.maxAttempts });
    }
    try {
      const out = await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: segmentSk(s.segment) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { ...toSegment(out.Attributes!), takeover: kind === 'takeover' };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined; // another worker was first
      throw err;
    }
  }

  private async updateHeld(action: string, segment: number, owner: string, change: HeldUpdate, extra?: ExtraCondition): Promise<Segment> {
    const updated = await this.updateHeldIf(segment, owner, change, extra);
    if (updated) return updated;
    throw await this.refusal(action, segment, owner);
  }

  /** The update, conditional on `owner` holding the segment (and `extra`); undefined when refused. */
  private async updateHeldIf(segment: number, owner: string, change: HeldUpdate, extra?: ExtraCondition): Promise<Segment | undefined> {
    const names: Record<string, string> = { ...NAMES };
    const values: Record<string, NativeAttributeValue> = { ':me': owner, ':inProgress': 'IN_PROGRESS', ...extra?.values };
    const sets: string[] = [];
    for (const [i, [name, value]] of Object.entries(change.set).entries()) {
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      sets.push(`#a${i} = :a${i}`);
    }
    if (change.incrementPages) {
      sets.push('pages = pages + :one');
      values[':one'] = 1;
    }
    const removed = (change.remove ?? []).map((name, i) => {
      names[`#r${i}`] = name; // `cursor` is a reserved word
      return `#r${i}`;
    });
    const remove = removed.length ? ` REMOVE ${removed.join(', ')}` : '';
    try {
      const out = await this.ledger.client.send(
        new UpdateCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: segmentSk(segment) },
          UpdateExpression: `SET ${sets.join(', ')}${remove}`,
          ConditionExpression: `#owner = :me AND #status = :inProgress${extra ? ` AND ${extra.condition}` : ''}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toSegment(out.Attributes!);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** Why an owner-conditional update was refused: LEASE_LOST, or no such segment. */
  private async refusal(action: string, segment: number, owner: string): Promise<ReleaseError> {
    const out = await this.ledger.client.send(
      new GetCommand({ TableName: this.ledger.tableName, Key: { pk: this.pk, sk: segmentSk(segment) }, ConsistentRead: true }),
    );
    if (!out.Item) {
      return toolError('COPY_SEGMENT_NOT_FOUND', `${action} refused: copy job ${this.jobId} has no segment ${segment}`);
    }
    const now = toSegment(out.Item);
    return leaseLost({ jobId: this.jobId, segment, owner, action, status: now.status, currentOwner: now.owner });
  }
}

type ClaimKind = 'fresh' | 'takeover' | 'retry';

interface HeldUpdate {
  readonly set: Record<string, NativeAttributeValue>;
  readonly remove?: readonly string[];
  readonly incrementPages?: boolean;
}

interface ExtraCondition {
  readonly condition: string;
  readonly values: Record<string, NativeAttributeValue>;
}

function toJob(item: Record<string, NativeAttributeValue>): CopyJob {
  return {
    jobId: item.jobId,
    totalSegments: item.totalSegments,
    sourceTable: item.sourceTable,
    targetTable: item.targetTable,
    createdAt: item.createdAt,
    meta: item.meta ?? {},
  };
}

function toSegment(item: Record<string, NativeAttributeValue>): Segment {
  return {
    jobId: item.jobId,
    segment: item.segment,
    totalSegments: item.totalSegments,
    status: item.status,
    owner: item.owner,
    leaseExpiresAt: item.leaseExpiresAt,
    cursor: item.cursor,
    itemsRead: item.itemsRead ?? 0,
    itemsWritten: item.itemsWritten ?? 0,
    pages: item.pages ?? 0,
    attempts: item.attempts ?? 0,
    takeovers: item.takeovers ?? 0,
    previousOwner: item.previousOwner,
    lastError: item.lastError,
    claimedAt: item.claimedAt,
    completedAt: item.completedAt,
  };
}

function errorCode(err: unknown): string {
  if (ReleaseError.isReleaseError(err)) return err.code;
  return err instanceof Error ? err.name : 'UNKNOWN';
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw toolError('LEDGER_BAD_OPTION', `${name} must be a positive integer (found: ${value})`);
  return value;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The list, started at a random index and wrapped around. */
function rotate<T>(list: readonly T[], random: () => number): T[] {
  if (list.length === 0) return [];
  const start = Math.floor(random() * list.length) % list.length;
  return [...list.slice(start), ...list.slice(0, start)];
}
