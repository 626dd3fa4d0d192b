/**
 * Every kind of record in the ledger table, and its key: the one place the key layouts are written.
 * Keys are strings; `pk` groups the records of one thing, `sk` tells them apart.
 *
 *   kind                pk                                   sk
 *   release record      RELEASE#<releaseId>                  RECORD
 *   app state           APP                                  STATE        (live and previous)
 *   app lock            APP                                  LOCK
 *   sync status         SYNC#<source>><target>               STATUS       (one per sync daemon)
 *   shard checkpoint    SYNC#<syncId>                        SHARD#<shardId>
 *   sync worker         SYNC#<syncId>                        WORKER#<owner>
 *   copy job            COPY#<jobId>                         JOB
 *   copy segment        COPY#<jobId>                         SEG#<00000>
 *   dead letter         DL#<jobId>                           <key string>, or sha256#<hex> of a long one
 *   probe               PROBE                                PROBE        (never written: ledger reachability)
 *
 * A sync status and a table sync's checkpoints share the SYNC# prefix but never a pk: a syncId is
 * `<source>><target>#<table>#<direction>@<stream label>` (lib/release/sync-daemon.ts, tableSyncId),
 * longer than a status's `<source>><target>`. Strings never change: ledgers written by earlier
 * versions are read as they are.
 */
import { createHash } from 'node:crypto';

export interface LedgerKey {
  readonly pk: string;
  readonly sk: string;
}

/** DynamoDB's limit on a sort key's size. */
export const MAX_SORT_KEY_BYTES = 1024;

export const SHARD_PREFIX = 'SHARD#';
export const WORKER_PREFIX = 'WORKER#';
export const SEGMENT_PREFIX = 'SEG#';

export function releaseRecordKey(releaseId: string): LedgerKey {
  return { pk: `RELEASE#${releaseId}`, sk: 'RECORD' };
}

export const APP_STATE_KEY: LedgerKey = Object.freeze({ pk: 'APP', sk: 'STATE' });
export const APP_LOCK_KEY: LedgerKey = Object.freeze({ pk: 'APP', sk: 'LOCK' });
export const PROBE_KEY: LedgerKey = Object.freeze({ pk: 'PROBE', sk: 'PROBE' });

export function syncStatusKey(sourceReleaseId: string, targetReleaseId: string): LedgerKey {
  return { pk: `SYNC#${sourceReleaseId}>${targetReleaseId}`, sk: 'STATUS' };
}

export function syncPk(syncId: string): string {
  return `SYNC#${syncId}`;
}

export function shardSk(shardId: string): string {
  return `${SHARD_PREFIX}${shardId}`;
}

export function workerSk(owner: string): string {
  return `${WORKER_PREFIX}${owner}`;
}

export function copyJobPk(jobId: string): string {
  return `COPY#${jobId}`;
}

export const COPY_JOB_SK = 'JOB';

export function segmentSk(segment: number): string {
  return `${SEGMENT_PREFIX}${String(segment).padStart(5, '0')}`;
}

export function deadLetterPk(jobId: string): string {
  return `DL#${jobId}`;
}

/**
 * The sort key of a dead letter: the key string itself, or `sha256#<hex>` of it when it exceeds
 * 1024 bytes (a key string is JSON and starts with `{`, so the two forms never collide).
 */
export function deadLetterSk(keyString: string): string {
  if (Buffer.byteLength(keyString) <= MAX_SORT_KEY_BYTES) return keyString;
  return `sha256#${createHash('sha256').update(keyString).digest('hex')}`;
}
