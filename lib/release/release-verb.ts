/**
 * `release --sha S` / `release --branch B`: tag → artifact → publish → AMI → stack → app running → copy the
 * live data with migrations → forward sync → gates → checks → READY. Input is checked before
 * anything is written (a bad sha, a dirty tree or an unknown table version leaves no state); then
 * the intent is recorded and the steps run, each skipped when its checkpoint says it is done.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { toolError, userError } from '../errors';
import { AmiBaker } from '../infra/ami-baker';
import { buildArtifact } from '../infra/artifact-builder';
import { artifactDownloadUrl, publishArtifact } from '../infra/artifact-publisher';
import { isDirty, resolveSha } from '../infra/git';
import { releaseIdFromBranch, releaseIdFromSha } from '../manifest/table-manifest';
import { AppLock, whoAmI } from '../ledger/app-lock';
import { DEFAULT_REGION } from '../../stacks/stack-names';
import { bakeScript } from './bake-script';
import { dataVersionsAt } from '../config/definition';
import { assertGates, copyTables, evaluateGates } from './data-steps';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';
import { phaseOf } from './phase';
import { reconcile, type Step } from './reconcile';
import type { ReleaseRecord } from '../ledger/release-records';
import type { VerbResult } from './verb-result';
import { ensureSyncRunning } from './sync-launcher';

const run = promisify(execFile);

export interface ReleaseVerbOptions {
  /** A commit (any git ref); exactly one of sha and branch. @default HEAD */
  readonly sha?: string;
  /** A branch: a developer stack with a copy of production data. @default - none */
  readonly branch?: string;
  /** Release even if the working tree has uncommitted changes. @default false */
  readonly allowDirty?: boolean;
}

export async function releaseVerb(engine: ReleaseEngine, options: ReleaseVerbOptions): Promise<VerbResult> {
  if (options.sha !== undefined && options.branch !== undefined) {
    throw userError('OPTION_INVALID', `both --sha "${options.sha}" and --branch "${options.branch}" given`, { fix: 'release a sha or a branch, not both' });
  }
  const releaseId = options.branch !== undefined ? releaseIdFromBranch(options.branch) : undefined;
  const sha = await resolveSha(engine.repoDir, options.branch !== undefined ? `refs/heads/${options.branch}` : (options.sha ?? 'HEAD'));
  if (!options.allowDirty && (await isDirty(engine.repoDir))) {
    throw userError('TREE_DIRTY', `the working tree of ${engine.repoDir} has uncommitted changes`, {
      fix: 'commit or stash them (the release definition is read from the working tree), or pass --allow-dirty',
    });
  }
  const id = releaseId ?? releaseIdFromSha(sha);
  const dataVersions = await dataVersionsAt(engine.repoDir, sha, engine.definition);

  await engine.ensureEdge();
  return AppLock.with({ ledger: engine.ledger, command: `release ${id}` }, async (lock) => {
    let record = await engine.store.get(id);
    const goneAt = record?.checkpoints.tornDown?.at ?? record?.checkpoints.teardown?.startedAt;
    if (goneAt) {
      throw userError('RELEASE_TORN_DOWN', `release ${id} was torn down (teardown of ${goneAt})`, {
        fix: options.branch ? 'a branch stack is rebuilt from a new commit: push one and release again' : 'release a new commit',
      });
    }
    const intent = { verb: 'release' as const, by: whoAmI(), at: engine.nowIso(), options: { ...options } };
    if (!record) {
      record = await engine.store.put({
        releaseId: id,
        app: engine.app,
        ...(options.branch !== undefined ? { branch: options.branch } : {}),
        sha,
        dataVersions,
        createdAt: engine.nowIso(),
        createdBy: intent.by,
        intent,
        checkpoints: {},
        steps: {},
        version: 1,
      });
    } else if (record.sha !== sha) {
      throw userError('RELEASE_EXISTS', `release ${id} exists for commit ${record.sha?.slice(0, 12)}, not ${sha.slice(0, 12)}`, {
        fix: options.branch ? `tear it down first (npm run teardown -- --branch ${options.branch})` : 'release ids are derived from the sha: this should not happen, report it',
      });
    } else if (record.intent.verb !== 'release' && !record.checkpoints.readyAt) {
      record = await engine.store.update(record, () => ({ intent }));
    }
    record = await reconcile(engine, record, 'release', releaseSteps(engine, Boolean(options.branch)), lock);
    const app = await engine.store.appState();
    const phase = phaseOf(record, app);
    RELEASE_IO.RELEASE_I3110.emit(engine.io, `release ${id} is ${phase}`, { releaseId: id, phase });
    return { releaseId: id, phase, record };
  });
}

function releaseSteps(engine: ReleaseEngine, isBranch: boolean): Step[] {
  const def = engine.definition;
  const baker = new AmiBaker({ ioHost: engine.io });
  return [
    {
      name: 'tag',
      done: (r) => Boolean(r.checkpoints.tag) || isBranch,
      run: async (r) => ({ tag: await tagRelease(engine.repoDir, r) }),
    },
    {
      name: 'artifact',
      done: (r) => Boolean(r.checkpoints.artifact),
      run: async (r) => {
        const a = await buildArtifact({ repoDir: engine.repoDir, sha: r.sha!, appDir: def.appDir, storeDir: engine.artifactStore, ioHost: engine.io });
        return { artifact: { artifactId: a.artifactId, kind: a.kind, ...(a.path ? { path: a.path } : {}), ...(a.imageRef ? { imageRef: a.imageRef } : {}) } };
      },
    },
    {
      // The tarball goes where the AMI builder fetches it. A Docker image would go to a registry,
      // which is not built yet (README, Limits): the bake then installs no app.
      name: 'publish',
      done: (r) => Boolean(r.checkpoints.published) || r.checkpoints.artifact?.kind !== 'tarball',
      run: async (r) => {
        const edge = await engine.ensureEdge();
        // Built again from the commit (the same bytes, so the same id), in case this machine is not
        // the one that ran the artifact step.
        const a = await buildArtifact({ repoDir: engine.repoDir, sha: r.sha!, appDir: def.appDir, storeDir: engine.artifactStore, ioHost: engine.io, docker: 'never' });
        if (a.artifactId !== r.checkpoints.artifact!.artifactId) {
          throw toolError('ARTIFACT_CHANGED', `the tarball of ${r.sha} is ${a.artifactId} now, ${r.checkpoints.artifact!.artifactId} when the release recorded it`);
        }
        const p = await publishArtifact({ s3: engine.s3, bucket: edge.artifactBucketName!, app: engine.app, artifactId: a.artifactId, tarPath: a.tarPath!, ioHost: engine.io });
        return { published: { bucket: p.bucket, key: p.key, bytes: p.bytes } };
      },
    },
    {
      name: 'ami',
      done: (r) => Boolean(r.checkpoints.ami),
      run: async (r) => {
        const artifactId = r.checkpoints.artifact!.artifactId;
        const published = r.checkpoints.published;
        const { amiId, reused } = await baker.bake({
          app: engine.app,
          releaseId: r.releaseId,
          sha: r.sha!,
          artifactId,
          baseAmiId: def.config.baseAmiId,
          instanceType: def.config.instanceType,
          userData: bakeScript({
            app: engine.app,
            releaseId: r.releaseId,
            sha: r.sha!,
            artifactId,
            appDir: def.appDir,
            appEntry: def.appEntry,
            // the app contract: its tables by name, and the region its SDK must use
            env: { ...engine.appEnv(r.releaseId), AWS_REGION: DEFAULT_REGION },
            // Valid for the bake's longest wait for its builder (instanceTimeoutSeconds) and more.
            downloadUrl: published ? await artifactDownloadUrl(engine.s3, published, 3600) : undefined,
          }),
          waitForShutdown: engine.target.bakeWaitsForShutdown,
        });
        return { ami: { amiId, reused } };
      },
    },
    {
      name: 'deploy',
      done: (r) => Boolean(r.checkpoints.stack),
      run: async (r) => {
        const deployer = await engine.deployer([engine.releaseSpec(r)]);
        const [out] = await deployer.deploy([engine.stackName(r.releaseId)]);
        return { stack: { stackName: out.stackName, outputs: out.outputs } };
      },
    },
    {
      // Always checked: after a reboot the app must be started again (idempotent when it runs).
      name: 'app',
      done: () => false,
      run: async (r) => {
        await engine.target.runRelease({
          releaseId: r.releaseId,
          albDnsName: engine.albDnsName(r),
          artifactPath: r.checkpoints.artifact?.path,
          appEntry: path.join(def.appDir, def.appEntry),
          env: engine.appEnv(r.releaseId),
        });
        return r.checkpoints.fleet ? {} : { fleet: { startedAt: engine.nowIso() } };
      },
    },
    {
      name: 'copy',
      done: (r) => Boolean(r.checkpoints.copy),
      run: async (r) => {
        const live = (await engine.store.appState()).live;
        const source = live && live !== r.releaseId ? await engine.store.get(live) : undefined;
        if (!source) return { copy: { sourceReleaseId: null, items: 0, itemsPerSec: 0, endedAt: engine.nowIso() } };
        return { copy: await copyTables(engine, source, r) };
      },
    },
    {
      // A branch stack keeps its copy as it was: it follows nothing, so production stays untouched.
      name: 'forward-sync',
      done: (r) => !r.checkpoints.copy?.sourceReleaseId || isBranch,
      run: async (r) => {
        const sourceReleaseId = r.checkpoints.copy!.sourceReleaseId!;
        await ensureSyncRunning(engine, { direction: 'forward', sourceReleaseId, targetReleaseId: r.releaseId });
        return r.checkpoints.forwardSync ? {} : { forwardSync: { sourceReleaseId, startedAt: engine.nowIso() } };
      },
    },
    {
      name: 'gates',
      done: (r) => Boolean(r.checkpoints.gates?.ok),
      run: async (r) => {
        const sourceId = r.checkpoints.copy?.sourceReleaseId;
        const source = sourceId && !isBranch ? await engine.store.get(sourceId) : undefined;
        const gates = source ? await evaluateGates(engine, source, r) : { ok: true, at: engine.nowIso(), gates: [] };
        if (!gates.ok) {
          await engine.store.update(r, (cur) => ({ checkpoints: { ...cur.checkpoints, gates } }));
          assertGates(r.releaseId, gates);
        }
        return { gates };
      },
    },
    {
      name: 'checks',
      done: (r) => Boolean(r.checkpoints.checks),
      run: async (r) => {
        const baseUrl = await engine.baseUrlOf(r);
        const checks = def.checks ?? [];
        for (const check of checks) {
          try {
            await check.run({ baseUrl, marker: `check-${r.releaseId}` });
          } catch (e) {
            RELEASE_IO.RELEASE_I3113.emit(engine.io, `check "${check.name}" failed on ${r.releaseId}: ${(e as Error).message}`, { releaseId: r.releaseId, check: check.name, ok: false });
            throw userError('CHECK_FAILED', `release check "${check.name}" failed against ${baseUrl}: ${(e as Error).message}`, {
              fix: 'fix the release and release a new commit (or run again if the failure was transient)',
            });
          }
          RELEASE_IO.RELEASE_I3113.emit(engine.io, `check "${check.name}" passed on ${r.releaseId}`, { releaseId: r.releaseId, check: check.name, ok: true });
        }
        return { checks: { passed: checks.length, at: engine.nowIso() } };
      },
    },
    {
      name: 'ready',
      done: (r) => Boolean(r.checkpoints.readyAt),
      run: async () => ({ readyAt: engine.nowIso() }),
    },
  ];
}

/** `stackshift/<release id>` at the sha; an existing tag at the same commit is fine. */
async function tagRelease(repoDir: string, r: ReleaseRecord): Promise<string> {
  const tag = `stackshift/${r.releaseId}`;
  try {
    const existing = (await run('git', ['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`], { cwd: repoDir })).stdout.trim();
    if (existing === r.sha) return tag;
    throw userError('TAG_CONFLICT', `tag ${tag} exists at ${existing.slice(0, 12)}, not at ${r.sha!.slice(0, 12)}`, { fix: `delete it (git tag -d ${tag}) if it is stale` });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 1) throw e;
  }
  await run('git', ['tag', tag, r.sha!], { cwd: repoDir });
  return tag;
}

