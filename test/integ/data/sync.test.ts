import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import { TableSync } from '../../../lib/data/stream/table-sync';
import { RecordingIoHost } from '../../../lib/io';
import { type Ledger, ShardCheckpoints } from '../../../lib/ledger';
import { freshPair as freshSourcePair, upChain, useLedger, verifyPair, type TablePair } from '../../_helpers/data-pair';
import { PRODUCT_KEYS } from '../../_helpers/tables';
import { runV1Writer } from '../../_helpers/v1-writer';
import { cliEntry } from '../../_helpers/cli';

const chain = upChain;
const ledgerTable = useLedger();
const ledgerName = ledgerTable.name;
let ledger: Ledger;
beforeAll(() => {
  ledger = ledgerTable.ledger();
});
const freshPair = (products: number) => freshSourcePair(products, { stream: true });

const sync = (io: RecordingIoHost, p: { source: string; target: string; jobId: string }) =>
  new TableSync({ ioHost: io, syncId: `${p.jobId}#forward`, ledger, sourceTable: p.source, targetTable: p.target, keyNames: PRODUCT_KEYS, chain, copyJobId: p.jobId, pollIntervalMs: 50 });

const verify = (io: RecordingIoHost, p: TablePair) => verifyPair(io, ledger, p);

describe('forward sync after the bulk copy', () => {
  it('puts, updates and deletes made during and after the copy all arrive: verify = 0', async () => {
    // GIVEN 300 products and live v1 traffic that starts before the copy
    const pair = await freshPair(300);
    const io = new RecordingIoHost();
    const traffic = new AbortController();
    const writer = runV1Writer(pair.source, { existingProducts: 300, perSecond: 150, signal: traffic.signal });

    // WHEN the copy runs under traffic, then the sync catches up while traffic goes on, then traffic stops
    await new CopyJob({ ioHost: io, jobId: pair.jobId, sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain, ledger, totalSegments: 4, pageSize: 100 }).run();
    await sync(io, pair).run({ stopWhenCaughtUp: true });
    await sleep(1500);
    traffic.abort();
    const stats = await writer;
    const last = await sync(io, pair).run({ stopWhenCaughtUp: true });

    // THEN every kind of change happened, nothing is dead-lettered, and the target equals the migrated source
    expect(stats.updates).toBeGreaterThan(0);
    expect(stats.inserts).toBeGreaterThan(0);
    expect(stats.channelDeletes + stats.productDeletes).toBeGreaterThan(0);
    expect(last.deadLetters).toBe(0);
    expect(await verify(io, pair)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 180_000);

  it('refuses to start before the copy is complete, with a coded user error', async () => {
    const pair = await freshPair(5);
    const io = new RecordingIoHost();
    const job = new CopyJob({ ioHost: io, jobId: pair.jobId, sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain, ledger, totalSegments: 2 });
    await job.prepare(); // job created, no segment copied yet
    await expect(sync(io, pair).run({ stopWhenCaughtUp: true })).rejects.toMatchObject({ code: 'SYNC_COPY_INCOMPLETE', source: 'user' });
  });

  it('kill -9 of a running sync, start it again: it resumes from its shard checkpoints, verify = 0', async () => {
    // GIVEN a finished copy and traffic
    const pair = await freshPair(200);
    const io = new RecordingIoHost();
    await new CopyJob({ ioHost: io, jobId: pair.jobId, sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain, ledger, totalSegments: 4 }).run();
    const traffic = new AbortController();
    const writer = runV1Writer(pair.source, { existingProducts: 200, perSecond: 100, signal: traffic.signal, seed: 11 });

    // WHEN `npm run sync` runs as a child process and is killed with SIGKILL once it applied records
    const args = [...cliEntry(), 'sync', '--job', pair.jobId, '--table', 'products', '--source', pair.source, '--target', pair.target, '--ledger', ledgerName, '--json'];
    const first = spawn(process.execPath, args, { cwd: process.cwd(), env: process.env, detached: true, stdio: 'ignore' });
    const checkpoints = new ShardCheckpoints(ledger, `${pair.jobId}#forward`);
    for (let i = 0; i < 400; i++) {
      const applied = (await checkpoints.list()).reduce((n, c) => n + c.recordsApplied, 0);
      if (applied >= 50) break;
      await sleep(50);
    }
    process.kill(-first.pid!, 'SIGKILL');
    const appliedAtKill = (await checkpoints.list()).reduce((n, c) => n + c.recordsApplied, 0);
    expect(appliedAtKill).toBeGreaterThan(0);
    await sleep(1000);
    traffic.abort();
    await writer;

    // AND it is started again until caught up
    const second = spawn(process.execPath, [...args, '--until-caught-up'], { cwd: process.cwd(), env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    second.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));

    // THEN
    expect(code, err.slice(-2000)).toBe(0);
    const v = await verify(io, pair);
    expect(v, JSON.stringify(v.samples)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 180_000);
});
