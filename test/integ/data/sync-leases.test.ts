/**
 * One sync, several workers splitting its shards by leases (lib/ledger/shard-leases.ts), end to
 * end: real source and target tables, the real copy, migrations, applier and ledger. DynamoDB Local
 * has one shard per table and never splits it, so the multi-shard cases read the source's real
 * records spread over a simulated split (test/data/stream/split-stream.ts); the CLI case runs two
 * `npm run sync -- --shared` processes on the real stream and kills the one holding the shard.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import { TableSync, type TableSyncResult } from '../../../lib/data/stream/table-sync';
import { DATA_IO, RecordingIoHost } from '../../../lib/io';
import { createLedgerClient, Ledger, ShardCheckpoints } from '../../../lib/ledger';
import { freshPair, upChain as chain, useLedger, verifyPair, type TablePair } from '../../_helpers/data-pair';
import { PRODUCT_KEYS } from '../../_helpers/tables';
import { runV1Writer } from '../../_helpers/v1-writer';
import { splitStream, type SplitStream } from '../../data/stream/split-stream';
import { cliEntry } from '../../_helpers/cli';

const ledgerTable = useLedger();
let ledger: Ledger;
beforeAll(() => {
  ledger = ledgerTable.ledger();
});

const LEASE_MS = 1500;

/** One applied batch: who, which shard, which records (sequence numbers), when it was done. */
interface Applied {
  readonly worker: string;
  readonly shardId: string;
  readonly sequenceNumbers: readonly string[];
  readonly at: number;
}

/** GIVEN: a copied pair whose source then took live traffic, its stream split over six shards. */
async function copiedUnderTraffic(products: number, seed: number): Promise<{ pair: TablePair; split: SplitStream }> {
  const pair = await freshPair(products, { stream: true });
  await new CopyJob({ ioHost: new RecordingIoHost(), jobId: pair.jobId, sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain, ledger, totalSegments: 2 }).run();
  const traffic = new AbortController();
  const writer = runV1Writer(pair.source, { existingProducts: products, perSecond: 120, signal: traffic.signal, seed });
  await sleep(2000);
  traffic.abort();
  const stats = await writer;
  expect(stats.updates + stats.inserts).toBeGreaterThan(0);
  return { pair, split: await splitStream(new DynamoDBClient({}), pair.source) };
}

function worker(name: string, pair: TablePair, split: SplitStream, log: Applied[], workerLedger: Ledger = ledger) {
  const io = new RecordingIoHost();
  const sync = new TableSync({
    ioHost: io,
    syncId: `${pair.jobId}#forward`,
    ledger: workerLedger,
    sourceTable: pair.source,
    targetTable: pair.target,
    keyNames: PRODUCT_KEYS,
    chain,
    copyJobId: pair.jobId,
    streams: split.fake().client,
    pollIntervalMs: 10,
    batchLimit: 10,
    leases: { owner: name, leaseMs: LEASE_MS },
    onBatch: (records, _result, shardId) => log.push({ worker: name, shardId, sequenceNumbers: records.map((r) => r.sequenceNumber), at: performance.now() }),
  });
  return { io, run: () => sync.run({ stopWhenCaughtUp: true }) };
}

/** `work`, or a failure that says what `explain` finds if it has not settled within `ms`. */
async function withinOrExplain<T>(work: Promise<T>, ms: number, explain: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void explain().then((why) => reject(new Error(`not done in ${ms / 1000} s:\n${why}`)), reject), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

const shardOf = (split: SplitStream) => new Map(split.specs.flatMap((s) => (s.wire ?? []).map((r) => [r.dynamodb!.SequenceNumber!, s.shardId] as const)));

describe('a sync shared by several workers (shard leases)', () => {
  it('two workers split a multi-shard stream: each record applied once, one worker per shard at a time, verify = 0', async () => {
    // GIVEN a copy whose source took traffic, its stream over six shards in three generations
    const { pair, split } = await copiedUnderTraffic(60, 21);
    const log: Applied[] = [];

    // WHEN two workers run the sync until caught up
    const [w1, w2] = [worker('w1', pair, split, log), worker('w2', pair, split, log)];
    // (It once ran past the test's timeout on a busy machine: a worker lost a shard to a late
    // heartbeat with batches applying, took it again, and no one read it; see
    // test/data/stream/stream-reader-leases.test.ts. A run this long now fails with what it shows.)
    const results: TableSyncResult[] = await withinOrExplain(Promise.all([w1.run(), w2.run()]), 120_000, async () =>
      [
        ...[w1, w2].map((w, i) => `w${i + 1}, ${w.io.messages.length} messages, the last:\n${w.io.messages.slice(-20).map((m) => `  ${m.time.toISOString()} ${m.code} ${m.message}`).join('\n')}`),
        `checkpoints and leases: ${JSON.stringify(await new ShardCheckpoints(ledger, `${pair.jobId}#forward`).list())}`,
        `${log.length} batches applied`,
      ].join('\n'),
    );

    // THEN every record was applied exactly once, as a record of its own shard (the order of each
    // key's records is the applier's, across batches applied at once: verify checks its outcome)
    const applied = log.flatMap((a) => a.sequenceNumbers);
    expect([...applied].sort()).toEqual(split.records.map((r) => r.dynamodb!.SequenceNumber!).sort());
    const shards = shardOf(split);
    for (const a of log) for (const seq of a.sequenceNumbers) expect(shards.get(seq)).toBe(a.shardId);
    expect(new Set(log.map((a) => a.worker))).toEqual(new Set(['w1', 'w2']));
    expect(results.map((r) => r.owner).sort()).toEqual(['w1', 'w2']);
    expect(results.reduce((n, r) => n + r.deadLetters, 0)).toBe(0);

    // AND children were applied after their parents, whoever read them
    for (const [child, parent] of Object.entries(split.parents)) {
      const first = Math.min(...log.filter((a) => a.shardId === child).map((a) => a.at));
      const last = Math.max(...log.filter((a) => a.shardId === parent).map((a) => a.at));
      if (Number.isFinite(first) && Number.isFinite(last)) expect(first).toBeGreaterThan(last);
    }

    // AND the target is the migrated source
    const v = await verifyPair(new RecordingIoHost(), ledger, pair);
    expect(v, JSON.stringify(v.samples)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 180_000);

  it('a worker that crashed holding shards: the other takes them over once the leases expired, verify = 0', async () => {
    // GIVEN the same kind of stream, and worker w1 whose ledger can be cut off (it then can neither
    // checkpoint nor give its leases up: it crashed)
    const { pair, split } = await copiedUnderTraffic(60, 23);
    const log: Applied[] = [];
    let cut = false;
    const base = new DynamoDBClient({});
    base.middlewareStack.add(
      (next) => async (args) => {
        if (cut) throw Object.assign(new Error('injected: w1 lost the ledger'), { name: 'InjectedOutage' });
        return next(args);
      },
      { step: 'initialize', name: 'ledgerOutage' },
    );
    const w1 = worker('w1', pair, split, log, new Ledger({ tableName: ledgerTable.name, client: createLedgerClient(base) }));
    const w2 = worker('w2', pair, split, log);

    // WHEN both run and w1 crashes after a few batches
    const crashed = w1.run().catch((e: unknown) => e);
    const running = w2.run();
    for (let i = 0; i < 500 && log.filter((a) => a.worker === 'w1').length < 2; i++) await sleep(10);
    cut = true;
    const crash = await crashed;
    const result = await running;

    // THEN w1 failed, w2 took its shards over (after they expired) and read to the end
    expect((crash as Error).name).toBe('InjectedOutage');
    expect(result.stoppedBy).toBe('caught-up');
    const takeovers = w2.io.withCode<{ takeover: boolean; previousOwner?: string }>(DATA_IO.STREAM_I5008.code).filter((m) => m.data?.takeover);
    expect(takeovers.length).toBeGreaterThan(0);
    expect(takeovers.every((m) => m.data?.previousOwner === 'w1')).toBe(true);
    const checkpoints = await new ShardCheckpoints(ledger, `${pair.jobId}#forward`).list();
    expect(checkpoints.filter((c) => c.owner === 'w1')).toEqual([]);

    // AND no record was skipped (re-applied ones are harmless), and the target is the migrated source
    expect(new Set(log.flatMap((a) => a.sequenceNumbers))).toEqual(new Set(split.records.map((r) => r.dynamodb!.SequenceNumber!)));
    const v = await verifyPair(new RecordingIoHost(), ledger, pair);
    expect(v, JSON.stringify(v.samples)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 180_000);

  it('`npm run sync -- --shared` twice, SIGKILL the one holding the shard: the other takes it over, verify = 0', async () => {
    // GIVEN a finished copy and live traffic
    const products = 150;
    const pair = await freshPair(products, { stream: true });
    await new CopyJob({ ioHost: new RecordingIoHost(), jobId: pair.jobId, sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain, ledger, totalSegments: 2 }).run();
    const traffic = new AbortController();
    const writer = runV1Writer(pair.source, { existingProducts: products, perSecond: 80, signal: traffic.signal, seed: 5 });

    // WHEN two shared sync processes run, 2 s leases
    const checkpoints = new ShardCheckpoints(ledger, `${pair.jobId}#forward`);
    const spawnWorker = (id: string): ChildProcess =>
      spawn(
        process.execPath,
        [...cliEntry(), 'sync', '--job', pair.jobId, '--table', 'products', '--source', pair.source, '--target', pair.target, '--ledger', ledgerTable.name, '--shared', '--worker-id', id, '--lease-seconds', '2', '--json'],
        { cwd: process.cwd(), env: process.env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
      );
    const workers = { a: spawnWorker('a'), b: spawnWorker('b') };
    const stderr: Record<string, string> = { a: '', b: '' };
    for (const [id, child] of Object.entries(workers)) child.stderr!.on('data', (d: Buffer) => (stderr[id] += d.toString()));
    const held = async () => (await checkpoints.list()).find((c) => c.owner !== undefined && c.recordsApplied > 0);
    let holder: string | undefined;
    for (let i = 0; i < 600 && !holder; i++) {
      holder = (await held())?.owner;
      if (!holder) await sleep(50);
    }
    expect(holder, stderr.a + stderr.b).toMatch(/^[ab]$/);
    const survivor = holder === 'a' ? 'b' : 'a';

    // AND the holder is killed with SIGKILL while traffic goes on
    process.kill(-workers[holder as 'a' | 'b'].pid!, 'SIGKILL');
    await sleep(1000);
    traffic.abort();
    await writer;
    const stoppedAt = Date.now();

    // THEN the survivor takes the shard over once the lease expired, and catches up
    let taken;
    for (let i = 0; i < 600; i++) {
      const [c] = (await checkpoints.list()).filter((x) => x.owner === survivor);
      if (c && c.caughtUpAt !== undefined && c.caughtUpAt > stoppedAt) {
        taken = c;
        break;
      }
      await sleep(50);
    }
    expect(taken, stderr[survivor]).toMatchObject({ owner: survivor, previousOwner: holder, takeovers: 1 });

    // AND it stops cleanly on SIGTERM, giving the lease up
    const exited = new Promise<number | null>((resolve) => workers[survivor].on('exit', resolve));
    process.kill(-workers[survivor].pid!, 'SIGTERM');
    expect(await exited, stderr[survivor].slice(-2000)).toBe(0);
    expect((await checkpoints.list()).filter((c) => c.owner !== undefined)).toEqual([]);
    const v = await verifyPair(new RecordingIoHost(), ledger, pair);
    expect(v, JSON.stringify(v.samples)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 180_000);
});
