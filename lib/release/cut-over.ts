/**
 * A fenced cut-over moves writes from one stack to the other so that at every moment exactly one
 * takes them (as RDS Blue/Green and Vitess SwitchTraffic do):
 *
 *   hold writes on `to` (nobody writes there before it is current) → hold writes on `from` → wait
 *   `writeDrainMs` for writes already inside its app → drain the sync from → to past that moment →
 *   open `to` → `from` redirects writes to `to`.
 *
 * The write pause is from the hold on `from` to the redirect. If the drain fails, `from` takes
 * writes again (and `to` redirects them to it) and the error says so: traffic and writes stay where
 * they were. Idempotent: a re-run
 * after a kill at any point holds both again and goes on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../errors';
import type { CutOverRecord, ReleaseRecord } from '../ledger/release-records';
import { FAST_HEARTBEAT_MS, requestFastBeat, type SyncPair } from '../ledger/sync-status';
import type { ReleaseEngine } from './engine';
import { assertNoDeadLetters } from './flip-guards';
import { RELEASE_IO } from './messages';
import { ensureSyncRunning, waitCaughtUp } from './sync-launcher';
import { setWriteFence } from './write-fence';

/** How long the drain may take before the cut-over gives up and writes go back to `from`. */
const DRAIN_TIMEOUT_MS = 60_000;

export interface CutOverProps {
  /** The release that takes writes now. */
  readonly from: ReleaseRecord;
  /** The release that takes them after. */
  readonly to: ReleaseRecord;
  /** The sync from → to, drained before `to` takes writes. */
  readonly sync: SyncPair;
}

export async function cutOver(engine: ReleaseEngine, props: CutOverProps): Promise<CutOverRecord> {
  const { from, to, sync } = props;
  await setWriteFence(engine, to, { kind: 'hold' });
  await setWriteFence(engine, from, { kind: 'hold' });
  const heldMs = engine.clock();
  RELEASE_IO.RELEASE_I3119.emit(engine.io, `writes held on ${from.releaseId}; draining the ${sync.direction} sync to ${to.releaseId}`, { releaseId: to.releaseId, heldReleaseId: from.releaseId });
  let drainedMs: number;
  const drainMs = engine.definition.config.writeDrainMs;
  try {
    // Writes are held from here: the sync reports at once when it is past the hold, not a beat later.
    await requestFastBeat(engine.ledger, sync, heldMs + drainMs + DRAIN_TIMEOUT_MS);
    await sleep(drainMs);
    await ensureSyncRunning(engine, sync);
    // Caught up past the moment the last write inside `from`'s app could have been made.
    await waitCaughtUp(engine, sync, { sinceMs: heldMs + drainMs, timeoutMs: DRAIN_TIMEOUT_MS, pollMs: FAST_HEARTBEAT_MS / 2 });
    await assertNoDeadLetters(engine, sync);
    drainedMs = engine.clock();
  } catch (e) {
    await requestFastBeat(engine.ledger, sync, 0).catch(() => undefined);
    // Writes go back where traffic is; a write that reaches `to` is sent there too.
    await setWriteFence(engine, from, { kind: 'open' });
    await setWriteFence(engine, to, { kind: 'redirect', toDnsName: engine.albDnsName(from) });
    RELEASE_IO.RELEASE_I3121.emit(engine.io, `the cut-over to ${to.releaseId} did not drain (${messageOf(e)}); ${from.releaseId} takes writes again, traffic unchanged`, {
      releaseId: to.releaseId,
      heldReleaseId: from.releaseId,
      error: messageOf(e),
    });
    throw e;
  }
  await setWriteFence(engine, to, { kind: 'open' });
  await setWriteFence(engine, from, { kind: 'redirect', toDnsName: engine.albDnsName(to) });
  const movedMs = engine.clock();
  await requestFastBeat(engine.ledger, sync, 0);
  const record: CutOverRecord = {
    fromReleaseId: from.releaseId,
    toReleaseId: to.releaseId,
    heldAt: new Date(heldMs).toISOString(),
    movedAt: new Date(movedMs).toISOString(),
    writePauseMs: movedMs - heldMs,
    drainMs: drainedMs - heldMs,
  };
  RELEASE_IO.RELEASE_I3120.emit(engine.io, `writes moved from ${from.releaseId} to ${to.releaseId}: held ${record.writePauseMs} ms (drain ${record.drainMs} ms)`, { releaseId: to.releaseId, ...record });
  return record;
}

/** Both stacks take writes (a weighted shift, or the first release): no fence on either. */
export async function openWrites(engine: ReleaseEngine, records: readonly ReleaseRecord[]): Promise<void> {
  for (const r of records) await setWriteFence(engine, r, { kind: 'open' });
}
