import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareSequenceNumbers, sequenceKey, ShardCheckpoints, shardSk, syncPk } from '../../../lib/ledger';
import { ledgerFixture, ManualClock, type LedgerFixture } from '../../ledger/ledger-fixture';
import { codeOf } from '../../_helpers/rejection';

let fixture: LedgerFixture;
let counter = 0;

beforeAll(async () => {
  fixture = await ledgerFixture('stream-checkpoints');
});
afterAll(() => fixture.dispose());

function checkpointsFor(clock = new ManualClock()): ShardCheckpoints {
  return new ShardCheckpoints(fixture.ledger(clock.now), `rel-${++counter}#products#forward`);
}

const at = (sequenceNumber: string, recordsApplied = 1) => ({ sequenceNumber, recordsApplied, approximateCreationMs: 1_000, lagMs: 5 });

describe('sequence numbers', () => {
  it('compare as numbers, not as strings', () => {
    expect(compareSequenceNumbers('9', '10')).toBeLessThan(0);
    expect(compareSequenceNumbers('000000000000000000100', '99')).toBeGreaterThan(0);
    expect(compareSequenceNumbers('4'.repeat(40), '4'.repeat(40))).toBe(0);
    expect(sequenceKey('123')).toBe('0'.repeat(37) + '123');
  });

  it('refuse anything but 1 to 40 digits', () => {
    for (const bad of ['', '12a', '-1', '1'.repeat(41)]) expect(() => sequenceKey(bad)).toThrow(/1 to 40 decimal digits/);
  });
});

describe('ShardCheckpoints', () => {
  it('has no checkpoint before the first advance', async () => {
    const cps = checkpointsFor();
    expect(await cps.get('shard-1')).toBeUndefined();
    expect(await cps.list()).toEqual([]);
  });

  it('advances a shard and keeps the original and a zero-padded copy of the sequence number', async () => {
    // GIVEN a sync
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const cps = checkpointsFor(clock);

    // WHEN a batch ending at a 21-digit sequence number is checkpointed
    const cp = await cps.advance('shard-1', { ...at('000000000000002646464', 100), parentShardId: 'shard-0' });

    // THEN the checkpoint says so, and the stored key compares numerically
    expect(cp).toEqual({
      syncId: cps.syncId,
      shardId: 'shard-1',
      parentShardId: 'shard-0',
      sequenceNumber: '000000000000002646464',
      finished: false,
      recordsApplied: 100,
      lastApproximateCreationMs: 1_000,
      lagMs: 5,
      updatedAt: '2030-01-01T00:00:00.000Z',
      finishedAt: undefined,
      takeovers: 0,
    });
    expect(await cps.get('shard-1')).toEqual(cp);
    const ledger = fixture.ledger();
    const raw = await ledger.client.send(new GetCommand({ TableName: ledger.tableName, Key: { pk: syncPk(cps.syncId), sk: shardSk('shard-1') } }));
    expect(raw.Item?.sequenceKey).toBe('0'.repeat(19) + '000000000000002646464');
  });

  it('moves forward across a change of length (99 → 100), which a plain string comparison would refuse', async () => {
    const cps = checkpointsFor();
    await cps.advance('s', at('99', 1));
    const cp = await cps.advance('s', at('100', 2));
    expect(cp.sequenceNumber).toBe('100');
  });

  it('accepts the same advance twice (a retried call) and refuses to move backwards', async () => {
    // GIVEN a checkpoint at 500
    const cps = checkpointsFor();
    await cps.advance('s', at('500', 10));

    // WHEN the same checkpoint is written again THEN nothing changes
    expect((await cps.advance('s', at('500', 10))).recordsApplied).toBe(10);

    // WHEN an older one is written THEN it is refused and the checkpoint stays
    expect(await codeOf(cps.advance('s', at('499', 9)))).toBe('STREAM_CHECKPOINT_REFUSED');
    expect(await codeOf(cps.advance('s', at('0000000000000000000000000000000000000099', 9)))).toBe('STREAM_CHECKPOINT_REFUSED');
    expect((await cps.get('s'))?.sequenceNumber).toBe('500');
  });

  it('compares 40-digit sequence numbers exactly (beyond any JavaScript number)', async () => {
    const cps = checkpointsFor();
    const a = '1234567890123456789012345678901234567890';
    const b = '1234567890123456789012345678901234567891';
    await cps.advance('s', at(b));
    expect(await codeOf(cps.advance('s', at(a)))).toBe('STREAM_CHECKPOINT_REFUSED');
    expect((await cps.get('s'))?.sequenceNumber).toBe(b);
  });

  it('finishes a shard, keeps its position, and refuses advances after that', async () => {
    // GIVEN a shard at 700
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const cps = checkpointsFor(clock);
    await cps.advance('s', { ...at('700', 7), parentShardId: 'p' });

    // WHEN it is finished (twice: idempotent)
    clock.advance(1000);
    const done = await cps.finish('s');
    clock.advance(1000);
    const again = await cps.finish('s');

    // THEN it is finished at its last position, first finish time kept
    expect(done).toMatchObject({ finished: true, sequenceNumber: '700', recordsApplied: 7, parentShardId: 'p', finishedAt: '2030-01-01T00:00:01.000Z' });
    expect(again.finishedAt).toBe('2030-01-01T00:00:01.000Z');
    expect(await codeOf(cps.advance('s', at('800', 8)))).toBe('STREAM_CHECKPOINT_REFUSED');
  });

  it('finishes a shard that never had a record', async () => {
    const cps = checkpointsFor();
    const cp = await cps.finish('empty', { parentShardId: 'p' });
    expect(cp).toMatchObject({ shardId: 'empty', parentShardId: 'p', finished: true, recordsApplied: 0, sequenceNumber: undefined });
  });

  it('lists the checkpoints of its own sync only', async () => {
    // GIVEN two syncs on one ledger
    const a = checkpointsFor();
    const b = checkpointsFor();
    await a.advance('s1', at('1'));
    await a.finish('s2');
    await b.advance('s1', at('5'));

    // WHEN each lists THEN each sees its own
    expect((await a.list()).map((c) => [c.shardId, c.sequenceNumber, c.finished])).toEqual([
      ['s1', '1', false],
      ['s2', undefined, true],
    ]);
    expect((await b.list()).map((c) => c.sequenceNumber)).toEqual(['5']);
  });
});
