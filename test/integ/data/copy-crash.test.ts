import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import { BatchWriter } from '../../../lib/data/write/batch-writer';
import { RecordingIoHost } from '../../../lib/io';
import { type Ledger, SegmentTasks } from '../../../lib/ledger';
import { freshPair as freshSourcePair, upChain, useLedger, verifyPair, type TablePair } from '../../_helpers/data-pair';
import { injectBatchWriteFaults } from '../../data/write/fault-injection';
import { documentClient, PRODUCT_KEYS } from '../../_helpers/tables';
import { cliEntry } from '../../_helpers/cli';

const chain = upChain;
const ledgerTable = useLedger();
const ledgerName = ledgerTable.name;
let ledger: Ledger;
beforeAll(() => {
  ledger = ledgerTable.ledger();
});
const freshPair = (products: number) => freshSourcePair(products);

const verify = (io: RecordingIoHost, p: TablePair) => verifyPair(io, ledger, p);

/** `npm run copy` as a real child process, in its own process group so kill -9 reaches every process of it. */
function copyProcess(p: { source: string; target: string; jobId: string }, segments: number, pageSize: number) {
  const child = spawn(
    process.execPath,
    [...cliEntry(), 'copy', '--job', p.jobId, '--table', 'products', '--source', p.source, '--target', p.target,
      '--ledger', ledgerName, '--segments', String(segments), '--page-size', String(pageSize), '--concurrency', '2', '--json'],
    { cwd: process.cwd(), env: process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('a copy survives kill -9 and injected throttling', () => {
  it('kill -9 mid-copy, run the same command again: the copy completes, at most one page per segment is redone, verify = 0', async () => {
    // GIVEN 1,500 products (4,500 items), copied in 8 segments of 50-item pages by a child process
    const pair = await freshPair(1500);
    const segments = 8;
    const pageSize = 50;
    const tasks = new SegmentTasks(ledger, pair.jobId);
    const first = copyProcess(pair, segments, pageSize);

    // WHEN it is killed with SIGKILL once some pages are checkpointed
    for (let i = 0; i < 600; i++) {
      const job = await tasks.getJob();
      if (job && (await tasks.summary()).itemsRead >= 500) break;
      await sleep(50);
    }
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    const atKill = await tasks.summary();
    expect(atKill.itemsRead).toBeGreaterThan(0);
    expect(atKill.itemsRead).toBeLessThan(4500);

    // AND the same command runs again
    const second = copyProcess(pair, segments, pageSize);
    const code = await second.exited;
    const { stdout, stderr } = second.output();
    expect(code, stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { itemsRead: number; workerItemsRead: number; complete: boolean };

    // THEN the copy is complete, the second run redid at most one page per segment, and verify = 0
    expect(result.complete).toBe(true);
    expect(result.itemsRead).toBe(4500);
    const redone = result.workerItemsRead - (4500 - atKill.itemsRead);
    expect(redone).toBeGreaterThanOrEqual(0);
    expect(redone).toBeLessThanOrEqual(segments * pageSize);
    expect(await verify(new RecordingIoHost(), pair)).toMatchObject({ differences: 0, deadLettered: 0 });
  }, 240_000);

  it('throttling and unprocessed items injected on 30% of writes: 0 lost, verify = 0', async () => {
    // GIVEN a batch writer whose client fails 30% of BatchWriteItem calls
    const pair = await freshPair(500);
    const doc = documentClient();
    const faults = injectBatchWriteFaults(doc, { rate: 0.3 });
    let retries = 0;
    const batchWriter = new BatchWriter({ client: doc, onRetry: () => retries++ });
    const io = new RecordingIoHost();

    // WHEN
    const result = await new CopyJob({ ioHost: io, jobId: pair.jobId, sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain, ledger, totalSegments: 4, pageSize: 100, batchWriter }).run();

    // THEN faults happened, were retried, and nothing was lost
    expect(faults.stats.unprocessedCalls + faults.stats.throttled).toBeGreaterThan(0);
    expect(retries).toBeGreaterThan(0);
    expect(result).toMatchObject({ itemsRead: 1500, complete: true, deadLetters: 0 });
    expect(await verify(io, pair)).toMatchObject({ differences: 0, targetItems: 2000 });
  });
});
