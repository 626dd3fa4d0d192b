/**
 * The sync status record: one per sync daemon (a pair of releases and a direction), written by the
 * daemon every second (lag per table, caught up, a heartbeat), read by every verb that must know
 * whether the syncs run, and the channel through which a daemon is asked to stop.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { syncStatusKey } from './keys';
import type { Ledger } from './ledger';

export type SyncDirection = 'forward' | 'reverse';

export interface SyncPair {
  readonly direction: SyncDirection;
  readonly sourceReleaseId: string;
  readonly targetReleaseId: string;
}

export interface TableSyncStatus {
  readonly lagMs: number;
  /** Shards not read yet in this run: their lag is unknown, so the sync is not caught up. */
  readonly pendingShards: number;
  readonly puts: number;
  readonly deletes: number;
  readonly deadLetters: number;
}

export interface SyncStatus {
  readonly pair: SyncPair;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly heartbeatAtMs: number;
  /** Largest lag over the tables; 0 when every shard is caught up. */
  readonly lagMs: number;
  /** Every table's every shard has been read to its end at least once and has lag 0. */
  readonly caughtUp: boolean;
  readonly tables: Readonly<Record<string, TableSyncStatus>>;
  readonly stopRequested?: boolean;
  readonly stoppedAt?: string;
  readonly error?: string;
  /** Until then the daemon reports every FAST_HEARTBEAT_MS: a cut-over waits on its report, with writes held. */
  readonly fastBeatUntilMs?: number;
  /** Set by teardown: this sync reads or writes a release that is gone, and never runs again. */
  readonly retiredAt?: string;
}

/** How often a running daemon writes its status; `stale` is judged against it. */
export const SYNC_HEARTBEAT_MS = 1000;
/** How often it writes it while someone waits on it with writes held (`requestFastBeat`). */
export const FAST_HEARTBEAT_MS = 100;

export function syncKey(pair: SyncPair): { pk: string; sk: string } {
  return { ...syncStatusKey(pair.sourceReleaseId, pair.targetReleaseId) };
}

export async function readSyncStatus(ledger: Ledger, pair: SyncPair): Promise<SyncStatus | undefined> {
  const out = await ledger.client.send(new GetCommand({ TableName: ledger.tableName, Key: syncKey(pair), ConsistentRead: true }));
  return out.Item as SyncStatus | undefined;
}

/** How long a daemon waits before its next report, given what its last report read back. */
export function nextBeatMs(status: Pick<SyncStatus, 'fastBeatUntilMs'> | undefined, nowMs: number): number {
  return (status?.fastBeatUntilMs ?? 0) > nowMs ? FAST_HEARTBEAT_MS : SYNC_HEARTBEAT_MS;
}

/**
 * Asks a running daemon to report every FAST_HEARTBEAT_MS until `untilMs` (from its next beat on):
 * a drain with writes held then learns within a tenth of a second that the sync is past it.
 */
export function requestFastBeat(ledger: Ledger, pair: SyncPair, untilMs: number): Promise<void> {
  return askDaemon(ledger, pair, 'fastBeatUntilMs', untilMs);
}

/** Asks a running daemon to stop (it exits within a heartbeat). */
export function requestSyncStop(ledger: Ledger, pair: SyncPair): Promise<void> {
  return askDaemon(ledger, pair, 'stopRequested', true);
}

/** Sets a request on a sync's status item, which its daemon reads back at every beat; no item, no daemon: nothing to ask. */
async function askDaemon(ledger: Ledger, pair: SyncPair, attribute: 'fastBeatUntilMs' | 'stopRequested', value: number | boolean): Promise<void> {
  await ledger.client.send(
    new UpdateCommand({
      TableName: ledger.tableName,
      Key: syncKey(pair),
      UpdateExpression: 'SET #a = :v',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#a': attribute },
      ExpressionAttributeValues: { ':v': value },
    }),
  ).catch((e: unknown) => {
    if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
  });
}

