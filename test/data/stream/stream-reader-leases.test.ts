/**
 * Several readers of one sync splitting a simulated multi-shard stream by shard leases (DynamoDB
 * Local has one shard per table and never splits it: see stream-reader-lineage.test.ts). Leases
 * and checkpoints are real, in DynamoDB Local.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShardLeaseKeeper } from '../../../lib/data/stream/shard-lease-keeper';
import { StreamReader, type StreamRunResult } from '../../../lib/data/stream/stream-reader';
import type { StreamRecordBatch } from '../../../lib/data/stream/stream-records';
import { ReleaseError } from '../../../lib/errors';
import { DATA_IO, RecordingIoHost } from '../../../lib/io';
import { createLedgerClient, Ledger, ShardCheckpoints, ShardLeases } from '../../../lib/ledger';
import { ManualClock } from '../../ledger/ledger-fixture';
import { FakeStream } from './fake-stream';
import { streamFixture, type StreamFixture } from './stream-fixture';

let fx: StreamFixture;
let counter = 0;

beforeAll(async () => {
  fx = await streamFixture('stream-leases');
});
afterAll(() => fx.dispose());

const LEASE_MS = 900;

/** One apply of one batch by one worker. */
interface Applied {
  readonly worker: string;
  readonly shardId: string;
  readonly keys: readonly string[];
  readonly start: number;
  readonly end: number;
}

interface Worker {
  readonly name: string;
  readonly io: RecordingIoHost;
  readonly reader: StreamReader;
  run(options?: { signal?: AbortSignal; stopWhenCaughtUp?: boolean }): Promise<StreamRunResult>;
}

/** A shared reader named `name` on `syncId`, logging its applies into `log` (each takes `applyMs`). */
function worker(name: string, stream: FakeStream, syncId: string, log: Applied[], options: { ledger?: Ledger; applyMs?: number; inFlight?: number } = {}): Worker {
  const ledger = options.ledger ?? fx.ledger.ledger();
  const io = new RecordingIoHost();
  const reader = new StreamReader({
    ioHost: io,
    streamArn: stream.streamArn,
    checkpoints: new ShardCheckpoints(ledger, syncId),
    client: stream.client,
    batchLimit: 4,
    pollIntervalMs: 5,
    discoveryIntervalMs: 50,
    maxBatchesInFlight: options.inFlight ?? 1,
    leases: new ShardLeaseKeeper({ ioHost: io, leases: new ShardLeases(ledger, syncId), owner: name, leaseMs: LEASE_MS }),
  });
  const apply = async (b: StreamRecordBatch) => {
    const start = performance.now();
    await sleep(options.applyMs ?? 10);
    log.push({ worker: name, shardId: b.shardId, keys: b.records.map((r) => r.keys.pk as string), start, end: performance.now() });
  };
  return { name, io, reader, run: (o = {}) => reader.run(apply, o) };
}

const keysOf = (log: readonly Applied[]) => log.flatMap((a) => a.keys);
const newSyncId = () => `leases-${++counter}-${Date.now()}`;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('StreamReader with shard leases', () => {
  it('two readers split the shards: every record applied once, one reader per shard at a time, children after parents', async () => {
    // GIVEN a stream with three lineages, children listed before parents
    //   P (closed) ─┬─ C1 (closed) ── G     Q (open)     S (closed) ── S1
    //               └─ C2
    const stream = new FakeStream([
      { shardId: 'C1', parentShardId: 'P', records: 12, closed: true },
      { shardId: 'G', parentShardId: 'C1', records: 8 },
      { shardId: 'C2', parentShardId: 'P', records: 16 },
      { shardId: 'P', records: 30, closed: true },
      { shardId: 'Q', records: 30 },
      { shardId: 'S', records: 20, closed: true },
      { shardId: 'S1', parentShardId: 'S', records: 10 },
    ]);
    const syncId = newSyncId();
    const log: Applied[] = [];
    const [a, b] = [worker('A', stream, syncId, log), worker('B', stream, syncId, log)];

    // WHEN both read the sync until caught up
    const results = await Promise.all([a.run({ stopWhenCaughtUp: true }), b.run({ stopWhenCaughtUp: true })]);

    // THEN every record was applied exactly once, each shard in its order
    const shards = ['P', 'C1', 'C2', 'G', 'Q', 'S', 'S1'];
    expect([...keysOf(log)].sort()).toEqual(shards.flatMap((s) => stream.keysOf(s)).sort());
    for (const s of shards) expect(keysOf(log.filter((x) => x.shardId === s))).toEqual(stream.keysOf(s));
    expect(results.reduce((n, r) => n + r.recordsApplied, 0)).toBe(126);

    // AND both readers worked, never on one shard at the same time
    expect(new Set(log.map((x) => x.worker))).toEqual(new Set(['A', 'B']));
    for (const s of shards) {
      const batches = log.filter((x) => x.shardId === s);
      for (const x of batches) for (const y of batches) if (x.worker !== y.worker) expect(x.end <= y.start || y.end <= x.start, `${s}: ${x.worker} and ${y.worker} at once`).toBe(true);
    }

    // AND a child's first batch started after its parent's last batch ended, whoever read the parent
    const first = (s: string) => Math.min(...log.filter((x) => x.shardId === s).map((x) => x.start));
    const last = (s: string) => Math.max(...log.filter((x) => x.shardId === s).map((x) => x.end));
    for (const [child, parent] of [['C1', 'P'], ['C2', 'P'], ['G', 'C1'], ['S1', 'S']]) expect(first(child!)).toBeGreaterThan(last(parent!));

    // AND no lease is left behind
    expect((await fx.checkpoints(syncId).list()).filter((c) => c.owner !== undefined)).toEqual([]);
  });

  it('hands shards over to a reader that joins: each new record is applied once, by the holder of its shard', async () => {
    // GIVEN reader A alone on four open shards, caught up
    const stream = new FakeStream(['W', 'X', 'Y', 'Z'].map((shardId) => ({ shardId, records: 5 })));
    const syncId = newSyncId();
    const log: Applied[] = [];
    const [a, b] = [worker('A', stream, syncId, log), worker('B', stream, syncId, log)];
    const stop = new AbortController();
    const runningA = a.run({ signal: stop.signal });
    await until('A applied the first records', () => keysOf(log).length === 20);
    const checkpoints = fx.checkpoints(syncId);
    const owners = async () => (await checkpoints.list()).map((c) => c.owner);

    // WHEN B joins
    const runningB = b.run({ signal: stop.signal });

    // THEN A hands two shards over, and B holds them
    await until('B holds two shards', async () => (await owners()).filter((o) => o === 'B').length === 2);
    expect((await owners()).filter((o) => o === 'A')).toHaveLength(2);
    expect(a.io.withCode<{ reason: string }>(DATA_IO.STREAM_I5009.code).map((m) => m.data?.reason)).toEqual(['handed over', 'handed over']);

    // WHEN new records arrive in every shard
    const held = new Map((await checkpoints.list()).map((c) => [c.shardId, c.owner]));
    for (const s of ['W', 'X', 'Y', 'Z']) stream.append(s, 6);
    await until('the new records were applied', () => keysOf(log).length === 44);
    stop.abort();
    await Promise.all([runningA, runningB]);

    // THEN each was applied once, by the worker holding its shard
    expect([...keysOf(log)].sort()).toEqual(['W', 'X', 'Y', 'Z'].flatMap((s) => stream.keysOf(s)).sort());
    const late = log.filter((x) => x.keys.some((k) => Number(k.split('#')[1]) >= 5));
    for (const x of late) expect(x.worker).toBe(held.get(x.shardId));
    expect(new Set(late.map((x) => x.worker))).toEqual(new Set(['A', 'B']));
  });

  it('takes the shards of a reader that crashed over once its leases expired, and loses no record', async () => {
    // GIVEN readers A and B sharing a stream; A's ledger calls can be made to fail (a crash: it
    // can neither checkpoint nor give its leases up)
    const stream = new FakeStream([
      { shardId: 'C', parentShardId: 'P', records: 20 },
      { shardId: 'P', records: 40, closed: true },
      { shardId: 'Q', records: 40 },
      { shardId: 'R', records: 40 },
    ]);
    const syncId = newSyncId();
    const log: Applied[] = [];
    let broken = false;
    const base = new DynamoDBClient({});
    base.middlewareStack.add(
      (next) => async (args) => {
        if (broken) throw Object.assign(new Error('injected: the ledger is unreachable for A'), { name: 'InjectedOutage' });
        return next(args);
      },
      { step: 'initialize', name: 'ledgerOutage' },
    );
    const ledgerA = new Ledger({ tableName: fx.ledger.tableName, client: createLedgerClient(base) });
    const a = worker('A', stream, syncId, log, { ledger: ledgerA, applyMs: 20 });
    const b = worker('B', stream, syncId, log, { applyMs: 20 });

    // WHEN both run, and A's ledger fails once A applied a few batches
    const runningA = a.run({ stopWhenCaughtUp: true }).catch((e: unknown) => e);
    const runningB = b.run({ stopWhenCaughtUp: true });
    await until('A applied batches', () => log.filter((x) => x.worker === 'A').length >= 3);
    broken = true;
    const crashedAt = Date.now();
    const crash = await runningA;
    const result = await runningB;

    // THEN A failed with the outage, B took A's shards over after the leases expired and read to the end
    expect((crash as Error).name).toBe('InjectedOutage');
    expect(result.stoppedBy).toBe('caught-up');
    const takeovers = b.io.withCode<{ takeover: boolean; previousOwner?: string }>(DATA_IO.STREAM_I5008.code).filter((m) => m.data?.takeover);
    expect(takeovers.length).toBeGreaterThan(0);
    expect(takeovers.every((m) => m.data?.previousOwner === 'A')).toBe(true);
    const firstTakeover = Math.min(...takeovers.map((m) => m.time.getTime()));
    expect(firstTakeover - crashedAt).toBeGreaterThanOrEqual(LEASE_MS / 2); // not before A's lease ran out (A renewed up to a third of a lease before)

    // AND every record was applied; only A's last unconfirmed batches were applied twice, each by B after A
    const all = ['P', 'C', 'Q', 'R'];
    expect(new Set(keysOf(log))).toEqual(new Set(all.flatMap((s) => stream.keysOf(s))));
    for (const s of all) {
      // At most A's last batch of the shard, unconfirmed when it crashed, is applied again.
      const applied = keysOf(log.filter((x) => x.shardId === s));
      expect(applied.length - new Set(applied).size).toBeLessThanOrEqual(4);
      // The shard's records, as finally applied (a re-delivery replaces the first apply), in order.
      const lastTimes = new Map<string, number>();
      for (const x of log.filter((y) => y.shardId === s)) for (const k of x.keys) lastTimes.set(k, x.end);
      expect([...lastTimes.entries()].sort((p, q) => p[1] - q[1] || stream.keysOf(s).indexOf(p[0]) - stream.keysOf(s).indexOf(q[0])).map(([k]) => k)).toEqual(stream.keysOf(s));
    }
    const cps = await fx.checkpoints(syncId).list();
    expect(cps.filter((c) => c.owner === 'A')).toEqual([]);
    expect(cps.reduce((n, c) => n + c.takeovers, 0)).toBeGreaterThan(0);
  });

  it('reads a shard again that it lost while batches of it were still applying', async () => {
    // GIVEN a reader alone on one shard, with batches applying four at a time (as a table sync does),
    // whose lease looks stale once (a heartbeat late on a busy machine) just as it reads a batch
    // while earlier ones are still applying
    const stream = new FakeStream([{ shardId: 'W', records: 24 }]);
    const syncId = newSyncId();
    const log: Applied[] = [];
    const a = worker('A', stream, syncId, log, { applyMs: 1500, inFlight: 4 });
    const keeper = (a.reader as unknown as { leases: ShardLeaseKeeper }).leases;
    const holds = keeper.holds.bind(keeper);
    let asked = 0;
    keeper.holds = (shardId) => ++asked !== 2 && holds(shardId);

    // WHEN it reads until caught up (given up after 30 s: it used to hang)
    const stop = new AbortController();
    const deadline = setTimeout(() => stop.abort(), 30_000);
    const result = await a.run({ stopWhenCaughtUp: true, signal: stop.signal });
    clearTimeout(deadline);

    // THEN it dropped the shard, took it again (the lease round came while the old read was still
    // applying its batches), and read it to the end, each record once: it used to count the old
    // read, winding down, as its reader, and so held and renewed a shard that no one read
    expect(a.io.withCode(DATA_IO.STREAM_W5010.code)).toHaveLength(1);
    expect(result.stoppedBy).toBe('caught-up');
    expect([...keysOf(log)].sort()).toEqual(stream.keysOf('W').sort());
    expect(new Set(keysOf(log)).size).toBe(keysOf(log).length);
  });

  it('refuses to read a shared sync without leases', async () => {
    // GIVEN a sync whose shard a worker holds under a live lease
    const stream = new FakeStream([{ shardId: 'W', records: 2 }]);
    const syncId = newSyncId();
    await new ShardLeases(fx.ledger.ledger(), syncId).claim('W', 'someone', 60_000, undefined);

    // WHEN a reader without leases starts THEN it refuses with a coded user error
    const reader = new StreamReader({ ioHost: new RecordingIoHost(), streamArn: stream.streamArn, checkpoints: fx.checkpoints(syncId), client: stream.client });
    const err = await reader.run(async () => undefined, { stopWhenCaughtUp: true }).catch((e: unknown) => e);
    expect(ReleaseError.isReleaseError(err) && err.code).toBe('SYNC_SHARED');
    expect(ReleaseError.isReleaseError(err) && err.source).toBe('user');
  });

  it('stops trusting a lease that was not renewed for half its length', async () => {
    // GIVEN a keeper that claimed a shard, on a clock that only moves by hand
    const clock = new ManualClock();
    const ledger = fx.ledger.ledger(clock.now);
    const syncId = newSyncId();
    const keeper = new ShardLeaseKeeper({ ioHost: new RecordingIoHost(), leases: new ShardLeases(ledger, syncId), owner: 'A', leaseMs: 10_000, clock: clock.now });
    const round = await keeper.round([], [{ shardId: 'W' }]);
    expect(round.claimed.map((c) => c.shardId)).toEqual(['W']);

    // THEN it holds the shard for half a lease without a heartbeat, not longer
    clock.advance(5_000);
    expect(keeper.holds('W')).toBe(true);
    clock.advance(1);
    expect(keeper.holds('W')).toBe(false);
  });
});
