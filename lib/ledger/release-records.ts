/**
 * The release record (DESIGN.md, "Release state"): one ledger item per release holding the intent
 * (what was asked, by whom, when) and the checkpoints of every step done so far. The phase is a
 * pure function of it (phase.ts). Every write is conditional on the version read, so two processes
 * can never interleave half-updates of one record.
 *
 * Ledger layout: the release record key of lib/ledger/keys.ts, kind `RELEASE`, sortAt createdAt.
 * The app's pointer to its live and previous release: pk `APP`, sk `STATE`.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { toolError, userError } from '../errors';
import { APP_STATE_KEY, releaseRecordKey } from './keys';
import { LEDGER_SCHEMA, type Ledger } from './ledger';


/** A fenced cut-over: writes moved from one release to the other, and how long they were held. */
export interface CutOverRecord {
  readonly fromReleaseId: string;
  readonly toReleaseId: string;
  /** When `from` held writes (ISO). */
  readonly heldAt: string;
  /** When `to` took writes and `from` redirected them (ISO). */
  readonly movedAt: string;
  /** From the hold on `from` to its redirect: the longest a write waited. */
  readonly writePauseMs: number;
  /** Of which: the drain of the sync past the hold. */
  readonly drainMs: number;
}

export const RELEASE_KIND = 'RELEASE';
export const RECORD_CONFLICT = 'RECORD_CONFLICT';

export type Verb = 'release' | 'promote' | 'rollback' | 'teardown';

export interface Intent {
  readonly verb: Verb;
  /** user@host of whoever asked. */
  readonly by: string;
  /** ISO 8601. */
  readonly at: string;
  /** The verb's options as given (steps, flags). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** Start and end of one step, ISO 8601; `history` turns them into durations. */
export interface StepTiming {
  readonly startedAt: string;
  readonly endedAt?: string;
}

/** How a verb run ended; `running` until it does. */
export type RunOutcome = 'running' | 'done' | 'failed' | 'interrupted' | 'aborted';

/**
 * One run of a verb on a release (every invocation that reached its steps), appended when it
 * starts and completed when it ends, so `history` keeps every promote, rollback and retry apart.
 * A run still `running` when the next one starts was killed: it is closed as `interrupted`
 * (its end is unknown). A promote given up by `promote --abort` (or a rollback of it) is `aborted`.
 */
export interface RunEvent {
  readonly verb: Verb;
  /** user@host of whoever ran it. */
  readonly by: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** ISO 8601; absent while running, and for a run that was interrupted. */
  readonly endedAt?: string;
  readonly outcome: RunOutcome;
  /** The step it was in last (where an interrupted run stopped). */
  readonly step?: string;
  /** The step that failed, and its error code. */
  readonly failedStep?: string;
  readonly code?: string;
}

export interface GateSnapshot {
  readonly ok: boolean;
  readonly at: string;
  readonly gates: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

/** What a crash must not lose. Each field is written once, by the step that owns it. */
export interface Checkpoints {
  readonly tag?: string;
  readonly artifact?: { readonly artifactId: string; readonly kind: string; readonly path?: string; readonly imageRef?: string };
  /** Where the tarball was published for the AMI builder. */
  readonly published?: { readonly bucket: string; readonly key: string; readonly bytes: number };
  readonly ami?: { readonly amiId: string; readonly reused: boolean };
  readonly stack?: { readonly stackName: string; readonly outputs: Readonly<Record<string, string>> };
  readonly fleet?: { readonly startedAt: string };
  /** The release data was copied from, and when the copy ended; absent for a first release. */
  readonly copy?: { readonly sourceReleaseId: string | null; readonly items: number; readonly itemsPerSec: number; readonly endedAt: string };
  readonly forwardSync?: { readonly sourceReleaseId: string; readonly startedAt: string };
  readonly gates?: GateSnapshot;
  readonly checks?: { readonly passed: number; readonly at: string };
  readonly readyAt?: string;
  /** The last promote of this release. */
  readonly promoted?: { readonly at: string; readonly previousReleaseId: string | null; readonly steps: readonly number[] };
  readonly reverseSync?: { readonly targetReleaseId: string; readonly startedAt: string };
  readonly rolledBackAt?: string;
  /** The fenced cut-over of the last promote: writes moved from the previous release to this one. */
  readonly cutOver?: CutOverRecord;
  /** The fenced cut-over of the last rollback: writes moved from this release back to the previous one. */
  readonly rollbackCutOver?: CutOverRecord;
  /**
   * A rollback moved all traffic to the previous release (and waited a TTL for clients): its own
   * checkpoint, so a rollback killed after its flip drains from this moment and does not flip again.
   */
  readonly rollbackFlippedAt?: string;
  /** A promote given up part-way (`promote --abort`, or a rollback of a partial shift): all traffic went back. */
  readonly promoteAbortedAt?: string;
  /**
   * A teardown under way: from its first step the release is no rollback target and takes no
   * traffic; each later step records when it was done, so a re-run after a kill skips it (the
   * syncs cannot be drained again once the stack is destroyed).
   */
  readonly teardown?: {
    readonly startedAt: string;
    readonly drainedAt?: string;
    readonly syncsRetiredAt?: string;
    /** Each table backed up so far (logical name → backup ARN or export file; null: no such table), written as each ends. */
    readonly backedUp?: Readonly<Record<string, string | null>>;
    /** Every backup taken: the backup step is done. */
    readonly backups?: readonly string[];
    readonly destroyedAt?: string;
  };
  readonly tornDown?: { readonly at: string; readonly backups: readonly string[] };
  /**
   * The last failure; cleared only when the step that failed (of the same verb) succeeds or is
   * found done. `verb` is absent in records written before it was recorded: the step name alone
   * then identifies it.
   */
  readonly failed?: { readonly step: string; readonly verb?: Verb; readonly code: string; readonly message: string; readonly at: string };
}

export interface ReleaseRecord {
  readonly releaseId: string;
  readonly app: string;
  readonly sha?: string;
  readonly branch?: string;
  /** Data version of each logical table this release's code reads and writes. */
  readonly dataVersions: Readonly<Record<string, number>>;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly intent: Intent;
  readonly checkpoints: Checkpoints;
  readonly steps: Readonly<Record<string, StepTiming>>;
  /** Every verb run, oldest first; absent in records written before runs were recorded. */
  readonly runs?: readonly RunEvent[];
  /** Optimistic concurrency: every put requires the version it read. */
  readonly version: number;
}

export interface AppState {
  readonly live: string | null;
  readonly previous: string | null;
  readonly updatedAt: string;
  readonly version: number;
}

/** Reads and writes release records and the app state, each put conditional on the version read. */
export class ReleaseStore {
  public constructor(public readonly ledger: Ledger) {}

  public async get(releaseId: string): Promise<ReleaseRecord | undefined> {
    const out = await this.ledger.client.send(
      new GetCommand({ TableName: this.ledger.tableName, Key: releaseRecordKey(releaseId), ConsistentRead: true }),
    );
    return out.Item ? (out.Item.record as ReleaseRecord) : undefined;
  }

  /** The record of `releaseId`, or RELEASE_UNKNOWN (a user error: a release id that was never made). */
  public async require(releaseId: string): Promise<ReleaseRecord> {
    const r = await this.get(releaseId);
    if (!r) throw userError('RELEASE_UNKNOWN', `release ${releaseId} does not exist`, { fix: 'see `stackshift status` for the releases there are' });
    return r;
  }

  /** Writes `next` if the stored record is still at `next.version - 1` (absent for version 1). */
  public async put(next: ReleaseRecord): Promise<ReleaseRecord> {
    try {
      await this.ledger.client.send(
        new PutCommand({
          TableName: this.ledger.tableName,
          Item: {
            ...releaseRecordKey(next.releaseId),
            [LEDGER_SCHEMA.kindAttribute]: RELEASE_KIND,
            [LEDGER_SCHEMA.sortAtAttribute]: next.createdAt,
            record: next,
            version: next.version,
          },
          ConditionExpression: next.version === 1 ? 'attribute_not_exists(pk)' : 'version = :prev',
          ExpressionAttributeValues: next.version === 1 ? undefined : { ':prev': next.version - 1 },
        }),
      );
      return next;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        throw toolError(RECORD_CONFLICT, `release record ${next.releaseId} changed under this process (version ${next.version - 1} expected)`, {
          fix: 'another process wrote it despite the app lock; run the command again',
          cause: e,
        });
      }
      throw e;
    }
  }

  /** Applies `change` to the stored record and writes it back with the next version. */
  public async update(record: ReleaseRecord, change: (r: ReleaseRecord) => Partial<Omit<ReleaseRecord, 'version'>>): Promise<ReleaseRecord> {
    return this.put({ ...record, ...change(record), version: record.version + 1 });
  }

  /** Every release of the app, oldest first. */
  public async list(): Promise<ReleaseRecord[]> {
    const out: ReleaseRecord[] = [];
    const pages = paginateQuery(
      { client: this.ledger.client },
      {
        TableName: this.ledger.tableName,
        IndexName: LEDGER_SCHEMA.byKindIndex,
        KeyConditionExpression: '#k = :k',
        ExpressionAttributeNames: { '#k': LEDGER_SCHEMA.kindAttribute },
        ExpressionAttributeValues: { ':k': RELEASE_KIND },
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) out.push(item.record as ReleaseRecord);
    return out;
  }

  public async appState(): Promise<AppState> {
    const out = await this.ledger.client.send(
      new GetCommand({ TableName: this.ledger.tableName, Key: APP_STATE_KEY, ConsistentRead: true }),
    );
    return (out.Item?.state as AppState | undefined) ?? { live: null, previous: null, updatedAt: '', version: 0 };
  }

  public async putAppState(current: AppState, change: Pick<AppState, 'live' | 'previous'>): Promise<AppState> {
    const next: AppState = { ...change, updatedAt: this.ledger.nowIso(), version: current.version + 1 };
    try {
      await this.ledger.client.send(
        new PutCommand({
          TableName: this.ledger.tableName,
          Item: { ...APP_STATE_KEY, state: next, version: next.version },
          ConditionExpression: current.version === 0 ? 'attribute_not_exists(pk)' : 'version = :prev',
          ExpressionAttributeValues: current.version === 0 ? undefined : { ':prev': current.version },
        }),
      );
      return next;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        throw toolError(RECORD_CONFLICT, 'the app state (live/previous release) changed under this process', { fix: 'run the command again', cause: e });
      }
      throw e;
    }
  }
}
