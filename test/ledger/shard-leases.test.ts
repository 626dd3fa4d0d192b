import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASE_LOST, ShardCheckpoints, ShardLeases, type Ledger } from '../../lib/ledger';
import { ledgerFixture, ManualClock, type LedgerFixture } from './ledger-fixture';
import { codeOf } from '../_helpers/rejection';

let fixture: LedgerFixture;
let counter = 0;

beforeAll(async () => {
  fixture = await ledgerFixture('shard-leases');
});
afterAll(() => fixture.dispose());

const LEASE = 10_000;
const at = (sequenceNumber: string, recordsApplied: number, owner?: string) => ({ sequenceNumber, recordsApplied, approximateCreationMs: 1_000, lagMs: 5, owner });

/** One sync seen by two workers on one (manual) clock. */
function sync(clock = new ManualClock()) {
  const syncId = `rel-${++counter}#products#forward`;
  const ledger: Ledger = fixture.ledger(clock.now);
  return { clock, leases: new ShardLeases(ledger, syncId), checkpoints: new ShardCheckpoints(ledger, syncId) };
}

describe('ShardLeases', () => {
  it('gives a free shard to one worker, which checkpoints under it; the other is refused', async () => {
    // GIVEN a shard nobody read yet
    const { leases, checkpoints } = sync();

    // WHEN A claims it, then B tries
    const a = await leases.claim('s1', 'A', LEASE, undefined, { parentShardId: 'p' });
    const b = await leases.claim('s1', 'B', LEASE, await checkpoints.get('s1'));

    // THEN A holds it from the start (no checkpoint yet), B got nothing
    expect(a).toMatchObject({ takeover: false, checkpoint: { shardId: 's1', owner: 'A', parentShardId: 'p', finished: false, recordsApplied: 0, sequenceNumber: undefined } });
    expect(b).toBeUndefined();

    // AND A's checkpoint goes through, B's is refused with LEASE_LOST
    expect((await checkpoints.advance('s1', at('100', 3, 'A'))).sequenceNumber).toBe('100');
    expect(await codeOf(checkpoints.advance('s1', at('200', 6, 'B')))).toBe(LEASE_LOST);
    expect(await checkpoints.get('s1')).toMatchObject({ owner: 'A', sequenceNumber: '100' });
  });

  it('lets another worker take an expired lease over, after which the old holder can neither renew nor checkpoint', async () => {
    // GIVEN A holds s1 and checkpointed at 100
    const { clock, leases, checkpoints } = sync();
    await leases.claim('s1', 'A', LEASE, undefined);
    await checkpoints.advance('s1', at('100', 3, 'A'));

    // WHEN the lease is still live THEN B cannot take it
    clock.advance(LEASE - 1);
    expect(await leases.claim('s1', 'B', LEASE, await checkpoints.get('s1'))).toBeUndefined();

    // WHEN it expired THEN B takes it over and continues from A's checkpoint
    clock.advance(2);
    const b = await leases.claim('s1', 'B', LEASE, await checkpoints.get('s1'));
    expect(b).toMatchObject({ takeover: true, checkpoint: { owner: 'B', previousOwner: 'A', takeovers: 1, sequenceNumber: '100', recordsApplied: 3 } });

    // AND A's heartbeat and checkpoint are refused
    expect(await leases.renew('s1', 'A', LEASE)).toBe(false);
    expect(await codeOf(checkpoints.advance('s1', at('150', 4, 'A')))).toBe(LEASE_LOST);
    expect(await codeOf(checkpoints.finish('s1', { owner: 'A' }))).toBe(LEASE_LOST);
    expect((await checkpoints.advance('s1', at('150', 4, 'B'))).owner).toBe('B');
  });

  it('does not take over a lease that was renewed after it was read', async () => {
    // GIVEN B read A's lease as expired
    const { clock, leases, checkpoints } = sync();
    await leases.claim('s1', 'A', LEASE, undefined);
    clock.advance(LEASE + 1);
    const seen = await checkpoints.get('s1');

    // WHEN A renews before B claims
    expect(await leases.renew('s1', 'A', LEASE)).toBe(true);

    // THEN B's claim fails: A still holds it
    expect(await leases.claim('s1', 'B', LEASE, seen)).toBeUndefined();
    expect((await checkpoints.get('s1'))?.owner).toBe('A');
  });

  it('frees a released shard at once and keeps its checkpoint', async () => {
    const { leases, checkpoints } = sync();
    await leases.claim('s1', 'A', LEASE, undefined);
    await checkpoints.advance('s1', at('100', 3, 'A'));

    expect(await leases.release('s1', 'A')).toBe(true);
    expect(await leases.release('s1', 'A')).toBe(false);
    const b = await leases.claim('s1', 'B', LEASE, await checkpoints.get('s1'));

    expect(b).toMatchObject({ takeover: false, checkpoint: { owner: 'B', sequenceNumber: '100', takeovers: 0 } });
  });

  it('releases a shard with its finish; a finished shard cannot be claimed', async () => {
    const { leases, checkpoints } = sync();
    await leases.claim('s1', 'A', LEASE, undefined);
    const done = await checkpoints.finish('s1', { owner: 'A' });
    expect(done).toMatchObject({ finished: true, owner: undefined, leaseExpiresAt: undefined });
    // A finish retried after a lost response is fine.
    expect((await checkpoints.finish('s1', { owner: 'A' })).finished).toBe(true);
    expect(await leases.claim('s1', 'B', LEASE, done)).toBeUndefined();
    expect(await leases.claim('s1', 'A', LEASE, done)).toBeUndefined();
  });

  it("records the holder's caught-up mark until the next checkpoint", async () => {
    const { leases, checkpoints } = sync();
    await leases.claim('s1', 'A', LEASE, undefined);
    expect(await leases.markCaughtUp('s1', 'A', 1234)).toBe(true);
    expect(await leases.markCaughtUp('s1', 'B', 1234)).toBe(false);
    expect((await checkpoints.get('s1'))?.caughtUpAt).toBe(1234);
    await checkpoints.advance('s1', at('100', 3, 'A'));
    expect((await checkpoints.get('s1'))?.caughtUpAt).toBeUndefined();
    expect(await leases.renew('s1', 'A', LEASE, 5678)).toBe(true);
    expect((await checkpoints.get('s1'))?.caughtUpAt).toBe(5678);
    expect(await leases.renew('s1', 'A', LEASE)).toBe(true);
    expect((await checkpoints.get('s1'))?.caughtUpAt).toBeUndefined();
  });

  it('lists the workers whose record has not expired', async () => {
    const { clock, leases } = sync();
    await leases.join('A', LEASE);
    clock.advance(LEASE / 2);
    await leases.join('B', LEASE);
    expect((await leases.liveWorkers()).map((w) => w.owner).sort()).toEqual(['A', 'B']);
    clock.advance(LEASE / 2 + 1);
    expect((await leases.liveWorkers()).map((w) => w.owner)).toEqual(['B']);
    await leases.leave('B');
    expect(await leases.liveWorkers()).toEqual([]);
  });

  it('keeps worker records out of the shard checkpoints', async () => {
    const { leases, checkpoints } = sync();
    await leases.join('A', LEASE);
    await leases.claim('s1', 'A', LEASE, undefined);
    expect((await checkpoints.list()).map((c) => c.shardId)).toEqual(['s1']);
  });
});
