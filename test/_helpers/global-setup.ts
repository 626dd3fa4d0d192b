/**
 * vitest globalSetup: a moto and a DynamoDB Local of this test run's own, on 127.0.0.1, in a state
 * directory of their own (never the set `npm run local:up` keeps for development, nor another
 * run's). DynamoDB Local slows down as stream records pile up in it (see README), so every run
 * starts clean. Test files get the endpoints through test/_helpers/local-env.ts.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { LocalFleet } from '../../lib/infra/local-fleet';
import { defaultIoHost } from '../../lib/io';
import { defaultStateDir, startLocalAws, stopLocalAws } from '../../lib/local';
import { buildCliBundle } from './cli-bundle';

declare module 'vitest' {
  export interface ProvidedContext {
    localStateDir: string;
    /** The CLI built from the sources under test (test/_helpers/cli-bundle.ts). */
    cliBundle: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ioHost = defaultIoHost({ level: 'warn' });
  const root = defaultStateDir();
  mkdirSync(root, { recursive: true });
  const stateDir = mkdtempSync(join(root, 'test-run-'));
  const [cliBundle] = await Promise.all([buildCliBundle(join(stateDir, 'cli')), startLocalAws({ ioHost, stateDir })]);
  project.provide('localStateDir', stateDir);
  project.provide('cliBundle', cliBundle);
  process.env.STACKSHIFT_LOCAL_STATE_DIR = stateDir;
  return async () => {
    // App processes the tests' releases started (a failed test may not have torn its release down).
    const fleet = new LocalFleet({ stateDir });
    for (const m of fleet.list()) await fleet.stop(m.releaseId);
    await stopLocalAws({ ioHost, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  };
}
