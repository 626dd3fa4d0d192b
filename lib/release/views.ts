/**
 * The read-only views: `status` (every release now) and `history` (every run of every verb: who,
 * when, how it ended, how long). `plan` is plan-view.ts. Each returns plain data; the CLI renders
 * it as a table or as JSON.
 */
import { DeadLetters, SegmentTasks } from '../ledger';
import { copyJobId } from './data-steps';
import type { ReleaseEngine } from './engine';
import { phaseOf, type Phase } from './phase';
import { AppLock } from '../ledger/app-lock';
import type { GateSnapshot, ReleaseRecord, RunEvent, RunOutcome, StepTiming, Verb } from '../ledger/release-records';
import { syncDeadLetterJobId } from './sync-daemon';
import { readSyncStatus, type SyncPair } from '../ledger/sync-status';
import { isSyncAlive } from './sync-launcher';
import { routerOf, trafficShares } from './flip-guards';
import { readWriteFence, type WritesState } from './write-fence';

export interface SyncView {
  readonly direction: SyncPair['direction'];
  readonly from: string;
  readonly to: string;
  readonly running: boolean;
  /** The lag the running daemon last reported; null when it is not running (a dead sync has no lag). */
  readonly lagMs: number | null;
  readonly caughtUp: boolean;
  /** Why it stopped, when it failed. */
  readonly error?: string;
  /** When it stopped (failed, asked to, or found dead). */
  readonly stoppedAt?: string;
}

export interface ReleaseStatus {
  readonly releaseId: string;
  readonly sha?: string;
  readonly branch?: string;
  readonly phase: Phase;
  readonly live: boolean;
  readonly previous: boolean;
  /** Share of the public record's traffic DNS sends it now (observed in Route 53, not the ledger). */
  readonly trafficPercent: number;
  /** Where this release's own stack answers (its load balancer), or null when it has none standing. */
  readonly endpoint: string | null;
  /** What its load balancer does with writes (the write fence); absent when it has no stack standing. */
  readonly writes?: WritesState;
  readonly dataVersions: Readonly<Record<string, number>>;
  /** Per table: segments COMPLETED of all, items read. */
  readonly copy: Readonly<Record<string, { readonly completed: number; readonly segments: number; readonly itemsRead: number; readonly dead: number }>>;
  readonly syncs: readonly SyncView[];
  readonly deadLetters: number;
  readonly gates?: GateSnapshot;
  readonly failed?: ReleaseRecord['checkpoints']['failed'];
}

export interface StatusView {
  readonly app: string;
  readonly live: string | null;
  readonly previous: string | null;
  /** Where DNS and the ledger disagree (an interrupted promote or rollback), with what to run. */
  readonly warnings: readonly string[];
  readonly releases: readonly ReleaseStatus[];
}

export async function statusView(engine: ReleaseEngine, options: { readonly all?: boolean } = {}): Promise<StatusView> {
  const edge = await engine.edge();
  if (!edge) return { app: engine.app, live: null, previous: null, warnings: [], releases: [] };
  const app = await engine.store.appState();
  const all = await engine.store.list();
  const gone = new Set(all.filter((r) => r.checkpoints.tornDown).map((r) => r.releaseId));
  const records = all.filter((r) => options.all || !r.checkpoints.tornDown);
  const shares = await trafficShares(routerOf(engine, edge));
  const releases: ReleaseStatus[] = [];
  for (const r of records) {
    const copy: Record<string, { completed: number; segments: number; itemsRead: number; dead: number }> = {};
    let deadLetters = 0;
    for (const t of engine.tableSpecs()) {
      const jobId = copyJobId(r.releaseId, t.name);
      const tasks = new SegmentTasks(engine.ledger, jobId);
      if (await tasks.getJob()) {
        const s = await tasks.summary();
        copy[t.name] = { completed: s.byStatus.COMPLETED, segments: s.segments, itemsRead: s.itemsRead, dead: s.byStatus.DEAD };
      }
      deadLetters += await new DeadLetters(engine.ledger, jobId).count();
    }
    // And what its reverse syncs could not carry back (held for redrive).
    const reverseTarget = r.checkpoints.reverseSync?.targetReleaseId;
    for (const t of reverseTarget ? engine.tableSpecs() : []) {
      deadLetters += await new DeadLetters(engine.ledger, syncDeadLetterJobId({ direction: 'reverse', sourceReleaseId: r.releaseId, targetReleaseId: reverseTarget! }, t.name)).count();
    }
    const syncs: SyncView[] = [];
    const pairs: SyncPair[] = [];
    if (r.checkpoints.forwardSync) pairs.push({ direction: 'forward', sourceReleaseId: r.checkpoints.forwardSync.sourceReleaseId, targetReleaseId: r.releaseId });
    if (r.checkpoints.reverseSync) pairs.push({ direction: 'reverse', sourceReleaseId: r.releaseId, targetReleaseId: r.checkpoints.reverseSync.targetReleaseId });
    for (const pair of pairs) {
      // A sync to or from a release that is gone is retired: no row.
      if (gone.has(pair.sourceReleaseId) || gone.has(pair.targetReleaseId)) continue;
      const s = await readSyncStatus(engine.ledger, pair);
      if (s?.retiredAt) continue;
      const running = isSyncAlive(s, engine.clock());
      // A daemon found dead stopped no later than its last heartbeat.
      const stoppedAt = s?.stoppedAt ?? (s && !running ? new Date(s.heartbeatAtMs).toISOString() : undefined);
      syncs.push({
        direction: pair.direction,
        from: pair.sourceReleaseId,
        to: pair.targetReleaseId,
        running,
        lagMs: running && s ? s.lagMs : null,
        caughtUp: running && Boolean(s?.caughtUp),
        ...(s?.error ? { error: s.error } : {}),
        ...(stoppedAt ? { stoppedAt } : {}),
      });
    }
    const endpoint = await endpointOf(engine, r);
    const writes = endpoint ? await readWriteFence(engine, r).catch(() => undefined) : undefined;
    releases.push({
      releaseId: r.releaseId,
      ...(r.sha ? { sha: r.sha } : {}),
      ...(r.branch ? { branch: r.branch } : {}),
      phase: phaseOf(r, app),
      live: app.live === r.releaseId,
      previous: app.previous === r.releaseId,
      trafficPercent: shares.get(r.releaseId) ?? 0,
      endpoint,
      ...(writes ? { writes } : {}),
      dataVersions: r.dataVersions,
      copy,
      syncs,
      deadLetters,
      ...(r.checkpoints.gates ? { gates: r.checkpoints.gates } : {}),
      ...(r.checkpoints.failed ? { failed: r.checkpoints.failed } : {}),
    });
  }
  return { app: engine.app, live: app.live, previous: app.previous, warnings: [...trafficWarnings(app.live, shares), ...writeWarnings(releases)], releases };
}

/** What DNS does that the ledger does not say: a weighted promote or a rollback stopped part-way. */
function trafficWarnings(live: string | null, shares: ReadonlyMap<string, number>): string[] {
  const others = [...shares].filter(([id]) => id !== live);
  if (others.length === 0 && (!live || shares.get(live) === 100 || shares.size === 0)) return [];
  const now = [...shares].map(([id, p]) => `${id} ${p} %`).join(', ');
  return [`DNS sends ${now}, but the ledger's live release is ${live ?? 'none'}: a promote or rollback stopped part-way; finish it (run it again), or undo a promote with \`promote --abort\``];
}

/**
 * Releases that take traffic but hold writes, with none taking them: a fenced cut-over is under way
 * or stopped part-way (killed between its hold and its open), and clients' writes wait meanwhile.
 */
function writeWarnings(releases: readonly ReleaseStatus[]): string[] {
  const serving = releases.filter((r) => r.trafficPercent > 0 && r.writes);
  if (serving.length === 0 || releases.some((r) => r.writes === 'open')) return [];
  const held = serving.filter((r) => r.writes === 'held').map((r) => r.releaseId);
  if (held.length === 0) return [];
  return [`writes are held on ${held.join(', ')} and no release takes them: a fenced cut-over is under way or stopped part-way; run the promote or rollback that started it again`];
}

async function endpointOf(engine: ReleaseEngine, r: ReleaseRecord): Promise<string | null> {
  if (r.checkpoints.tornDown || r.checkpoints.teardown?.destroyedAt || !r.checkpoints.stack) return null;
  try {
    return await engine.baseUrlOf(r);
  } catch {
    return null;
  }
}

/** One run of a verb on a release, as `history` shows it. */
export interface HistoryRun {
  readonly verb: Verb;
  readonly by: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  /**
   * How it ended. `running` only while the app lock is held: a run left `running` by a process that
   * died shows as `interrupted`.
   */
  readonly outcome: RunOutcome;
  /** Wall-clock seconds from start to end; absent while running or when the end is unknown. */
  readonly seconds?: number;
  /** The step it was in last (where an interrupted one stopped). */
  readonly step?: string;
  readonly failedStep?: string;
  readonly code?: string;
  /** Rebuilt from step timings: the record was written before runs were recorded (one run per verb at most). */
  readonly fromStepTimings?: true;
}

export interface HistoryEntry {
  readonly releaseId: string;
  readonly sha?: string;
  readonly branch?: string;
  readonly outcome: Phase;
  readonly by: string;
  readonly at: string;
  /** Seconds each verb's steps took, summed, e.g. { release: 412.3, promote: 31.0 }. */
  readonly durations: Readonly<Record<string, number>>;
  readonly promotedAt?: string;
  readonly rolledBackAt?: string;
  readonly tornDownAt?: string;
  readonly failed?: string;
  /** Every run of a verb on this release, oldest first. */
  readonly runs: readonly HistoryRun[];
}

export async function historyView(engine: ReleaseEngine): Promise<HistoryEntry[]> {
  if (!(await engine.edge())) return [];
  const app = await engine.store.appState();
  const records = await engine.store.list();
  // A run is running only while some command holds the app lock (killed with -9, it lets go within a lease).
  const holder = records.some((r) => r.runs?.some((x) => x.outcome === 'running')) ? await new AppLock({ ledger: engine.ledger, command: 'history' }).holder() : undefined;
  const lockHeld = Boolean(holder && holder.expiresAtMs > engine.clock());
  return records.map((r) => {
    const durations: Record<string, number> = {};
    for (const [key, t] of Object.entries(r.steps)) {
      if (!t.endedAt) continue;
      const verb = key.split(':')[0];
      durations[verb] = Math.round(((durations[verb] ?? 0) + (Date.parse(t.endedAt) - Date.parse(t.startedAt)) / 1000) * 10) / 10;
    }
    const c = r.checkpoints;
    return {
      releaseId: r.releaseId,
      ...(r.sha ? { sha: r.sha } : {}),
      ...(r.branch ? { branch: r.branch } : {}),
      outcome: phaseOf(r, app),
      by: r.createdBy,
      at: r.createdAt,
      durations,
      ...(c.promoted ? { promotedAt: c.promoted.at } : {}),
      ...(c.rolledBackAt ? { rolledBackAt: c.rolledBackAt } : {}),
      ...(c.tornDown ? { tornDownAt: c.tornDown.at } : {}),
      ...(c.failed ? { failed: `${c.failed.step}: ${c.failed.message}` } : {}),
      runs: r.runs ? r.runs.map((x) => historyRun(x, lockHeld)) : runsFromStepTimings(r),
    };
  });
}

function historyRun(x: RunEvent, lockHeld: boolean): HistoryRun {
  const outcome = x.outcome === 'running' && !lockHeld ? 'interrupted' : x.outcome;
  return {
    verb: x.verb,
    by: x.by,
    startedAt: x.startedAt,
    ...(x.endedAt ? { endedAt: x.endedAt } : {}),
    outcome,
    ...(x.endedAt ? { seconds: secondsBetween(x.startedAt, x.endedAt) } : {}),
    ...(x.step ? { step: x.step } : {}),
    ...(x.failedStep ? { failedStep: x.failedStep } : {}),
    ...(x.code ? { code: x.code } : {}),
  };
}

/**
 * The runs of a record written before runs were recorded, from its step timings (keyed
 * `verb:step`): one per verb, from its first step's start to its last step's end. Later runs of a
 * verb overwrote earlier ones' timings, so only the last of each is left.
 */
function runsFromStepTimings(r: ReleaseRecord): HistoryRun[] {
  const byVerb = new Map<string, { step: string; t: StepTiming }[]>();
  for (const [key, t] of Object.entries(r.steps)) {
    const colon = key.indexOf(':');
    const verb = colon < 0 ? 'release' : key.slice(0, colon);
    byVerb.set(verb, [...(byVerb.get(verb) ?? []), { step: key.slice(colon + 1), t }]);
  }
  const c = r.checkpoints;
  const finished: Record<string, boolean> = { release: Boolean(c.readyAt), promote: Boolean(c.promoted), rollback: Boolean(c.rolledBackAt), teardown: Boolean(c.tornDown) };
  const runs: HistoryRun[] = [];
  for (const [verb, steps] of byVerb) {
    const startedAt = steps.map((s) => s.t.startedAt).sort()[0];
    const open = steps.filter((s) => !s.t.endedAt);
    const endedAt = open.length === 0 ? steps.map((s) => s.t.endedAt!).sort().at(-1) : undefined;
    const failed = c.failed && open.some((s) => s.step === c.failed!.step) ? c.failed : undefined;
    runs.push({
      verb: verb as Verb,
      by: r.intent.verb === verb ? r.intent.by : verb === 'release' ? r.createdBy : 'unknown',
      startedAt,
      ...(endedAt ? { endedAt, seconds: secondsBetween(startedAt, endedAt) } : {}),
      outcome: endedAt && finished[verb] ? 'done' : failed ? 'failed' : 'interrupted',
      ...(open.length > 0 ? { step: (failed?.step ?? open[0].step) } : {}),
      ...(failed ? { failedStep: failed.step, code: failed.code } : {}),
      fromStepTimings: true,
    });
  }
  return runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

function secondsBetween(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;
}
