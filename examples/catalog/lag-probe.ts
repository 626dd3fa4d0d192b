/**
 * End-to-end replication lag as a client sees it: once a second, write a probe product through
 * the live release's app, then poll the other release's app until the write shows there.
 * lag = first seen on the peer − acknowledged by the live one. This measures the whole path
 * (stream, sync, migration, both apps) and needs no clock of the emulator: DynamoDB Local
 * truncates ApproximateCreationDateTime to the minute, so stream-record ages mean little locally.
 */
import { httpJson } from './http-client';

export interface LagProbeTarget {
  /** The live release's own endpoint (where the probe is written). */
  readonly liveUrl: string;
  /** The synced peer's endpoint (where the probe must appear). */
  readonly peerUrl: string;
}

export interface LagProbe {
  /** Lag samples in milliseconds, in the order taken. */
  readonly samples: readonly number[];
  /** Probes that did not appear on the peer within the timeout. */
  readonly timeouts: number;
  /** Probe writes that failed (not measured). */
  readonly failedWrites: number;
  stop(): Promise<void>;
}

export interface StartLagProbeOptions {
  /** The pair to probe now, or undefined while there is no synced peer. */
  readonly target: () => Promise<LagProbeTarget | undefined>;
  /** @default 1000 */
  readonly intervalMs?: number;
  /** A probe not seen on the peer after this counts as a timeout. @default 30000 */
  readonly timeoutMs?: number;
  /** Probe ids start with this (they are ordinary products of the catalog). @default 'lagprobe-' */
  readonly idPrefix?: string;
}

export function startLagProbe(options: StartLagProbeOptions): LagProbe {
  const samples: number[] = [];
  let timeouts = 0;
  let failedWrites = 0;
  let stopped = false;
  let n = 0;
  const interval = options.intervalMs ?? 1000;
  const timeout = options.timeoutMs ?? 30_000;
  const prefix = options.idPrefix ?? 'lagprobe-';

  const once = async (): Promise<void> => {
    const target = await options.target().catch(() => undefined);
    if (!target) return;
    const rev = ++n;
    const id = `${prefix}${rev % 20}`;
    const body = {
      title: `lag probe ${rev}`,
      artist: 'probe',
      format: 'CD',
      releaseYear: 2026,
      description: 'replication lag probe',
      channels: { US: { sku: `${id}-US`, price: rev, currency: 'USD', stock: 0, published: false } },
      rev,
    };
    // A probe is a measurement, not traffic: a write that fails or times out is counted and skipped
    // (the traffic generator is what counts failed requests).
    const put = await httpJson({ baseUrl: target.liveUrl, method: 'PUT', path: `/products/${id}`, body }).catch(() => undefined);
    if (put?.status !== 200) {
      failedWrites++;
      return;
    }
    const acked = Date.now();
    while (!stopped && Date.now() - acked < timeout) {
      const got = await httpJson({ baseUrl: target.peerUrl, method: 'GET', path: `/products/${id}` }).catch(() => undefined);
      const seenRev = (got?.json as { rev?: number } | undefined)?.rev;
      if (got?.status === 200 && seenRev !== undefined && seenRev >= rev) {
        samples.push(Date.now() - acked);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!stopped) timeouts++;
  };

  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await once().catch(() => failedWrites++);
      await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - started))));
    }
  })();

  return {
    samples,
    get timeouts() {
      return timeouts;
    },
    get failedWrites() {
      return failedWrites;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The p-th percentile (0..100) of samples, 0 when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
