/**
 * The main job on local AWS (issue 6): the example catalog released v1 → v2 under live traffic.
 * Production v1 is released, seeded with N products (3 channel items each) and promoted; a traffic
 * generator reads and writes through the public record (resolved in Route 53, honouring its TTL);
 * v2 is released (artifact, AMI bake, stack, copy with the channel migration, stream sync, gates,
 * checks), promoted, rolled back, promoted again, and v1 is torn down. Then every acknowledged
 * write is looked up in the live release. The report says what failed and what was lost: zeros.
 */
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeAll } from '../../bench/write-all';
import { BatchWriter } from '../../lib/data/write/batch-writer';
import { RecordResolver } from '../../lib/dns';
import { LocalFleet } from '../../lib/infra/local-fleet';
import { DATA_IO, make, type CopyProgressData, type IoHost } from '../../lib/io';
import { releaseIdFromSha } from '../../lib/manifest/table-manifest';
import type { ReleaseDefinition } from '../../lib/config/definition';
import { ReleaseEngine } from '../../lib/release/engine';
import { promoteVerb } from '../../lib/release/promote-verb';
import { rollbackVerb } from '../../lib/release/rollback-verb';
import { releaseVerb } from '../../lib/release/release-verb';
import type { VerbResult } from '../../lib/release/verb-result';
import { readSyncStatus } from '../../lib/ledger/sync-status';
import { isSyncAlive } from '../../lib/release/sync-launcher';
import { teardownVerb } from '../../lib/release/teardown-verb';
import { generateV1Products, productId } from './data';
import { createReleaseRepo } from './release-repo';
import { percentile, startLagProbe, type LagProbe, type LagProbeTarget } from './lag-probe';
import { checkAcknowledgedWrites, startTraffic, type LostWrite, type TrafficHandle, type TrafficReport } from './traffic';

export const DEMO_IO = {
  DEMO_I9100: make<{ phase: string }>('info')('DEMO_I9100', 'a phase of the demo started'),
  DEMO_I9101: make<{ phase: string; seconds: number }>('info')('DEMO_I9101', 'a phase of the demo ended'),
  DEMO_I9103: make<{ ceilingItemsPerSec: number; estimatedSeconds: number; products: number }>('info')('DEMO_I9103', "the emulator's ceiling on this machine, and the run's estimate from it"),
  DEMO_I9102: make<{ requests: number; failedRequests: number; acknowledgedWrites: number; lagMs: number | null }>('info')('DEMO_I9102', 'what the traffic has seen so far'),
} as const;

export interface CatalogDemoProps {
  readonly ioHost: IoHost;
  readonly definition: ReleaseDefinition;
  /** Local AWS state directory (fleet records, artifacts, logs). */
  readonly stateDir: string;
  /** Products in production (each is one item per channel: 3 items). @default 300000 */
  readonly products?: number;
  /** Traffic: requests per second through the public record. @default 40 */
  readonly ratePerSec?: number;
  /** Seeded products the traffic reads and updates (fewer: each is written more often). @default min(products, 5000) */
  readonly trafficProducts?: number;
  /** Share of the traffic's requests that are writes. @default 0.3 */
  readonly writeFraction?: number;
  /** Whether clients send If-Match (traffic.ts). @default true */
  readonly conditionalWrites?: boolean;
  /** Promote v2 in these weighted steps (two writers while traffic moves). @default [100]: one fenced step */
  readonly promoteSteps?: readonly number[];
  /** Rollbacks, each followed by a promote again, after the first promote. @default 1 */
  readonly cycles?: number;
  /**
   * Clients writing each product: 1 (a user edits their own things), or 2, each with its own DNS
   * cache, so that around a flip one can write on each stack. @default 1
   */
  readonly writersPerProduct?: 1 | 2;
  /** Rollback and the one-step promote move writes with a fenced cut-over. @default true */
  readonly fence?: boolean;
  /**
   * Called with a sample of the run every second (the report's plot), from the first phase (t = 0)
   * to the last. @default - none
   */
  readonly onSample?: (s: DemoSample) => void;
}

/**
 * The run at one second. Counts are cumulative; a figure is null where it has no value at that
 * time: requests before the traffic starts, lag while no synced pair is probed.
 */
export interface DemoSample {
  /** Whole seconds since the first phase started. */
  readonly t: number;
  readonly phase: string;
  /** Requests through the public record so far; null before the traffic starts. */
  readonly requests: number | null;
  /** Of those, failed; null before the traffic starts. */
  readonly failedRequests: number | null;
  /** The largest client-seen replication lag probed since the previous sample (held a few seconds); null when none is probed. */
  readonly lagMs: number | null;
  /** Items the release copies have read so far (all tables). */
  readonly copiedItems: number;
}

/** How the demo's traffic was set up (the report's header). */
export interface DemoTrafficSettings {
  readonly ratePerSec: number;
  readonly writeFraction: number;
  /** Seeded products the traffic reads and updates. */
  readonly hotProducts: number;
  /** Whether clients sent If-Match. */
  readonly conditionalWrites: boolean;
  readonly promoteSteps: readonly number[];
  /** Rollback + promote again cycles after the first promote. */
  readonly cycles: number;
  readonly writersPerProduct: 1 | 2;
  /** Whether one-step promotes and rollbacks were fenced. */
  readonly fence: boolean;
}

export interface DemoReport {
  readonly items: number;
  readonly products: number;
  readonly requests: number;
  readonly failedRequests: number;
  readonly acknowledgedWrites: number;
  readonly lostWrites: number;
  /** Of the lost writes: deletes undone (a product deleted by its last acknowledged write, alive at the end). */
  readonly resurrected: number;
  /** The longest a client's write was held by a write fence before it was made. */
  readonly maxWritePauseMs: number;
  /** The 99th percentile of the fence's holds, over the writes it held. */
  readonly writePauseP99Ms: number;
  /** Acknowledged writes a fence held, and writes a stack redirected to the one taking writes. */
  readonly fencedWrites: number;
  readonly redirectedWrites: number;
  /** Each fenced cut-over's write pause as the engine measured it (hold on the old stack → redirect), in run order. */
  readonly cutOverPausesMs: readonly number[];
  /** Acknowledged writes that met a stack behind their client's last write and waited for the sync (If-Match). */
  readonly heldWrites: number;
  readonly heldMaxMs: number;
  readonly copyItemsPerSec: number;
  readonly lagP50Ms: number;
  /** End-to-end replication lag (lag-probe.ts), p99 over the run. */
  readonly lagP99Ms: number;
  readonly lagSamples: number;
  readonly lagProbeTimeouts: number;
  readonly lagProbeFailedWrites: number;
  readonly phases: Readonly<Record<string, number>>;
  readonly traffic: TrafficReport;
  readonly failures: TrafficReport['failures'];
  readonly lost: readonly LostWrite[];
  readonly releases: { readonly v1: string; readonly v2: string };
  /** The commits the two releases were built from. */
  readonly shas: { readonly v1: string; readonly v2: string };
  /** When the first phase started (ISO 8601): t = 0 of the samples. */
  readonly startedAt: string;
  readonly settings: DemoTrafficSettings;
  /** The scratch repository the releases were built from (what `status --repo` needs). */
  readonly repoDir: string;
}

/** The demo's phases, in order ("phase n of m"). */
const PHASES = ['release v1', 'seed', 'promote v1', 'release v2', 'promote v2', 'rollback', 'promote v2 again', 'teardown v1', 'stop traffic', 'check writes'];
const TRAFFIC_LINE_EVERY_S = 10;
/** A lag probed this many seconds ago still stands for now; older, the sample has none. */
const LAG_HOLD_S = 5;

export async function runCatalogDemo(props: CatalogDemoProps): Promise<DemoReport> {
  // The copy's progress messages, counted on their way to the caller's host: the plot's copy rate.
  const copied = new Map<string, number>();
  const io: IoHost = {
    notify: (msg) => {
      if (msg.code === DATA_IO.COPY_I2001.code) {
        const d = msg.data as CopyProgressData;
        copied.set(d.jobId, d.itemsRead);
      }
      props.ioHost.notify(msg);
    },
  };
  const products = props.products ?? 300_000;
  const phases: Record<string, number> = {};
  let phase = 'setup';
  const sampling = startSampling(io, copied, () => phase, props.onSample);
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    phase = name;
    const t0 = Date.now();
    const n = PHASES.indexOf(name) + 1;
    DEMO_IO.DEMO_I9100.emit(io, `── phase ${n} of ${PHASES.length}: ${name}`, { phase: name });
    // t = 0 of the plot: the first phase
    sampling.start();
    try {
      return await fn();
    } catch (e) {
      sampling.stop();
      throw e;
    } finally {
      phases[name] = Math.round((Date.now() - t0) / 100) / 10;
      DEMO_IO.DEMO_I9101.emit(io, `── ${name}: ${phases[name]} s`, { phase: name, seconds: phases[name] });
    }
  };

  const repo = createReleaseRepo({ parentDir: path.join(props.stateDir, 'demo') });
  const engine = new ReleaseEngine({ ioHost: io, definition: props.definition, repoDir: repo.dir, stateDir: props.stateDir });
  const v1 = await timed('release v1', () => releaseVerb(engine, { sha: repo.v1 }));

  // Seeded before v1's tables get their streams (at promote): the bulk load is not a change to sync.
  await timed('seed', async () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
    const writer = new BatchWriter({ client: doc, concurrency: 16 });
    await writeAll(writer, engine.tableName(v1.releaseId, 'products'), generateV1Products({ products }), { partitionKey: 'pk', sortKey: 'sk' });
  });
  await timed('promote v1', () => promoteVerb(engine, { releaseId: v1.releaseId }));

  const edge = (await engine.edge())!;
  const fleet = new LocalFleet({ stateDir: props.stateDir });
  // Clients as DNS clients are: each keeps its answer for the record's TTL, so one client talks to
  // one release at a time and moves at its own TTL boundary. A product belongs to one client (a
  // user edits their own things), so its writes follow one client's view of the flip.
  // With two writers per product, a second set of clients with caches of their own: around a flip,
  // one of a product's writers can still be on the old stack while the other is on the new one.
  const newClients = () =>
    Array.from({ length: 16 }, () => new RecordResolver({ hostedZoneId: edge.hostedZoneId, recordName: edge.recordName, endpointOf: (dns) => fleet.endpointOf(dns), cacheAnswer: true }));
  const writers = props.writersPerProduct ?? 1;
  const pools = writers === 2 ? [newClients(), newClients()] : [newClients()];
  let turn = 0;
  const clientOf = (id: string) => {
    const pool = pools[turn++ % pools.length];
    return pool[[...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % pool.length];
  };
  const resolver = pools[0][0];
  const fence = props.fence ?? true;
  const hot = Math.min(products, props.trafficProducts ?? 5000);
  const settings: DemoTrafficSettings = {
    ratePerSec: props.ratePerSec ?? 40,
    writeFraction: props.writeFraction ?? 0.3,
    hotProducts: hot,
    conditionalWrites: props.conditionalWrites ?? true,
    promoteSteps: props.promoteSteps ?? [100],
    cycles: props.cycles ?? 1,
    writersPerProduct: writers,
    fence,
  };
  const traffic = startTraffic({
    resolve: (id) => clientOf(id).resolve(),
    ratePerSec: settings.ratePerSec,
    writeFraction: settings.writeFraction,
    conditionalWrites: settings.conditionalWrites,
    // Writes honour the write fence: held ones are sent again when it says, redirected ones followed.
    resolveName: (dns) => fleet.endpointOf(dns),
    productIds: Array.from({ length: hot }, (_, i) => productId(Math.floor((i * products) / hot))),
    newIdPrefix: 'demo-',
  });
  sampling.traffic = traffic;
  const v2Id = releaseIdFromSha(repo.v2);
  const probe = startLagProbe({ target: () => probeTarget(engine, fleet, v1.releaseId, v2Id) });
  sampling.probe = probe;

  let v2Release: VerbResult | undefined;
  let report: TrafficReport;
  const cutOverPausesMs: number[] = [];
  try {
    v2Release = await timed('release v2', () => releaseVerb(engine, { sha: repo.v2 }));
    const first = await timed('promote v2', () => promoteVerb(engine, { releaseId: v2Release!.releaseId, steps: settings.promoteSteps, intervalMs: 3000, fence }));
    if (first.record.checkpoints.cutOver) cutOverPausesMs.push(first.record.checkpoints.cutOver.writePauseMs);
    for (let cycle = 1; cycle <= settings.cycles; cycle++) {
      const suffix = settings.cycles > 1 ? ` ${cycle}` : '';
      const rolledBack = await timed(`rollback${suffix}`, () => rollbackVerb(engine, { fence }));
      if (rolledBack.record.checkpoints.rollbackCutOver) cutOverPausesMs.push(rolledBack.record.checkpoints.rollbackCutOver.writePauseMs);
      const again = await timed(`promote v2 again${suffix}`, () => promoteVerb(engine, { releaseId: v2Release!.releaseId, fence }));
      if (again.record.checkpoints.cutOver) cutOverPausesMs.push(again.record.checkpoints.cutOver.writePauseMs);
    }
    await timed('teardown v1', () => teardownVerb(engine, { releaseId: v1.releaseId, force: true }));
  } finally {
    report = await timed('stop traffic', async () => {
      await probe.stop();
      return traffic.stop();
    });
  }
  const lost = await timed('check writes', async () => {
    const live = await resolver.resolve();
    return checkAcknowledgedWrites({ lastAcked: traffic.lastAcked, unacknowledged: traffic.unacknowledged, baseUrl: `http://${live.host}:${live.port}` });
  });
  // the last sample: the plot's phases reach the end of the run
  sampling.stop();
  const copy = v2Release!.record.checkpoints.copy;
  return {
    items: products * 3,
    products,
    requests: report.requests,
    failedRequests: report.failedRequests,
    acknowledgedWrites: report.acknowledgedWrites,
    lostWrites: lost.lost.length,
    resurrected: lost.resurrected.length,
    maxWritePauseMs: Math.round(report.maxWritePauseMs),
    writePauseP99Ms: Math.round(report.writePauseP99Ms),
    fencedWrites: report.fencedWrites,
    redirectedWrites: report.redirectedWrites,
    cutOverPausesMs,
    heldWrites: report.heldWrites,
    heldMaxMs: report.heldMaxMs,
    copyItemsPerSec: copy?.itemsPerSec ?? 0,
    lagP50Ms: percentile(probe.samples, 50),
    lagP99Ms: percentile(probe.samples, 99),
    lagSamples: probe.samples.length,
    lagProbeTimeouts: probe.timeouts,
    lagProbeFailedWrites: probe.failedWrites,
    phases,
    traffic: report,
    failures: report.failures,
    lost: lost.lost.slice(0, 20),
    releases: { v1: v1.releaseId, v2: v2Release!.releaseId },
    shas: { v1: repo.v1, v2: repo.v2 },
    startedAt: new Date(sampling.startedAtMs ?? Date.now()).toISOString(),
    settings,
    repoDir: repo.dir,
  };
}

interface Sampling {
  /** Set once the traffic starts: before, samples have no requests. */
  traffic?: TrafficHandle;
  /** Set once the lag probe starts: before, samples have no lag. */
  probe?: LagProbe;
  readonly startedAtMs: number | undefined;
  /** Takes the sample at t = 0 and one every second after (idempotent). */
  start(): void;
  /** Takes a last sample and stops (idempotent). */
  stop(): void;
}

/**
 * The run, sampled once a second from the first phase to the end: the traffic's counts (null until
 * it starts), the copies' items read, and the latest client-seen lag (null while nothing is probed).
 */
function startSampling(io: IoHost, copied: ReadonlyMap<string, number>, phaseNow: () => string, onSample: ((s: DemoSample) => void) | undefined): Sampling {
  let t0: number | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  let lastT = -1;
  let probesSeen = 0;
  let lag: { ms: number; t: number } | undefined;
  let lineRequests: number | undefined;
  const sampling: Sampling = {
    get startedAtMs() {
      return t0;
    },
    start() {
      if (t0 !== undefined || stopped) return;
      t0 = Date.now();
      sample();
      timer = setInterval(sample, 1000);
      // a run that throws must not be kept alive by its sampler
      timer.unref();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (t0 !== undefined) sample();
    },
  };
  function sample(): void {
    const t = Math.round((Date.now() - t0!) / 1000);
    if (t <= lastT) return;
    lastT = t;
    const r = sampling.traffic?.report();
    const probed = sampling.probe?.samples ?? [];
    if (probed.length > probesSeen) {
      lag = { ms: Math.max(...probed.slice(probesSeen)), t };
      probesSeen = probed.length;
    }
    const lagMs = lag && t - lag.t <= LAG_HOLD_S ? lag.ms : null;
    const copiedItems = [...copied.values()].reduce((a, b) => a + b, 0);
    onSample?.({ t, phase: phaseNow(), requests: r?.requests ?? null, failedRequests: r?.failedRequests ?? null, lagMs, copiedItems });
    // what a person watching wants to know while the verbs run: is anything failing? (not again once it stopped)
    if (r && t > 0 && t % TRAFFIC_LINE_EVERY_S === 0 && r.requests !== lineRequests) {
      lineRequests = r.requests;
      DEMO_IO.DEMO_I9102.emit(io, `   traffic: ${r.requests} requests, ${r.failedRequests} failed, ${r.acknowledgedWrites} writes acknowledged${lagMs !== null ? `; sync lag ${lagMs} ms` : ''}`, {
        requests: r.requests,
        failedRequests: r.failedRequests,
        acknowledgedWrites: r.acknowledgedWrites,
        lagMs,
      });
    }
  }
  return sampling;
}

const caughtUpOnce = new Set<string>();

/** The live release and its synced peer (forward before the flip, reverse after), if any. */
async function probeTarget(engine: ReleaseEngine, fleet: LocalFleet, a: string, b: string): Promise<LagProbeTarget | undefined> {
  const { live } = await engine.store.appState();
  if (live !== a && live !== b) return undefined;
  const peer = live === a ? b : a;
  const now = engine.clock();
  // A sync is probed once it first caught up: before that it is replaying the changes made since
  // the copy began (the catch-up, which the copy phase's figures cover), not following live writes.
  const running = async (direction: 'forward' | 'reverse') => {
    const key = `${direction}:${live}>${peer}`;
    const status = await readSyncStatus(engine.ledger, { direction, sourceReleaseId: live, targetReleaseId: peer });
    if (!status || !isSyncAlive(status, now)) return false;
    if (status.caughtUp) caughtUpOnce.add(key);
    return caughtUpOnce.has(key);
  };
  if (!(await running('forward')) && !(await running('reverse'))) return undefined;
  const url = (releaseId: string) => {
    const m = fleet.list().find((x) => x.releaseId === releaseId && x.running);
    return m ? `http://${m.host}:${m.port}` : undefined;
  };
  const liveUrl = url(live);
  const peerUrl = url(peer);
  return liveUrl && peerUrl ? { liveUrl, peerUrl } : undefined;
}
