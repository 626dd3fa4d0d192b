/**
 * A long-lived sync between two releases' tables: every table's stream followed at once (one
 * TableSync each), its status written to the ledger every second (lag per table, whether every
 * shard is caught up, a heartbeat), and a stop asked through the ledger honoured within a second.
 * It survives the command that started it (a release ends at READY while its forward sync keeps
 * the data current until the flip), and after kill -9 it resumes from its shard checkpoints.
 *
 * Forward: the live release → a new release, through the up chain, after the copy (origin 'sync').
 * Reverse: the promoted release → the previous one, through `down` (origin 'reverse'); both run
 * around a flip and after it, so a rollback by DNS loses no write, and origin tokens stop echoes.
 */
import { hostname } from 'node:os';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isStreamOn, latestStreamOf } from '../data/stream/table-stream';
import { TableSync } from '../data/stream/table-sync';
import { messageOf, userError } from '../errors';
import { nextBeatMs, syncKey, SYNC_HEARTBEAT_MS, type SyncPair, type SyncStatus, type TableSyncStatus } from '../ledger/sync-status';
import { keyTypesOf } from '../manifest/table-manifest';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';

/**
 * Names one table's sync in the ledger (its shard checkpoints, leases and dead letters). It holds
 * the source and the target, so no two syncs ever share checkpoints: a reverse sync C → A must not
 * resume from B → A's shards (that lost writes: C's shards looked "trimmed" against B's). And it
 * holds the epoch, the label of the source stream it reads: checkpoints belong to one stream, and
 * a stream turned off and on again starts a sync of its own.
 */
export function tableSyncId(pair: SyncPair, table: string, streamLabel: string): string {
  return `${pair.sourceReleaseId}>${pair.targetReleaseId}#${table}#${pair.direction}@${streamLabel}`;
}

/**
 * Where a sync's dead letters are kept: a forward sync's with its release's copy (the release's
 * gates count them), a reverse sync's under the pair and table, whatever the stream epoch.
 */
export function syncDeadLetterJobId(pair: SyncPair, table: string): string {
  return pair.direction === 'forward' ? `${pair.targetReleaseId}#${table}` : `reverse:${pair.sourceReleaseId}>${pair.targetReleaseId}#${table}`;
}

/** The label (creation time) at the end of a stream ARN: `…/stream/2026-12-03T16:26:20.123`. */
export function streamLabelOf(streamArn: string): string {
  return streamArn.slice(streamArn.lastIndexOf('/') + 1);
}

/**
 * The label of every source table's stream. A sync never starts on a table whose stream is off:
 * that is a teardown in progress, or a promote that did not turn the release's streams on.
 */
async function sourceStreamLabels(engine: ReleaseEngine, pair: SyncPair): Promise<Map<string, string>> {
  const labels = new Map<string, string>();
  for (const spec of engine.tableSpecs()) {
    const table = engine.tableName(pair.sourceReleaseId, spec.name);
    const stream = await latestStreamOf(engine.streams, table);
    if (!stream || !isStreamOn(stream)) {
      throw userError('SYNC_STREAM_OFF', `sync ${pair.sourceReleaseId} → ${pair.targetReleaseId}: the stream of source table ${table} is ${stream?.status ?? 'absent'}`, {
        fix: 'a sync reads a release whose tables stream their changes: check `npm run status` (is that release torn down?)',
      });
    }
    labels.set(spec.name, streamLabelOf(stream.streamArn));
  }
  return labels;
}

/** Runs the syncs of `pair` until a stop is asked (or `signal` aborts). */
export async function runSyncDaemon(engine: ReleaseEngine, pair: SyncPair, signal?: AbortSignal): Promise<void> {
  const source = await engine.store.get(pair.sourceReleaseId);
  const target = await engine.store.get(pair.targetReleaseId);
  if (!source || !target) {
    throw userError('SYNC_RELEASE_UNKNOWN', `sync ${pair.sourceReleaseId} → ${pair.targetReleaseId}: release ${source ? pair.targetReleaseId : pair.sourceReleaseId} is not recorded`, {
      fix: 'check `npm run status`',
    });
  }
  // A teardown drains its release's syncs before it retires them: only then are they refused.
  const gone = [source, target].find((r) => r.checkpoints.tornDown || r.checkpoints.teardown?.syncsRetiredAt);
  if (gone) {
    throw userError('SYNC_RELEASE_TORN_DOWN', `sync ${pair.sourceReleaseId} → ${pair.targetReleaseId}: release ${gone.releaseId} is torn down`, {
      fix: 'nothing to sync: its tables are gone or going',
    });
  }
  const { ledger } = engine;
  const abort = new AbortController();
  signal?.addEventListener('abort', () => abort.abort(), { once: true });
  const startedAt = engine.nowIso();
  // A fresh status: a stop asked of a previous daemon of this pair must not stop this one.
  await ledger.client.send(
    new PutCommand({ TableName: ledger.tableName, Item: { ...syncKey(pair), pair, pid: process.pid, host: hostname(), startedAt, heartbeatAtMs: engine.clock(), lagMs: 0, caughtUp: false, tables: {} } }),
  );
  let streamLabels: Map<string, string>;
  try {
    streamLabels = await sourceStreamLabels(engine, pair);
  } catch (e) {
    // Said where the verb waiting for this sync looks: its status, not only its log.
    await ledger.client.send(
      new UpdateCommand({ TableName: ledger.tableName, Key: syncKey(pair), UpdateExpression: 'SET stoppedAt = :s, #e = :e', ExpressionAttributeNames: { '#e': 'error' }, ExpressionAttributeValues: { ':s': engine.nowIso(), ':e': messageOf(e) } }),
    );
    throw e;
  }

  const syncs = engine.tableSpecs().map((spec) => {
    const totals = { puts: 0, deletes: 0, deadLetters: 0 };
    const sync = new TableSync({
      ioHost: engine.io,
      syncId: tableSyncId(pair, spec.name, streamLabels.get(spec.name)!),
      ledger,
      sourceTable: engine.tableName(pair.sourceReleaseId, spec.name),
      targetTable: engine.tableName(pair.targetReleaseId, spec.name),
      keyNames: engine.keyNamesOf(spec),
      chain: engine.chain(spec, source, target),
      versionAttribute: spec.versionAttribute,
      origin: pair.direction === 'forward' ? 'sync' : 'reverse',
      copyJobId: pair.direction === 'forward' ? `${pair.targetReleaseId}#${spec.name}` : undefined,
      deadLetterJobId: syncDeadLetterJobId(pair, spec.name),
      dynamodb: engine.dynamodb,
      keyTypes: { source: keyTypesOf(spec), target: keyTypesOf(spec) },
      onBatch: (_records, r) => {
        totals.puts += r.puts;
        totals.deletes += r.deletes;
        totals.deadLetters += r.deadLetters;
      },
    });
    return { spec, sync, totals };
  });

  RELEASE_IO.SYNC_I3001.emit(engine.io, `${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} started (pid ${process.pid})`, { ...pair, pid: process.pid });
  let failure: unknown;
  const runs = syncs.map((s) =>
    s.sync.run({ signal: abort.signal }).then(
      () => undefined,
      (e: unknown) => {
        failure ??= e;
        abort.abort();
      },
    ),
  );

  let beatMs = SYNC_HEARTBEAT_MS;
  const writeStatus = async (extra: Partial<SyncStatus> = {}): Promise<boolean> => {
    const tables: Record<string, TableSyncStatus> = {};
    let lagMs = 0;
    let caughtUp = true;
    for (const s of syncs) {
      const lag = s.sync.lag();
      const pending = lag ? lag.pending.length : 1;
      const max = lag?.maxMs ?? 0;
      lagMs = Math.max(lagMs, max);
      if (pending > 0 || max > 0) caughtUp = false;
      tables[s.spec.name] = { lagMs: max, pendingShards: pending, ...s.totals };
    }
    const out = await ledger.client.send(
      new UpdateCommand({
        TableName: ledger.tableName,
        Key: syncKey(pair),
        UpdateExpression: 'SET heartbeatAtMs = :h, lagMs = :l, caughtUp = :c, tables = :t' + (extra.stoppedAt ? ', stoppedAt = :s' : '') + (extra.error ? ', #e = :e' : ''),
        ExpressionAttributeNames: extra.error ? { '#e': 'error' } : undefined,
        ExpressionAttributeValues: {
          ':h': engine.clock(),
          ':l': lagMs,
          ':c': caughtUp,
          ':t': tables,
          ...(extra.stoppedAt ? { ':s': extra.stoppedAt } : {}),
          ...(extra.error ? { ':e': extra.error } : {}),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    beatMs = nextBeatMs(out.Attributes as SyncStatus | undefined, engine.clock());
    return out.Attributes?.stopRequested === true;
  };

  const all = Promise.all(runs);
  let done = false;
  void all.then(() => (done = true));
  while (!done && !abort.signal.aborted) {
    await new Promise((r) => setTimeout(r, beatMs));
    try {
      if (await writeStatus()) abort.abort();
    } catch (e) {
      // The ledger unreachable for a beat: keep syncing; the status is stale until it answers.
      RELEASE_IO.SYNC_W3002.emit(engine.io, `sync status not written: ${messageOf(e)}`, { ...pair });
    }
  }
  abort.abort();
  await all;
  await writeStatus({ stoppedAt: engine.nowIso(), ...(failure ? { error: messageOf(failure) } : {}) });
  RELEASE_IO.SYNC_I3003.emit(engine.io, `${pair.direction} sync ${pair.sourceReleaseId} → ${pair.targetReleaseId} stopped`, { ...pair, pid: process.pid });
  if (failure) throw failure;
}
