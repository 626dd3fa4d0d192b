/**
 * `gc`: tears down the branch stacks whose branch is gone or whose TTL passed, then deletes the
 * published tarballs no standing release refers to.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { deleteUnusedArtifacts } from '../infra/artifact-publisher';
import { AppLock } from '../ledger/app-lock';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';
import type { ReleaseRecord } from '../ledger/release-records';
import { teardownLocked } from './teardown-verb';

const run = promisify(execFile);

export interface GcVerbOptions {
  /** Skip the backup of their tables. @default false */
  readonly noBackup?: boolean;
}

export interface GcResult {
  readonly collected: readonly { readonly releaseId: string; readonly reason: string }[];
  /** Keys of published tarballs no release that still exists refers to, deleted. */
  readonly artifactsDeleted: readonly string[];
}

/**
 * Tears down branch stacks whose branch no longer exists in the repository or whose TTL passed,
 * then deletes the published tarballs that no release still standing refers to. Under the app
 * lock: no release can be publishing meanwhile.
 */
export async function gcVerb(engine: ReleaseEngine, options: GcVerbOptions = {}): Promise<GcResult> {
  const edge = await engine.requireEdge();
  const ttlMs = engine.definition.config.branchTtlHours * 3_600_000;
  const candidates: { record: ReleaseRecord; reason: string }[] = [];
  for (const r of await engine.store.list()) {
    if (!r.branch || r.checkpoints.tornDown) continue;
    if (!(await branchExists(engine.repoDir, r.branch))) candidates.push({ record: r, reason: `branch ${r.branch} no longer exists` });
    else if (engine.clock() - Date.parse(r.createdAt) > ttlMs) candidates.push({ record: r, reason: `older than ${engine.definition.config.branchTtlHours} h` });
  }
  return AppLock.with({ ledger: engine.ledger, command: 'gc' }, async (lock) => {
    const collected: { releaseId: string; reason: string }[] = [];
    for (const c of candidates) {
      await teardownLocked(engine, c.record, { noBackup: options.noBackup }, lock);
      RELEASE_IO.RELEASE_I3114.emit(engine.io, `collected ${c.record.releaseId}: ${c.reason}`, { stack: engine.stackName(c.record.releaseId), releaseId: c.record.releaseId, kind: c.reason });
      collected.push({ releaseId: c.record.releaseId, reason: c.reason });
    }
    const standing = (await engine.store.list()).filter((r) => !r.checkpoints.tornDown);
    const artifactsDeleted = edge.artifactBucketName
      ? await deleteUnusedArtifacts({
          s3: engine.s3,
          bucket: edge.artifactBucketName,
          app: engine.app,
          inUse: new Set(standing.flatMap((r) => (r.checkpoints.published ? [r.checkpoints.published.key] : []))),
          ioHost: engine.io,
        })
      : [];
    return { collected, artifactsDeleted };
  });
}

async function branchExists(repoDir: string, branch: string): Promise<boolean> {
  try {
    await run('git', ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: repoDir });
    return true;
  } catch {
    return false;
  }
}
