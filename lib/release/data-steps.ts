/**
 * The data part of a release: copy the live release's tables into the new release's (with the
 * migrations between their data versions), and the promotion gates (sync caught up, two-way verify
 * = 0, no dead letters, backward compatibility). lib/data does the work; this decides what to run.
 */
import { CopyJob } from '../data/copy/copy-job';
import { checkBackwardCompatibility } from '../data/compat/backward-compat';
import { evaluatePromotionGates, type PromotionGate } from '../data/gates';
import { verifyCopy, type VerifyResult } from '../data/verify/verify-copy';
import { userError } from '../errors';
import { clearSettledDeadLetters } from '../data/settle-dead-letters';
import { SHARED_CONFLICT } from '../data/stream/change-applier';
import { createItemClient } from '../item/numbers';
import { DeadLetters, type DeadLetter } from '../ledger';
import { keyTypesOf, type TableSpec } from '../manifest/table-manifest';
import type { ReleaseEngine } from './engine';
import { ensureStream } from './ensure-streams';
import { RELEASE_IO } from './messages';
import type { Checkpoints, GateSnapshot, ReleaseRecord } from '../ledger/release-records';
import type { SyncPair, SyncStatus } from '../ledger/sync-status';
import { waitCaughtUp } from './sync-launcher';

export const GATES_FAILED = 'GATES_FAILED';

/** Copies every table of `source` into `target`'s; resumes a copy a crash interrupted. */
export async function copyTables(engine: ReleaseEngine, source: ReleaseRecord, target: ReleaseRecord): Promise<NonNullable<Checkpoints['copy']>> {
  let items = 0;
  let seconds = 0;
  for (const spec of engine.tableSpecs()) {
    const sourceTable = engine.tableName(source.releaseId, spec.name);
    // Stream first (DESIGN.md, Data, 1): T0 is captured by the copy's prepare, on a live stream.
    await ensureStream(engine, sourceTable);
    const job = new CopyJob({
      ioHost: engine.io,
      jobId: copyJobId(target.releaseId, spec.name),
      sourceTable,
      targetTable: engine.tableName(target.releaseId, spec.name),
      keyNames: engine.keyNamesOf(spec),
      chain: engine.chain(spec, source, target),
      ledger: engine.ledger,
      dynamodb: engine.dynamodb,
      keyTypes: { source: keyTypesOf(spec), target: keyTypesOf(spec) },
    });
    const result = await job.run();
    if (!result.complete) {
      throw userError('COPY_INCOMPLETE', `the copy of ${spec.name} has DEAD segments (${JSON.stringify(result.segments)})`, {
        fix: 'look at the segment errors in `npm run status`, fix the cause and run the release again (DEAD segments are retried)',
      });
    }
    items += result.itemsRead;
    seconds += result.seconds;
  }
  return { sourceReleaseId: source.releaseId, items, itemsPerSec: seconds > 0 ? Math.round(items / seconds) : 0, endedAt: engine.nowIso() };
}

export function copyJobId(releaseId: string, table: string): string {
  return `${releaseId}#${table}`;
}

/** Dead letters of the copy and forward sync of every table of a release. */
export async function deadLetterCount(engine: ReleaseEngine, releaseId: string): Promise<number> {
  let n = 0;
  for (const spec of engine.tableSpecs()) n += await new DeadLetters(engine.ledger, copyJobId(releaseId, spec.name)).count();
  return n;
}

/**
 * The promotion gates of `target` following `source`: waits for the forward sync to catch up
 * (lag under the gate), verifies every table two ways (a difference is looked at again after the
 * sync had time to apply it; if any remain, the whole verify runs once more after the sync caught
 * up again, and what stays is reported), counts dead
 * letters and checks backward compatibility where the data version changes.
 */
export async function evaluateGates(engine: ReleaseEngine, source: ReleaseRecord, target: ReleaseRecord): Promise<GateSnapshot> {
  const lagGateMs = engine.definition.config.lagGateMs;
  const pair = { direction: 'forward' as const, sourceReleaseId: source.releaseId, targetReleaseId: target.releaseId };
  let status = await waitCaughtUp(engine, pair, { sinceMs: engine.clock(), maxLagMs: lagGateMs });
  const gates: PromotionGate[] = [];
  let ok = true;
  for (const spec of engine.tableSpecs()) {
    const deadLetters = new DeadLetters(engine.ledger, copyJobId(target.releaseId, spec.name));
    status = (await clearRacedDeadLetters(engine, pair, source, target, spec)) ?? status;
    let verify: VerifyResult | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      verify = await verifyCopy({
        ioHost: engine.io,
        sourceTable: engine.tableName(source.releaseId, spec.name),
        targetTable: engine.tableName(target.releaseId, spec.name),
        keyNames: engine.keyNamesOf(spec),
        chain: engine.chain(spec, source, target),
        deadLetters,
        dynamodb: engine.dynamodb,
        // The forward sync keeps applying live writes: a difference must outlast it to count.
        settleMs: 3000,
        // Production serves traffic meanwhile: two segments at a time, not the default four.
        concurrency: 2,
      });
      if (verify.differences === 0) break;
      status = await waitCaughtUp(engine, pair, { sinceMs: engine.clock(), maxLagMs: lagGateMs });
    }
    const fromV = source.dataVersions[spec.name] ?? 1;
    const toV = target.dataVersions[spec.name] ?? 1;
    const compat =
      toV > fromV && engine.definition.migrations.chainIsReversible(spec.name, fromV, toV)
        ? await backwardCompat(engine, spec.name, target, fromV, toV)
        : undefined;
    const result = evaluatePromotionGates({
      verify: verify!,
      lagMs: status.tables[spec.name]?.lagMs ?? status.lagMs,
      lagGateMs,
      deadLetters: await deadLetters.count(),
      compat,
    });
    ok &&= result.ok;
    for (const g of result.gates) gates.push({ ...g, detail: `${spec.name}: ${g.detail}` });
  }
  RELEASE_IO.RELEASE_I3112.emit(engine.io, `gates of ${target.releaseId}: ${ok ? 'all pass' : gates.filter((g) => !g.ok).map((g) => g.detail).join('; ')}`, { releaseId: target.releaseId, gates });
  return { ok, at: engine.nowIso(), gates };
}

/**
 * A copy under live writes can refuse a shared item whose sources it read on both sides of a write
 * (SHARED_CONFLICT); the forward sync applies that write afterwards. Once it has caught up, such a
 * dead letter whose key the target now holds as the source migrates to is cleared
 * (clearSettledDeadLetters: compares, writes nothing). Looked at again after the sync had time to
 * apply a write still in flight; what stays is a real conflict, for the gates to report.
 */
async function clearRacedDeadLetters(engine: ReleaseEngine, pair: SyncPair, source: ReleaseRecord, target: ReleaseRecord, spec: TableSpec): Promise<SyncStatus | undefined> {
  const props = {
    client: createItemClient(engine.dynamodb),
    ledger: engine.ledger,
    jobId: copyJobId(target.releaseId, spec.name),
    sourceTable: engine.tableName(source.releaseId, spec.name),
    targetTable: engine.tableName(target.releaseId, spec.name),
    keyNames: engine.keyNamesOf(spec),
    chain: engine.chain(spec, source, target),
    only: (d: DeadLetter) => d.errorCode === SHARED_CONFLICT && d.phase === 'copy',
  };
  let status: SyncStatus | undefined;
  let checked = 0;
  let cleared = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await clearSettledDeadLetters(props);
    if (attempt === 1) checked = r.checked;
    cleared += r.cleared;
    if (r.checked === r.cleared) break;
    await new Promise((done) => setTimeout(done, 3000));
    status = await waitCaughtUp(engine, pair, { sinceMs: engine.clock(), maxLagMs: engine.definition.config.lagGateMs });
  }
  if (checked > 0) {
    RELEASE_IO.RELEASE_I3118.emit(engine.io, `${spec.name}: ${cleared} of ${checked} copy dead letter(s) from a shared-item race cleared: the forward sync had carried their keys`, {
      releaseId: target.releaseId,
      table: spec.name,
      cleared,
      checked,
    });
  }
  return status;
}

async function backwardCompat(engine: ReleaseEngine, table: string, target: ReleaseRecord, fromV: number, toV: number) {
  const spec = engine.tableSpecs().find((t) => t.name === table)!;
  const oldest = engine.definition.migrations.migrationsOf(table).find((m) => m.version === fromV + 1);
  const previousSchema = oldest?.downSchema;
  if (!previousSchema) return undefined;
  const check = () =>
    checkBackwardCompatibility({
      ioHost: engine.io,
      table: engine.tableName(target.releaseId, table),
      keyNames: engine.keyNamesOf(spec),
      downChain: engine.definition.migrations.chain(table, toV, fromV, { keyNames: engine.keyNamesOf(spec) }),
      previousSchema,
    });
  // The sample is read while the forward sync writes: a listing can land a moment before its
  // product item, and `down` needs both. A failure must outlast the sync to count.
  let result = await check();
  for (let attempt = 1; attempt < 3 && result.failures > 0; attempt++) {
    await new Promise((r) => setTimeout(r, 3000));
    result = await check();
  }
  return result;
}

/** Throws GATES_FAILED listing the failed gates. */
export function assertGates(releaseId: string, snapshot: GateSnapshot): void {
  if (snapshot.ok) return;
  const failed = snapshot.gates.filter((g) => !g.ok).map((g) => g.detail);
  throw userError(GATES_FAILED, `release ${releaseId} does not pass its promotion gates: ${failed.join('; ')}`, {
    fix: 'fix the data (npm run redrive, or the migration) and run the command again',
  });
}
