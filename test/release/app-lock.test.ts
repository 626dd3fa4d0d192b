import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppLock, LOCK_HELD } from '../../lib/ledger/app-lock';
import { ReleaseError } from '../../lib/errors';
import { ledgerFixture, ManualClock, type LedgerFixture } from '../ledger/ledger-fixture';

describe('AppLock: one mutating command per app', () => {
  let fx: LedgerFixture;
  beforeAll(async () => {
    fx = await ledgerFixture('lock');
  });
  afterAll(async () => fx.dispose());

  it('refuses a second holder, naming the first, and frees on release', async () => {
    const clock = new ManualClock();
    const first = new AppLock({ ledger: fx.ledger(() => clock.now()), command: 'release sha-a' });
    await first.acquire();
    // WHEN another command tries while the first holds it
    const second = new AppLock({ ledger: fx.ledger(() => clock.now()), command: 'promote sha-b' });
    const err = await second.acquire().catch((e: unknown) => e);
    // THEN it is refused with the holder's command in one line
    expect(ReleaseError.isUserError(err) && err.code).toBe(LOCK_HELD);
    expect((err as Error).message).toContain('release sha-a');
    // AND once the first releases, the second gets it
    await first.release();
    await second.acquire();
    await second.release();
  });

  it('takes over a lock whose lease expired (a holder on another machine that died)', async () => {
    const clock = new ManualClock();
    const stale = new AppLock({ ledger: fx.ledger(() => clock.now()), command: 'release sha-old', leaseMs: 30_000, heartbeatMs: 3_600_000 });
    await stale.acquire();
    const next = new AppLock({ ledger: fx.ledger(() => clock.now()), command: 'release sha-new', leaseMs: 30_000 });
    await expect(next.acquire()).rejects.toMatchObject({ code: LOCK_HELD });
    clock.advance(30_001);
    await next.acquire();
    expect((await next.holder())?.command).toBe('release sha-new');
    await next.release();
    await stale.release(); // not its lock any more: a no-op, not an error
  });

  it('takes over at once a lock held by a process of this machine that is gone (kill -9)', async () => {
    const clock = new ManualClock();
    const ledger = fx.ledger(() => clock.now());
    // GIVEN a lock recorded for a pid that no longer runs
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
    const ghost = new AppLock({ ledger, command: 'release sha-ghost' });
    await ghost.acquire();
    await ledger.client.send(
      new (await import('@aws-sdk/lib-dynamodb')).UpdateCommand({ TableName: ledger.tableName, Key: { pk: 'APP', sk: 'LOCK' }, UpdateExpression: 'SET pid = :p', ExpressionAttributeValues: { ':p': deadPid } }),
    );
    // WHEN a re-run asks for it before the lease expired
    const rerun = new AppLock({ ledger, command: 'release sha-ghost' });
    await rerun.acquire();
    // THEN it holds it
    expect((await rerun.holder())?.pid).toBe(process.pid);
    await rerun.release();
    await ghost.release();
  });
});
