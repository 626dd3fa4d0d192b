/**
 * Live traffic for the release demo: a bounded rate of reads and writes against the catalog through
 * whatever `resolve` says the public name points at (it honours the DNS TTL itself), while releases
 * are copied, promoted and rolled back underneath.
 *
 * The demo's proof has two parts:
 *   1. no request failed: every network error, timeout, 5xx and unexpected 4xx is counted, and
 *      nothing is retried (a retry would hide exactly the failure the demo must show);
 *   2. no acknowledged write was lost: writes to one product are serialized, so the last acknowledged
 *      write of each product is well defined, and `checkAcknowledgedWrites` reads every one back.
 * As careful HTTP clients do, an update or delete sends If-Match with the ETag of the product as the
 * client last saw it: across a flip, that is what keeps its writes in order (preconditions.ts).
 * Through a fenced cut-over (`resolveName` given), a write the load balancer holds is sent again
 * after the `retryAfterMs` it names, and one it redirects is sent to the new stack: the fence's
 * contract (http-client.ts), not a retry of a failure. Deleted products are created again now and
 * then, so a delete undone by a late record shows as a resurrection.
 */
import { generateV1Products, productId, seededRandom } from './data';
import { baseUrlOf, DEFAULT_REQUEST_TIMEOUT_MS, httpJson, httpJsonThroughFence, type HttpReply } from './http-client';
import { CHANNELS, productBodySchema, sameProduct, toProductBody, type ProductBody } from './product';
import { productFromV1Items } from './store-v1';

export interface TrafficTarget {
  readonly host: string;
  readonly port: number;
  /** Which release answered (for `byRelease`). @default - not counted by release */
  readonly releaseId?: string;
}

export interface TrafficOptions {
  /**
   * Where the next request about `productId` goes; called once per request. The demo gives each
   * product to one of several simulated clients, each with its own DNS cache.
   */
  readonly resolve: (productId: string) => Promise<TrafficTarget>;
  /** Requests started per second (open loop: slots missed by more than 250 ms are dropped, not bunched). @default 50 */
  readonly ratePerSec?: number;
  /** Share of requests that are writes (PUT or DELETE). @default 0.3 */
  readonly writeFraction?: number;
  /** Products that exist before the traffic starts: read and updated, never deleted. */
  readonly productIds: readonly string[];
  /** Prefix of the ids of products the traffic creates (and may delete), e.g. `traffic-1-`. */
  readonly newIdPrefix: string;
  /** Seed of the choice of operations and content. @default 1 */
  readonly seed?: number;
  /** A request not answered within this fails. @default 10_000 ms */
  readonly requestTimeoutMs?: number;
  /** At most this many requests in flight; a slot that finds them all busy is skipped (and counted). @default 200 */
  readonly maxInFlight?: number;
  /**
   * Send If-Match on updates and deletes. Off, writes are blind: what a client without preconditions
   * risks across a flip (the demo's `--no-if-match` measures it). @default true
   */
  readonly conditionalWrites?: boolean;
  /**
   * Where a load balancer DNS name in a redirect's Location is reached. Given, writes honour the
   * write fence (held: sent again after `retryAfterMs`; redirected: sent there). @default - a held
   * or redirected write fails
   */
  readonly resolveName?: (dnsName: string) => Promise<{ readonly host: string; readonly port: number }>;
}

/** The last acknowledged write of one product. */
export interface AcknowledgedWrite {
  readonly rev: number;
  readonly deleted: boolean;
  /** What was written (undefined once deleted). */
  readonly body?: ProductBody;
  /** The ETag the app answered the write with (undefined once deleted). */
  readonly etag?: string;
}

export interface FailedRequest {
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly error?: string;
  readonly releaseId?: string;
  /** ISO time the request was started. */
  readonly at: string;
}

export interface TrafficReport {
  readonly requests: number;
  readonly failedRequests: number;
  /** The first 20 failures. */
  readonly failures: readonly FailedRequest[];
  readonly reads: number;
  readonly writes: number;
  readonly acknowledgedWrites: number;
  /** Acknowledged writes whose stack did not yet hold the state their If-Match named, and waited for its sync. */
  readonly heldWrites: number;
  /** The longest such wait. */
  readonly heldMaxMs: number;
  /** Acknowledged writes that a write fence held at least once (503 WRITES_FENCED) before they were made. */
  readonly fencedWrites: number;
  /** The longest time a write was held by a fence, from its first held answer to its acknowledgement. */
  readonly maxWritePauseMs: number;
  /** The 99th percentile of those holds, over the writes a fence held. */
  readonly writePauseP99Ms: number;
  /** Acknowledged writes that a stack redirected to the one that takes writes. */
  readonly redirectedWrites: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Requests per release that answered, when `resolve` names releases. */
  readonly byRelease?: Readonly<Record<string, number>>;
  /** Slots skipped because `maxInFlight` requests were already in flight. */
  readonly skippedSlots: number;
  readonly seconds: number;
}

export interface TrafficHandle {
  /** Last acknowledged write per product id (live: it grows while the traffic runs). */
  readonly lastAcked: ReadonlyMap<string, AcknowledgedWrite>;
  /**
   * Writes that failed, so whether they took effect is unknown; their products get no further
   * writes. `checkAcknowledgedWrites` accepts either state for them.
   */
  readonly unacknowledged: ReadonlyMap<string, AcknowledgedWrite>;
  /** The figures so far, without stopping. */
  report(): TrafficReport;
  /** Stops starting requests, waits for those in flight, and reports. */
  stop(): Promise<TrafficReport>;
}

const MAX_FAILURES_KEPT = 20;
const MAX_BURST_MS = 250;
/** Of the writes: updates, creates, then deletes of created products. */
const UPDATE_SHARE = 0.6;
const CREATE_SHARE = 0.25;
/** Of the creates: a product deleted earlier, created again under its id. */
const RECREATE_SHARE = 0.3;

export function startTraffic(options: TrafficOptions): TrafficHandle {
  const run = new TrafficRun(options);
  const loop = run.loop();
  return {
    lastAcked: run.lastAcked,
    unacknowledged: run.unacknowledged,
    report: () => run.report(),
    stop: async () => {
      run.stopping = true;
      await loop;
      await Promise.all([...run.inFlight]);
      return run.report();
    },
  };
}

type Operation = () => Promise<void>;

class TrafficRun {
  public stopping = false;
  public readonly inFlight = new Set<Promise<void>>();
  public readonly lastAcked = new Map<string, AcknowledgedWrite>();
  public readonly unacknowledged = new Map<string, AcknowledgedWrite>();

  private readonly random: () => number;
  private readonly rate: number;
  private readonly writeFraction: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly seed: number;
  private readonly existing: ReadonlySet<string>;
  /** Products the traffic created and has not deleted (acknowledged). */
  private readonly created: string[] = [];
  /** Products the traffic deleted (acknowledged): reads of them expect 404. */
  private readonly deleted: string[] = [];
  /** Products with a write (or the read before a first update) in flight: one at a time per product. */
  private readonly busy = new Set<string>();
  private nextNew = 0;

  private requests = 0;
  private failed = 0;
  private readonly failures: FailedRequest[] = [];
  private reads = 0;
  private writes = 0;
  private acknowledged = 0;
  private held = 0;
  private heldMaxMs = 0;
  private fenced = 0;
  private maxPauseMs = 0;
  private readonly pauses: number[] = [];
  private redirected = 0;
  private skipped = 0;
  private readonly latencies: number[] = [];
  private readonly byRelease = new Map<string, number>();
  private readonly startedAt = Date.now();

  public constructor(private readonly options: TrafficOptions) {
    this.seed = options.seed ?? 1;
    this.existing = new Set(options.productIds);
    this.random = seededRandom(this.seed);
    this.rate = options.ratePerSec ?? 50;
    this.writeFraction = options.writeFraction ?? 0.3;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxInFlight = options.maxInFlight ?? 200;
    if (!(this.rate > 0)) throw new Error(`ratePerSec must be more than 0 (found: ${this.rate})`);
    if (!(this.writeFraction >= 0 && this.writeFraction <= 1)) throw new Error(`writeFraction must be from 0 to 1 (found: ${this.writeFraction})`);
    if (options.productIds.length === 0 && this.writeFraction < 1) {
      // Reads need something to read before the first create is acknowledged.
      throw new Error('productIds must name at least one existing product');
    }
  }

  /** Starts one operation per slot until stopped. */
  public async loop(): Promise<void> {
    const interval = 1000 / this.rate;
    let due = Date.now();
    while (!this.stopping) {
      const now = Date.now();
      if (now - due > MAX_BURST_MS) due = now; // fell behind: give up the missed slots instead of bursting
      if (due > now) await new Promise((r) => setTimeout(r, due - now));
      if (this.stopping) break;
      due += interval;
      if (this.inFlight.size >= this.maxInFlight) {
        this.skipped++;
        continue;
      }
      const op = this.nextOperation();
      const p = op().finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  public report(): TrafficReport {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      requests: this.requests,
      failedRequests: this.failed,
      failures: [...this.failures],
      reads: this.reads,
      writes: this.writes,
      acknowledgedWrites: this.acknowledged,
      heldWrites: this.held,
      heldMaxMs: this.heldMaxMs,
      fencedWrites: this.fenced,
      maxWritePauseMs: this.maxPauseMs,
      writePauseP99Ms: percentile([...this.pauses].sort((a, b) => a - b), 0.99),
      redirectedWrites: this.redirected,
      latencyP50Ms: percentile(sorted, 0.5),
      latencyP99Ms: percentile(sorted, 0.99),
      ...(this.byRelease.size > 0 ? { byRelease: Object.fromEntries([...this.byRelease].sort()) } : {}),
      skippedSlots: this.skipped,
      seconds: (Date.now() - this.startedAt) / 1000,
    };
  }

  /** Draws the next operation synchronously (the draw does not depend on how requests interleave). */
  private nextOperation(): Operation {
    if (this.random() >= this.writeFraction) return this.read();
    const kind = this.random();
    if (kind < UPDATE_SHARE) {
      const id = this.pickIdle([...this.options.productIds, ...this.created]);
      if (id !== undefined) return this.update(id);
    } else if (kind >= UPDATE_SHARE + CREATE_SHARE) {
      const id = this.pickIdle(this.created);
      if (id !== undefined) return this.remove(id);
    }
    return this.create();
  }

  /** A random product from `ids` with no write in flight and no write of unknown outcome, if any. */
  private pickIdle(ids: readonly string[]): string | undefined {
    if (ids.length === 0) return undefined;
    const start = Math.floor(this.random() * ids.length);
    for (let i = 0; i < Math.min(ids.length, 20); i++) {
      const id = ids[(start + i) % ids.length];
      if (!this.busy.has(id) && !this.unacknowledged.has(id)) return id;
    }
    return undefined;
  }

  private read(): Operation {
    const pool = [...this.options.productIds, ...this.created, ...this.deleted];
    const id = pool[Math.floor(this.random() * pool.length)];
    // Products this traffic created may be briefly absent from the stack that answers (a sync in
    // flight around a flip): 404 is fine for them, not for products that existed from the start.
    const ownProduct = !this.existing.has(id);
    return async () => {
      await this.send('GET', id, undefined, ownProduct ? [200, 404] : [200]);
    };
  }

  private update(id: string): Operation {
    this.busy.add(id);
    const channelDraw = this.random();
    const priceFactor = 0.8 + this.random() * 0.4;
    const retitle = this.random() < 0.3;
    return async () => {
      try {
        let current = this.lastAcked.get(id);
        if (!current) {
          // First write to a product that existed before the traffic: start from what it holds.
          const reply = await this.send('GET', id, undefined, [200]);
          const parsed = reply ? productBodySchema.safeParse(reply.json) : undefined;
          // A weak tag is a product part-way through a sync: not a state to write on top of.
          if (!parsed?.success || reply!.etag?.startsWith('W/')) return;
          const body = toProductBody(parsed.data);
          current = { rev: body.rev ?? 0, deleted: false, body, ...(reply!.etag !== undefined ? { etag: reply!.etag } : {}) };
        }
        const before = current.body!;
        const listed = CHANNELS.filter((ch) => before.channels[ch]);
        const channel = listed[Math.floor(channelDraw * listed.length)];
        const rev = current.rev + 1;
        const old = before.channels[channel]!;
        const body: ProductBody = {
          ...before,
          ...(retitle ? { title: `${before.title.replace(/ \(rev \d+\)$/, '')} (rev ${rev})` } : {}),
          channels: { ...before.channels, [channel]: { ...old, price: Math.max(1, Math.round(old.price * priceFactor)) } },
          rev,
        };
        await this.write('PUT', id, body, { rev, deleted: false, body }, current.etag);
      } finally {
        this.busy.delete(id);
      }
    };
  }

  private create(): Operation {
    const again = this.random() < RECREATE_SHARE ? this.pickIdle(this.deleted) : undefined;
    const n = again !== undefined ? Number(again.slice(this.options.newIdPrefix.length)) : this.nextNew++;
    const id = again ?? `${this.options.newIdPrefix}${productId(n)}`;
    this.busy.add(id);
    return async () => {
      try {
        const generated = productFromV1Items(id, [...generateV1Products({ products: 1, firstId: n, seed: this.seed })])!;
        const { title, artist, format, releaseYear, description, channels } = generated;
        // A product created again continues its revisions: its body differs from every earlier one.
        const rev = (this.lastAcked.get(id)?.rev ?? 0) + 1;
        const body: ProductBody = { title, artist, format, releaseYear, description, channels, rev };
        if (await this.write('PUT', id, body, { rev, deleted: false, body })) {
          if (again !== undefined) this.deleted.splice(this.deleted.indexOf(id), 1);
          this.created.push(id);
        }
      } finally {
        this.busy.delete(id);
      }
    };
  }

  private remove(id: string): Operation {
    this.busy.add(id);
    return async () => {
      try {
        const last = this.lastAcked.get(id);
        if (await this.write('DELETE', id, undefined, { rev: last?.rev ?? 0, deleted: true }, last?.etag)) {
          this.created.splice(this.created.indexOf(id), 1);
          this.deleted.push(id);
        }
      } finally {
        this.busy.delete(id);
      }
    };
  }

  /** One write (conditional on `ifMatch` when given); on acknowledgement it becomes the product's last acknowledged write. */
  private async write(method: 'PUT' | 'DELETE', id: string, body: ProductBody | undefined, outcome: AcknowledgedWrite, ifMatch?: string): Promise<boolean> {
    const condition = this.options.conditionalWrites === false ? undefined : ifMatch;
    const reply = await this.send(method, id, body, method === 'PUT' ? [200] : [204], condition);
    if (reply) {
      this.acknowledged++;
      if (reply.preconditionMs !== undefined && reply.preconditionMs > 0) {
        this.held++;
        this.heldMaxMs = Math.max(this.heldMaxMs, reply.preconditionMs);
      }
      if (reply.pausedMs > 0) {
        this.fenced++;
        this.maxPauseMs = Math.max(this.maxPauseMs, reply.pausedMs);
        this.pauses.push(reply.pausedMs);
      }
      if (reply.redirected) this.redirected++;
      this.lastAcked.set(id, reply.etag !== undefined ? { ...outcome, etag: reply.etag } : outcome);
      return true;
    }
    this.unacknowledged.set(id, outcome);
    return false;
  }

  /** Sends one request and accounts for it; undefined when it failed (already counted). */
  private async send(
    method: 'GET' | 'PUT' | 'DELETE',
    id: string,
    body: unknown,
    expected: readonly number[],
    ifMatch?: string,
  ): Promise<(HttpReply & { pausedMs: number; redirected: boolean }) | undefined> {
    const path = `/products/${id}`;
    const at = new Date().toISOString();
    this.requests++;
    if (method === 'GET') this.reads++;
    else this.writes++;
    let target: TrafficTarget;
    try {
      target = await this.options.resolve(id);
    } catch (err) {
      this.fail({ method, path, error: `resolve: ${(err as Error).message}`, at });
      return undefined;
    }
    if (target.releaseId !== undefined) this.byRelease.set(target.releaseId, (this.byRelease.get(target.releaseId) ?? 0) + 1);
    const started = performance.now();
    try {
      const request = { baseUrl: baseUrlOf(target), method, path, body, timeoutMs: this.timeoutMs, ...(ifMatch !== undefined ? { ifMatch } : {}) };
      const resolveName = this.options.resolveName;
      const reply =
        method !== 'GET' && resolveName
          ? await httpJsonThroughFence(request, { resolveName, deadlineMs: Date.now() + this.timeoutMs })
          : { ...(await httpJson(request)), pausedMs: 0, redirected: false };
      this.latencies.push(performance.now() - started);
      if (!expected.includes(reply.status)) {
        this.fail({ method, path, status: reply.status, error: errorOf(reply), releaseId: target.releaseId, at });
        return undefined;
      }
      return reply;
    } catch (err) {
      this.latencies.push(performance.now() - started);
      this.fail({ method, path, error: (err as Error).message, releaseId: target.releaseId, at });
      return undefined;
    }
  }

  private fail(failure: FailedRequest): void {
    this.failed++;
    if (this.failures.length < MAX_FAILURES_KEPT) this.failures.push(failure);
  }
}

export interface CheckAcknowledgedWritesOptions {
  readonly lastAcked: ReadonlyMap<string, AcknowledgedWrite>;
  /** The live app, e.g. `http://127.0.0.1:41234`. */
  readonly baseUrl: string;
  /** Failed writes whose outcome is unknown: either state is accepted for their products. @default none */
  readonly unacknowledged?: ReadonlyMap<string, AcknowledgedWrite>;
  /** Reads in flight at once. @default 8 */
  readonly concurrency?: number;
}

export interface LostWrite {
  readonly id: string;
  readonly expected: AcknowledgedWrite;
  /** What the app answered: the product, or `{ status }` when it did not answer 200. */
  readonly got: unknown;
}

export interface AcknowledgedWritesCheck {
  readonly checked: number;
  readonly lost: readonly LostWrite[];
  /** Of the lost: products whose last acknowledged write deleted them, found alive (a delete undone). */
  readonly resurrected: readonly string[];
}

/**
 * Reads back every product with an acknowledged write from the live app: a deleted one must be
 * 404, any other must hold exactly the last acknowledged body (rev and every field). Fails (throws)
 * when a read does not get an answer at all: that proves nothing either way.
 */
export async function checkAcknowledgedWrites(options: CheckAcknowledgedWritesOptions): Promise<AcknowledgedWritesCheck> {
  const ids = [...options.lastAcked.keys()];
  const lost: LostWrite[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      const expected = options.lastAcked.get(id)!;
      const reply = await httpJson({ baseUrl: options.baseUrl, method: 'GET', path: `/products/${id}` });
      const got = reply.status === 200 ? reply.json : { status: reply.status };
      const maybe = options.unacknowledged?.get(id);
      if (!holds(expected, reply) && !(maybe && holds(maybe, reply))) lost.push({ id, expected, got });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  const resurrected = lost.filter((l) => l.expected.deleted && (l.got as { status?: number }).status === undefined).map((l) => l.id);
  return { checked: ids.length, lost, resurrected };
}

function holds(write: AcknowledgedWrite, reply: HttpReply): boolean {
  if (write.deleted) return reply.status === 404;
  if (reply.status !== 200) return false;
  const parsed = productBodySchema.safeParse(reply.json);
  return parsed.success && sameProduct(toProductBody(parsed.data), write.body!);
}

function errorOf(reply: HttpReply): string | undefined {
  const json = reply.json as { error?: unknown } | undefined;
  return typeof json?.error === 'string' ? json.error : reply.text.slice(0, 200) || undefined;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)] * 10) / 10;
}
