/**
 * `plan`: what `release --sha` would do (the release's state, the stack's resource changes, the
 * migrations per table, a copy estimate, whether a rollback would be lossless), changing nothing.
 */
import { DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { userError } from '../errors';
import { resolveSha } from '../infra/git';
import type { ResourceChange } from '../infra/stack-deployer';
import { releaseIdFromSha } from '../manifest/table-manifest';
import { dataVersionsAt } from '../config/definition';
import type { ReleaseEngine } from './engine';
import { phaseOf, type Phase } from './phase';
import { writeModesFor, type WriteModeView } from './write-modes';

export interface TablePlan {
  readonly table: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly migrations: readonly string[];
  readonly reversible: boolean;
  readonly sourceItems: number;
  readonly sourceBytes: number;
}

export interface PlanView {
  readonly releaseId: string;
  readonly sha: string;
  /**
   * What a `release` of this sha would find: `new`, `live` (it is the live release: nothing to
   * release), `torn-down` (release refuses it), or the phase of the release that exists.
   */
  readonly state: 'new' | 'live' | 'torn-down' | Phase;
  readonly copyFrom: string | null;
  readonly stackChanges: number;
  /** The release stack's resources that a deploy would add, remove or change. */
  readonly resources: readonly ResourceChange[];
  /** Where the copy rate of the estimate comes from: the live release's own copy, or the config. */
  readonly estimateBasis: string;
  readonly tables: readonly TablePlan[];
  readonly estimatedCopySeconds: number;
  readonly streamRetentionSeconds: number;
  readonly fitsRetention: boolean;
  readonly losslessRollback: boolean;
  /** How a promote of this release can move writes, and what each way guarantees. */
  readonly writeModes: readonly WriteModeView[];
}

export const PLAN_EXCEEDS_RETENTION = 'PLAN_EXCEEDS_RETENTION';

/** What `release --sha` would do. Changes nothing (the stack diff is a template diff). */
export async function planView(engine: ReleaseEngine, ref: string): Promise<PlanView> {
  const sha = await resolveSha(engine.repoDir, ref);
  const releaseId = releaseIdFromSha(sha);
  const versions = await dataVersionsAt(engine.repoDir, sha, engine.definition);
  const edge = await engine.edge();
  const app = edge ? await engine.store.appState() : { live: null, previous: null };
  const live = app.live ? await engine.store.get(app.live) : undefined;
  const existing = edge ? await engine.store.get(releaseId) : undefined;
  const amiId = existing?.checkpoints.ami?.amiId ?? 'ami-00000000000000000';
  const deployer = await engine.deployer([{ releaseId, sha, amiId }]);
  const [diff] = edge ? await deployer.diff([engine.stackName(releaseId)]) : [{ changes: -1, resources: [] }];
  const state: PlanView['state'] = existing?.checkpoints.tornDown || existing?.checkpoints.teardown ? 'torn-down' : app.live === releaseId ? 'live' : existing ? phaseOf(existing, app) : 'new';
  // the copy comes from the live release, unless this is it
  const source = state === 'live' ? undefined : live;
  const tables: TablePlan[] = [];
  for (const spec of engine.tableSpecs()) {
    const from = source?.dataVersions[spec.name] ?? versions[spec.name] ?? 1;
    const to = versions[spec.name] ?? 1;
    const registry = engine.definition.migrations;
    const migrations = registry
      .migrationsOf(spec.name)
      .filter((m) => (to >= from ? m.version > from && m.version <= to : m.version > to && m.version <= from))
      .map((m) => `v${m.version}: ${m.description}${m.down ? '' : ' (no down)'}`);
    const size = source ? await tableSize(engine, engine.tableName(source.releaseId, spec.name)) : { items: 0, bytes: 0 };
    tables.push({ table: spec.name, fromVersion: from, toVersion: to, migrations, reversible: registry.chainIsReversible(spec.name, from, to), sourceItems: size.items, sourceBytes: size.bytes });
  }
  const items = tables.reduce((n, t) => n + t.sourceItems, 0);
  // The rate the live release's own copy reached here beats a configured guess (measured 5x apart on similar machines).
  const measured = live?.checkpoints.copy?.itemsPerSec;
  const rate = measured && measured > 0 ? measured : engine.definition.config.copyItemsPerSecond;
  const estimateBasis = measured && measured > 0 ? `${Math.round(measured)} items/s, measured by the copy into ${live!.releaseId}` : `${rate} items/s, the config's copyItemsPerSecond`;
  const estimatedCopySeconds = Math.ceil(items / rate);
  const streamRetentionSeconds = engine.definition.config.streamRetentionHours * 3600;
  return {
    releaseId,
    sha,
    state,
    copyFrom: source?.releaseId ?? null,
    stackChanges: diff.changes,
    resources: diff.resources,
    estimateBasis,
    tables,
    estimatedCopySeconds,
    streamRetentionSeconds,
    // Copy and catch-up must end well inside retention: half of it, so a slow day still fits.
    fitsRetention: estimatedCopySeconds <= streamRetentionSeconds / 2,
    losslessRollback: tables.every((t) => t.reversible),
    writeModes: writeModesFor(sha),
  };
}

/** Throws when the plan's copy would not finish inside the stream retention. */
export function assertPlanFits(plan: PlanView): void {
  if (plan.fitsRetention) return;
  throw userError(PLAN_EXCEEDS_RETENTION, `the copy of ${plan.tables.reduce((n, t) => n + t.sourceItems, 0)} items would take ~${plan.estimatedCopySeconds} s, more than half the stream retention (${plan.streamRetentionSeconds} s)`, {
    fix: 'run more copy workers (stackshift worker) and raise app.copyItemsPerSecond in stackshift.config.ts to what they reach',
  });
}

async function tableSize(engine: ReleaseEngine, table: string): Promise<{ items: number; bytes: number }> {
  try {
    const t = (await engine.dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table;
    return { items: t?.ItemCount ?? 0, bytes: t?.TableSizeBytes ?? 0 };
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return { items: 0, bytes: 0 };
    throw e;
  }
}
