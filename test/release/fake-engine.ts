/**
 * A ReleaseEngine for unit tests of the verbs' reconcile contract: an in-memory release store with
 * the real one's versioned writes (a stale write is a RECORD_CONFLICT; records go through JSON, so
 * an undefined field is dropped as the ledger client drops it), a clock the test moves, a recording
 * IoHost and a fake DNS record. Whatever else a verb touches is vi.mock-ed by the test.
 */
import { toolError } from '../../lib/errors';
import type { TrafficRouter, WeightedTarget } from '../../lib/dns';
import { RecordingIoHost } from '../../lib/io/recording-host';
import type { ReleaseEngine } from '../../lib/release/engine';
import { RECORD_CONFLICT, ReleaseStore, type AppState, type ReleaseRecord } from '../../lib/ledger/release-records';

const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

export class MemoryStore {
  public readonly records = new Map<string, ReleaseRecord>();
  public app: AppState = { live: null, previous: null, updatedAt: '', version: 0 };
  /** Every record written, in order. */
  public readonly writes: ReleaseRecord[] = [];

  public constructor(private readonly nowIso: () => string) {}

  public async get(releaseId: string): Promise<ReleaseRecord | undefined> {
    const r = this.records.get(releaseId);
    return r ? copy(r) : undefined;
  }

  /** The real store's refusal of an unknown release, over this store's get. */
  public require(releaseId: string): Promise<ReleaseRecord> {
    return ReleaseStore.prototype.require.call(this as unknown as ReleaseStore, releaseId);
  }

  public async put(next: ReleaseRecord): Promise<ReleaseRecord> {
    const stored = this.records.get(next.releaseId);
    if ((stored?.version ?? 0) !== next.version - 1) throw toolError(RECORD_CONFLICT, `release record ${next.releaseId}: version ${next.version - 1} expected, ${stored?.version ?? 0} stored`);
    this.records.set(next.releaseId, copy(next));
    this.writes.push(copy(next));
    return copy(next);
  }

  public async update(record: ReleaseRecord, change: (r: ReleaseRecord) => Partial<Omit<ReleaseRecord, 'version'>>): Promise<ReleaseRecord> {
    return this.put({ ...record, ...change(record), version: record.version + 1 });
  }

  public async list(): Promise<ReleaseRecord[]> {
    return [...this.records.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map(copy);
  }

  public async appState(): Promise<AppState> {
    return copy(this.app);
  }

  public async putAppState(current: AppState, change: Pick<AppState, 'live' | 'previous'>): Promise<AppState> {
    if (current.version !== this.app.version) throw toolError(RECORD_CONFLICT, 'app state changed');
    this.app = { ...change, updatedAt: this.nowIso(), version: current.version + 1 };
    return copy(this.app);
  }
}

/** The public record: weighted targets a TrafficRouter would read and write in Route 53. */
export class FakeDns {
  public targets: WeightedTarget[] = [];
  public readonly routes: WeightedTarget[][] = [];

  public router(): TrafficRouter {
    return {
      recordName: 'www.app.test',
      current: async () => this.targets.map((t) => ({ ...t })),
      route: async (targets: readonly WeightedTarget[]) => {
        this.routes.push(targets.map((t) => ({ ...t })));
        this.targets = targets.map((t) => ({ ...t }));
        return { changeId: `c${this.routes.length}` };
      },
    } as unknown as TrafficRouter;
  }
}

export interface FakeEngine extends ReleaseEngine {
  readonly store: MemoryStore & ReleaseEngine['store'];
  readonly io: RecordingIoHost;
  /** Moves the clock on. */
  tick(ms: number): void;
}

export interface FakeEngineOptions {
  readonly tables?: readonly string[];
  readonly lagGateMs?: number;
  /** Extra engine members (target, stackOutputs, …) a verb under test reads. */
  readonly extra?: Record<string, unknown>;
}

export function fakeEngine(options: FakeEngineOptions = {}): FakeEngine {
  let now = Date.parse('2030-01-01T00:00:00.000Z');
  const clock = () => now;
  const nowIso = () => new Date(now).toISOString();
  const tables = options.tables ?? ['products'];
  const engine = {
    app: 'app',
    io: new RecordingIoHost(),
    clock,
    nowIso,
    tick: (ms: number) => {
      now += ms;
    },
    store: new MemoryStore(nowIso),
    ledger: { tableName: 'app-ledger', client: { send: async () => ({}) }, now: clock, nowIso },
    stateDir: '/tmp/stackshift-fake',
    definition: {
      config: { app: 'app', recordTtlSeconds: 0, lagGateMs: options.lagGateMs ?? 1000, rollbackWindowMinutes: 60, writeDrainMs: 0 },
      tables: { tables: tables.map((name) => ({ name, partitionKey: { name: 'pk', type: 'S' } })) },
      migrations: { chainIsReversible: () => true },
    },
    requireEdge: async () => ({ hostedZoneId: 'Z1', recordName: 'www.app.test', ledgerTableName: 'app-ledger' }),
    edge: async () => ({ hostedZoneId: 'Z1', recordName: 'www.app.test', ledgerTableName: 'app-ledger' }),
    tableSpecs: () => tables.map((name) => ({ name, partitionKey: { name: 'pk', type: 'S' } })),
    tableName: (releaseId: string, logical: string) => `app-${releaseId}-${logical}`,
    stackName: (releaseId: string) => `app-${releaseId}`,
    albDnsName: (r: ReleaseRecord) => `alb-${r.releaseId}.local`,
    stackOutputs: async () => ({}),
    ...options.extra,
  };
  return engine as unknown as FakeEngine;
}

/** A release record as the release verb leaves it: Ready (stack, copy and gates recorded). */
export function readyRecord(releaseId: string, at: string, extra: Partial<ReleaseRecord['checkpoints']> = {}): ReleaseRecord {
  return {
    releaseId,
    app: 'app',
    sha: `${releaseId.replace(/^sha-/, '')}0000000000000000000000000000`,
    dataVersions: { products: 1 },
    createdAt: at,
    createdBy: 'dev@host',
    intent: { verb: 'release', by: 'dev@host', at },
    checkpoints: {
      stack: { stackName: `app-${releaseId}`, outputs: {} },
      gates: { ok: true, at, gates: [{ name: 'verify', ok: true, detail: 'products: verify found 0 differences' }, { name: 'lag', ok: true, detail: 'products: sync lag 0 ms, gate 1000 ms' }] },
      readyAt: at,
      ...extra,
    },
    steps: { 'release:ready': { startedAt: at, endedAt: at } },
    version: 1,
  };
}

/** A promise that never settles: a step awaiting it is where the process is "killed -9". */
export function never<T = never>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** Lets every pending callback and short timer run (a verb awaiting `never()` has then reached it). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setTimeout(r, 10));
}
