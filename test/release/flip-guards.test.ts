import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stableJson } from '../../lib/item/item';
import { ReleaseError } from '../../lib/errors';
import { DeadLetters } from '../../lib/ledger';
import type { ReleaseEngine } from '../../lib/release/engine';
import { assertNoDeadLetters } from '../../lib/release/flip-guards';
import { syncDeadLetterJobId } from '../../lib/release/sync-daemon';
import { type SyncPair } from '../../lib/ledger/sync-status';
import { ledgerFixture, type LedgerFixture } from '../ledger/ledger-fixture';

let fixture: LedgerFixture;
beforeAll(async () => {
  fixture = await ledgerFixture('flip-guards');
});
afterAll(() => fixture.dispose());

/** The part of the engine the guard reads: the ledger and the tables. */
function engineWith(tables: readonly string[]): ReleaseEngine {
  return {
    ledger: fixture.ledger(),
    tableSpecs: () => tables.map((name) => ({ name })),
    tableName: (releaseId: string, logical: string) => `app-${releaseId}-${logical}`,
  } as unknown as ReleaseEngine;
}

describe('assertNoDeadLetters (no flip while a sync holds writes it could not carry)', () => {
  it('GIVEN a reverse sync with a dead letter WHEN a flip is guarded THEN it is refused with SYNC_DEAD_LETTERS naming the redrive; other pairs pass', async () => {
    const engine = engineWith(['products', 'orders']);
    const held: SyncPair = { direction: 'reverse', sourceReleaseId: 'sha-c', targetReleaseId: 'sha-a' };
    const clean: SyncPair = { direction: 'reverse', sourceReleaseId: 'sha-b', targetReleaseId: 'sha-a' };
    await new DeadLetters(engine.ledger, syncDeadLetterJobId(held, 'orders')).put({
      sourceKey: { pk: 'o-1' },
      keyString: stableJson({ pk: 'o-1' }),
      error: 'down migration threw',
      errorCode: 'MIGRATION_FAILED',
      phase: 'sync',
    });

    const refused = await assertNoDeadLetters(engine, held).then(() => undefined, (e: unknown) => e);
    expect(ReleaseError.isUserError(refused)).toBe(true);
    expect((refused as ReleaseError).code).toBe('SYNC_DEAD_LETTERS');
    expect((refused as ReleaseError).message).toContain(`--job 'reverse:sha-c>sha-a#orders'`);
    await expect(assertNoDeadLetters(engine, clean)).resolves.toBeUndefined();
  });

  it('keeps a forward sync\'s dead letters with its release\'s copy, and a reverse sync\'s under the pair', () => {
    expect(syncDeadLetterJobId({ direction: 'forward', sourceReleaseId: 'a', targetReleaseId: 'b' }, 'products')).toBe('b#products');
    expect(syncDeadLetterJobId({ direction: 'reverse', sourceReleaseId: 'b', targetReleaseId: 'a' }, 'products')).toBe('reverse:b>a#products');
  });
});
