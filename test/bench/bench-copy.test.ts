import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/local/paths';

/**
 * The benchmark itself runs: its copy is a CLI process that must work on the benchmark's own
 * emulators (it once started the project's local AWS instead and failed with LEDGER_MISSING).
 * Figures are not checked here, only that the run completes and copies everything exactly.
 */
describe('npm run bench:copy', () => {
  it('copies a small table through the latency proxy and verifies it with 0 differences', async () => {
    // WHEN the benchmark runs at a tiny size, every DynamoDB call 2 ms further away
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', 'copy.ts'), '--items', '300', '--latency-ms', '2', '--sequential-seconds', '1', '--json'], {
        cwd: PACKAGE_ROOT,
        env: process.env,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

    // THEN it exits 0, its copy wrote one product item and three listings per product, and verify found nothing
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { items: number; targetItems: number; latencyMs: number; ratio: number; verifyDifferences: number };
    expect(result).toMatchObject({ items: 300, targetItems: 400, latencyMs: 2, verifyDifferences: 0 });
    expect(result.ratio).toBeGreaterThan(0);
  }, 180_000);
});
