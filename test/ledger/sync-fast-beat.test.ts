/**
 * A cut-over holds writes while it waits for a sync's report: it asks the daemon to report fast
 * until a deadline, through the sync's status item, and the daemon's next beat follows it.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_HEARTBEAT_MS, nextBeatMs, readSyncStatus, requestFastBeat, SYNC_HEARTBEAT_MS, syncKey, type SyncPair } from '../../lib/ledger/sync-status';
import { ledgerFixture, type LedgerFixture } from './ledger-fixture';

describe('requestFastBeat', () => {
  let fixture: LedgerFixture;
  const pair: SyncPair = { direction: 'forward', sourceReleaseId: 'sha-a', targetReleaseId: 'sha-b' };

  beforeAll(async () => {
    fixture = await ledgerFixture('fast-beat');
  });
  afterAll(() => fixture.dispose());

  it('does nothing for a sync that never ran (no status item is created)', async () => {
    await requestFastBeat(fixture.ledger(), { ...pair, targetReleaseId: 'sha-none' }, 5_000);
    expect(await readSyncStatus(fixture.ledger(), { ...pair, targetReleaseId: 'sha-none' })).toBeUndefined();
  });

  it('makes the daemon beat fast until the deadline, and at its usual pace after it or once cleared', async () => {
    // GIVEN a running sync's status
    const ledger = fixture.ledger();
    await ledger.client.send(new PutCommand({ TableName: ledger.tableName, Item: { ...syncKey(pair), pair, heartbeatAtMs: 1, lagMs: 0, caughtUp: true, tables: {} } }));
    expect(nextBeatMs(await readSyncStatus(ledger, pair), 1_000)).toBe(SYNC_HEARTBEAT_MS);
    // WHEN a cut-over asks for fast beats until t = 5 s
    await requestFastBeat(ledger, pair, 5_000);
    const status = await readSyncStatus(ledger, pair);
    // THEN the daemon reports every FAST_HEARTBEAT_MS before it, and every beat from then on
    expect(nextBeatMs(status, 4_999)).toBe(FAST_HEARTBEAT_MS);
    expect(nextBeatMs(status, 5_000)).toBe(SYNC_HEARTBEAT_MS);
    // AND a cleared request (the drain is over) is the usual pace at once
    await requestFastBeat(ledger, pair, 0);
    expect(nextBeatMs(await readSyncStatus(ledger, pair), 1_000)).toBe(SYNC_HEARTBEAT_MS);
  });
});
