/**
 * Teardown's backup records each table's backup as it is taken (issue 15): a teardown killed
 * during or after the backups and run again backs up no table twice (each backup taken again is
 * one more to pay for and clean up). Syncs, the app and the backups are faked; the verb and
 * reconcile are real.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppLock } from '../../lib/ledger/app-lock';
import { fakeEngine, never, readyRecord, settle, type FakeEngine } from './fake-engine';

const fakes = vi.hoisted(() => ({ backupTable: vi.fn(), stopRelease: vi.fn() }));

vi.mock('../../lib/release/table-backup', () => ({ backupTable: fakes.backupTable }));
vi.mock('../../lib/release/sync-launcher', async (original) => ({
  ...(await original<typeof import('../../lib/release/sync-launcher')>()),
  ensureSyncRunning: async () => undefined,
  waitCaughtUp: async () => undefined,
  retireSync: async () => undefined,
}));

const { teardownLocked } = await import('../../lib/release/teardown-verb');

const lock = { check: () => undefined } as unknown as AppLock;
let engine: FakeEngine;

beforeEach(async () => {
  engine = fakeEngine({ tables: ['products', 'orders', 'users'], extra: { target: { stopRelease: fakes.stopRelease } } });
  fakes.backupTable.mockReset().mockImplementation(async (_e: unknown, table: string) => `arn:backup/${table}`);
  fakes.stopRelease.mockReset().mockResolvedValue(undefined);
  await engine.store.put(readyRecord('sha-a', engine.nowIso()));
});

const tablesBackedUp = () => fakes.backupTable.mock.calls.map((c) => c[1] as string);

describe('teardown backs up each table once', () => {
  it('GIVEN a teardown killed while backing up its second table WHEN run again THEN only the tables not backed up yet are (before: all again)', async () => {
    fakes.backupTable.mockImplementationOnce(async (_e: unknown, table: string) => `arn:backup/${table}`).mockImplementationOnce(() => never());
    void teardownLocked(engine, (await engine.store.get('sha-a'))!, {}, lock);
    await settle();
    expect(tablesBackedUp()).toEqual(['app-sha-a-products', 'app-sha-a-orders']);

    const result = await teardownLocked(engine, (await engine.store.get('sha-a'))!, {}, lock);
    expect(tablesBackedUp()).toEqual(['app-sha-a-products', 'app-sha-a-orders', 'app-sha-a-orders', 'app-sha-a-users']);
    expect(result.phase).toBe('TornDown');
    expect(result.record.checkpoints.tornDown?.backups).toEqual(['arn:backup/app-sha-a-products', 'arn:backup/app-sha-a-orders', 'arn:backup/app-sha-a-users']);
  });

  it('GIVEN a teardown killed after its backups (destroying the stack) WHEN run again THEN it backs up nothing again', async () => {
    engine = fakeEngine({
      tables: ['products', 'orders', 'users'],
      extra: { target: { stopRelease: fakes.stopRelease }, releaseSpec: () => ({}), deployer: () => never() },
    });
    await engine.store.put(readyRecord('sha-a', engine.nowIso(), { ami: { amiId: 'ami-1', reused: false } }));
    void teardownLocked(engine, (await engine.store.get('sha-a'))!, {}, lock);
    await settle();
    expect(engine.io.withCode<{ step: string }>('STEP_I3100').at(-1)?.data?.step).toBe('destroy');
    expect(tablesBackedUp()).toHaveLength(3);

    // the destroy works this time (no stack: nothing to destroy), the AMI is kept by nobody else
    const record = (await engine.store.get('sha-a'))!;
    const stored = await engine.store.update(record, () => ({ checkpoints: { ...record.checkpoints, ami: undefined } }));
    const result = await teardownLocked(engine, stored, {}, lock);
    expect(tablesBackedUp()).toHaveLength(3);
    expect(engine.io.withCode<{ step: string }>('STEP_I3102').map((m) => m.data?.step)).toContain('backup');
    expect(result.record.checkpoints.tornDown?.backups).toHaveLength(3);
  });

  it('records a table that does not exist as backed up with nothing, and is not retried for it', async () => {
    fakes.backupTable.mockImplementation(async (_e: unknown, table: string) => (table.endsWith('orders') ? undefined : `arn:backup/${table}`));
    const result = await teardownLocked(engine, (await engine.store.get('sha-a'))!, {}, lock);
    expect(result.record.checkpoints.teardown?.backedUp).toEqual({ products: 'arn:backup/app-sha-a-products', orders: null, users: 'arn:backup/app-sha-a-users' });
    expect(result.record.checkpoints.tornDown?.backups).toEqual(['arn:backup/app-sha-a-products', 'arn:backup/app-sha-a-users']);
  });
});
