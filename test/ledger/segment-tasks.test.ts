import { DeleteCommand, NumberValue, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userError } from '../../lib/errors';
import { COPY_JOB_KIND, copyJobPk, isLeaseLost, LEDGER_SCHEMA, SegmentTasks, segmentSk, type ClaimedSegment, type SegmentTasksProps } from '../../lib/ledger';
import { ledgerFixture, ManualClock, type LedgerFixture } from './ledger-fixture';

let fixture: LedgerFixture;
let jobCounter = 0;

beforeAll(async () => {
  fixture = await ledgerFixture('ledger-segments');
});
afterAll(() => fixture.dispose());

/** A job of its own per test, on a shared table. */
function tasksFor(clock: ManualClock | undefined, props: Partial<SegmentTasksProps> = {}): SegmentTasks {
  return new SegmentTasks(fixture.ledger(clock?.now), `rel-${++jobCounter}#products`, props);
}

const JOB = { sourceTable: 'products-v1', targetTable: 'products-v2' };

describe('createJob', () => {
  it('creates the job and one READY segment per scan segment', async () => {
    // GIVEN a new job
    const tasks = tasksFor(new ManualClock());

    // WHEN it is created with stream positions in meta
    const job = await tasks.createJob({ ...JOB, totalSegments: 4, meta: { shards: { 'shard-1': '100' } } });

    // THEN the job is stored with its meta and every segment is READY from the start
    expect(job).toMatchObject({ jobId: tasks.jobId, totalSegments: 4, ...JOB, meta: { shards: { 'shard-1': '100' } } });
    expect(await tasks.getJob()).toEqual(job);
    const segments = await tasks.listSegments();
    expect(segments.map((s) => [s.segment, s.status, s.cursor, s.attempts, s.totalSegments])).toEqual([
      [0, 'READY', undefined, 0, 4],
      [1, 'READY', undefined, 0, 4],
      [2, 'READY', undefined, 0, 4],
      [3, 'READY', undefined, 0, 4],
    ]);
  });

  it('lists the job in the byKind index, and no segment there', async () => {
    // GIVEN a created job
    const tasks = tasksFor(new ManualClock(Date.UTC(2031, 5, 1)));
    const job = await tasks.createJob({ ...JOB, totalSegments: 2 });

    // WHEN copy jobs are listed through the index
    const ledger = fixture.ledger();
    const out = await ledger.client.send(
      new QueryCommand({
        TableName: ledger.tableName,
        IndexName: LEDGER_SCHEMA.byKindIndex,
        KeyConditionExpression: 'kind = :kind AND sortAt = :at',
        ExpressionAttributeValues: { ':kind': COPY_JOB_KIND, ':at': job.createdAt },
      }),
    );

    // THEN exactly the job record is there
    expect(out.Items?.map((i) => [i.pk, i.sk])).toEqual([[copyJobPk(tasks.jobId), 'JOB']]);
  });

  it('is idempotent: a second call keeps the first meta and all progress', async () => {
    // GIVEN a job with one segment in progress at a checkpoint
    const clock = new ManualClock();
    const tasks = tasksFor(clock);
    const first = await tasks.createJob({ ...JOB, totalSegments: 2, meta: { t0: 'first' } });
    const claimed = await tasks.claim('worker-a', 1000);
    await tasks.checkpoint(claimed!.segment, 'worker-a', { cursor: { pk: 'k1' }, itemsRead: 5, itemsWritten: 5 });

    // WHEN the job is created again (a re-run) with other meta, later
    clock.advance(60_000);
    const again = await tasks.createJob({ ...JOB, totalSegments: 2, meta: { t0: 'second' } });

    // THEN the stored job is returned unchanged and the segment kept its owner and cursor
    expect(again).toEqual(first);
    const segment = (await tasks.listSegments()).find((s) => s.segment === claimed!.segment);
    expect(segment).toMatchObject({ status: 'IN_PROGRESS', owner: 'worker-a', cursor: { pk: 'k1' }, itemsRead: 5 });
  });

  it('writes segments a crash left unwritten', async () => {
    // GIVEN a job whose segment 2 record is missing (a crash between the JOB put and the segments)
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 3 });
    const ledger = fixture.ledger();
    await ledger.client.send(new DeleteCommand({ TableName: ledger.tableName, Key: { pk: copyJobPk(tasks.jobId), sk: segmentSk(2) } }));
    expect(await tasks.listSegments()).toHaveLength(2);

    // WHEN the job is created again
    await tasks.createJob({ ...JOB, totalSegments: 3 });

    // THEN segment 2 is back, READY
    expect((await tasks.listSegments()).map((s) => [s.segment, s.status])).toEqual([
      [0, 'READY'],
      [1, 'READY'],
      [2, 'READY'],
    ]);
  });

  it.each([
    ['totalSegments', { totalSegments: 8 }],
    ['sourceTable', { sourceTable: 'other-source' }],
    ['targetTable', { targetTable: 'other-target' }],
  ])('refuses a job that exists with another %s (COPY_JOB_MISMATCH)', async (_field, change) => {
    // GIVEN an existing job
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 4 });

    // WHEN it is created again with a different parameter
    const again = tasks.createJob({ ...JOB, totalSegments: 4, ...change });

    // THEN a user error says so, and nothing changed
    await expect(again).rejects.toMatchObject({ code: 'COPY_JOB_MISMATCH', source: 'user' });
    expect(await tasks.getJob()).toMatchObject({ totalSegments: 4, ...JOB });
    expect(await tasks.listSegments()).toHaveLength(4);
  });

  it.each([0, -1, 1.5, 100_001])('refuses %s segments', async (totalSegments) => {
    // WHEN a job is created with an impossible segment count
    const created = tasksFor(undefined).createJob({ ...JOB, totalSegments });

    // THEN
    await expect(created).rejects.toMatchObject({ code: 'COPY_SEGMENTS_INVALID' });
  });
});

describe('claim', () => {
  it('gives every segment to exactly one of many concurrent workers', async () => {
    // GIVEN 16 segments and 8 workers that all start their search at the same place
    const tasks = tasksFor(undefined, { random: () => 0 });
    await tasks.createJob({ ...JOB, totalSegments: 16 });

    // WHEN each worker claims until nothing is left, all at once
    const workers = Array.from({ length: 8 }, (_, i) => `worker-${i}`);
    const claimsPerWorker = await Promise.all(
      workers.map(async (owner) => {
        const mine: ClaimedSegment[] = [];
        for (let s = await tasks.claim(owner, 60_000); s; s = await tasks.claim(owner, 60_000)) mine.push(s);
        return mine;
      }),
    );

    // THEN no segment was given twice and together they got all 16
    const claimed = claimsPerWorker.flat().map((s) => s.segment);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect([...claimed].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // AND the ledger agrees on who holds what
    const owners = new Map(claimsPerWorker.flatMap((mine, i) => mine.map((s) => [s.segment, workers[i]] as const)));
    for (const s of await tasks.listSegments()) {
      expect(s).toMatchObject({ status: 'IN_PROGRESS', owner: owners.get(s.segment), attempts: 1, takeovers: 0 });
    }
  });

  it('returns undefined while every lease is alive, and takes over one that expired', async () => {
    // GIVEN one segment claimed by worker A with a 1 s lease, checkpointed once
    const clock = new ManualClock();
    const tasks = tasksFor(clock);
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    const a = await tasks.claim('worker-a', 1000);
    expect(a).toMatchObject({ segment: 0, owner: 'worker-a', attempts: 1, takeover: false, leaseExpiresAt: clock.ms + 1000 });
    await tasks.checkpoint(0, 'worker-a', { cursor: { pk: 'p-7' }, itemsRead: 7, itemsWritten: 6 });

    // WHEN worker B tries before the lease expires
    clock.advance(999);
    const tooEarly = await tasks.claim('worker-b', 1000);
    // AND after it expired (the checkpoint had extended it by the default lease)
    clock.advance(tasks.leaseMs);
    const b = await tasks.claim('worker-b', 1000);

    // THEN B gets nothing first, then takes the segment over at A's checkpoint, in the same try
    expect(tooEarly).toBeUndefined();
    expect(b).toMatchObject({
      segment: 0,
      owner: 'worker-b',
      previousOwner: 'worker-a',
      takeover: true,
      takeovers: 1,
      attempts: 1,
      cursor: { pk: 'p-7' },
      itemsRead: 7,
      itemsWritten: 6,
      leaseExpiresAt: clock.ms + 1000,
    });
    expect((await tasks.summary()).takeovers).toBe(1);
  });

  it('prefers READY segments to takeovers and retries', async () => {
    // GIVEN a job with an expired lease on one segment and an ERROR on another, and one READY
    const clock = new ManualClock();
    const tasks = tasksFor(clock, { random: () => 0 });
    await tasks.createJob({ ...JOB, totalSegments: 3 });
    const first = await tasks.claim('worker-a', 1000);
    const second = await tasks.claim('worker-a', 1000);
    await tasks.fail(second!.segment, 'worker-a', new Error('boom'));
    clock.advance(5000);

    // WHEN three claims follow
    const kinds = [];
    for (let i = 0; i < 3; i++) {
      const s = await tasks.claim('worker-b', 1000);
      kinds.push([s?.segment, s?.takeover]);
    }

    // THEN the READY one comes first, then the takeover, then the retry
    expect(kinds).toEqual([
      [2, false],
      [first!.segment, true],
      [second!.segment, false],
    ]);
  });
});

describe('owner-conditional updates', () => {
  async function takenOver(): Promise<{ tasks: SegmentTasks; clock: ManualClock }> {
    const clock = new ManualClock();
    const tasks = tasksFor(clock);
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    await tasks.claim('worker-a', 1000);
    clock.advance(1001);
    await tasks.claim('worker-b', 60_000);
    await tasks.checkpoint(0, 'worker-b', { cursor: { pk: 'b-cursor' }, itemsRead: 3, itemsWritten: 3 });
    return { tasks, clock };
  }

  it.each([
    ['heartbeat', (t: SegmentTasks) => t.heartbeat(0, 'worker-a', 1000)],
    ['checkpoint', (t: SegmentTasks) => t.checkpoint(0, 'worker-a', { cursor: { pk: 'a-cursor' }, itemsRead: 99, itemsWritten: 99 })],
    ['complete', (t: SegmentTasks) => t.complete(0, 'worker-a', { itemsRead: 99, itemsWritten: 99 })],
    ['fail', (t: SegmentTasks) => t.fail(0, 'worker-a', new Error('late'))],
    ['fail dead', (t: SegmentTasks) => t.fail(0, 'worker-a', new Error('late'), { dead: true })],
  ])('%s by the old owner after a takeover throws LEASE_LOST and changes nothing', async (_name, call) => {
    // GIVEN worker B took the segment over from A and checkpointed
    const { tasks } = await takenOver();

    // WHEN A, which does not know, calls
    const err = await call(tasks).then(
      () => undefined,
      (e: unknown) => e,
    );

    // THEN it is told its lease is lost, as a tool error
    expect(err).toMatchObject({ code: 'LEASE_LOST', source: 'tool' });
    expect(isLeaseLost(err)).toBe(true);
    // AND B's segment is untouched
    const [segment] = await tasks.listSegments();
    expect(segment).toMatchObject({ status: 'IN_PROGRESS', owner: 'worker-b', cursor: { pk: 'b-cursor' }, itemsRead: 3 });
  });

  it('throws LEASE_LOST on a segment that is already complete', async () => {
    // GIVEN a completed segment
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    await tasks.claim('worker-a');
    await tasks.complete(0, 'worker-a', { itemsRead: 1, itemsWritten: 1 });

    // WHEN its last owner heartbeats
    const late = tasks.heartbeat(0, 'worker-a');

    // THEN
    await expect(late).rejects.toMatchObject({ code: 'LEASE_LOST' });
  });

  it('says when the segment does not exist', async () => {
    // GIVEN a job with 1 segment
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 1 });

    // WHEN segment 5 is checkpointed
    const call = tasks.heartbeat(5, 'worker-a');

    // THEN
    await expect(call).rejects.toMatchObject({ code: 'COPY_SEGMENT_NOT_FOUND' });
  });

  it('isLeaseLost is false for other errors', () => {
    expect(isLeaseLost(new Error('LEASE_LOST'))).toBe(false);
    expect(isLeaseLost(userError('COPY_JOB_MISMATCH', 'x'))).toBe(false);
    expect(isLeaseLost(undefined)).toBe(false);
  });

  it('heartbeat extends the lease so that nobody can take over', async () => {
    // GIVEN a segment held with a 1 s lease
    const clock = new ManualClock();
    const tasks = tasksFor(clock);
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    await tasks.claim('worker-a', 1000);

    // WHEN its owner heartbeats before expiry, and time passes beyond the first lease
    clock.advance(900);
    const beat = await tasks.heartbeat(0, 'worker-a', 1000);
    clock.advance(900);

    // THEN the lease moved and another worker cannot claim it
    expect(beat.leaseExpiresAt).toBe(clock.ms - 900 + 1000);
    expect(await tasks.claim('worker-b', 1000)).toBeUndefined();
  });
});

describe('fail', () => {
  it('makes a segment ERROR and claimable again until its attempts run out, then DEAD', async () => {
    // GIVEN one segment and at most 3 attempts
    const tasks = tasksFor(new ManualClock(), { maxAttempts: 3 });
    await tasks.createJob({ ...JOB, totalSegments: 1 });

    // WHEN each attempt checkpoints once and fails
    const statuses = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const s = await tasks.claim(`worker-${attempt}`);
      expect(s).toMatchObject({ attempts: attempt, takeover: false });
      // a retry resumes from the last checkpoint
      expect(s?.cursor).toEqual(attempt === 1 ? undefined : { pk: `cursor-${attempt - 1}` });
      await tasks.checkpoint(0, `worker-${attempt}`, { cursor: { pk: `cursor-${attempt}` }, itemsRead: attempt, itemsWritten: attempt });
      const failed = await tasks.fail(0, `worker-${attempt}`, userError('THROTTLED_TOO_LONG', `attempt ${attempt}`));
      statuses.push(failed.status);
    }

    // THEN it was ERROR twice, then DEAD, and nothing is claimable any more
    expect(statuses).toEqual(['ERROR', 'ERROR', 'DEAD']);
    expect(await tasks.claim('worker-9')).toBeUndefined();
    const [dead] = await tasks.listSegments();
    expect(dead).toMatchObject({ status: 'DEAD', attempts: 3, lastError: { code: 'THROTTLED_TOO_LONG' } });
    expect(dead.leaseExpiresAt).toBeUndefined();
  });

  it('makes a segment DEAD at once when asked', async () => {
    // GIVEN a claimed segment on its first attempt
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    await tasks.claim('worker-a');

    // WHEN it fails as dead
    const failed = await tasks.fail(0, 'worker-a', new TypeError('bad'), { dead: true });

    // THEN
    expect(failed).toMatchObject({ status: 'DEAD', attempts: 1, lastError: { code: 'TypeError', message: 'bad' } });
    expect(await tasks.claim('worker-b')).toBeUndefined();
  });
});

describe('checkpoint', () => {
  it('round-trips a cursor with string, number, binary and very large number key values', async () => {
    // GIVEN a claimed segment
    const clock = new ManualClock();
    const tasks = tasksFor(clock);
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    await tasks.claim('worker-a', 1000);
    const cursor = {
      pk: 'tenant#42',
      sk: 1234.5,
      bin: new Uint8Array([0, 1, 2, 254, 255]),
      big: NumberValue.from('98765432109876543210'),
    };

    // WHEN it is checkpointed and another worker takes the segment over
    await tasks.checkpoint(0, 'worker-a', { cursor, itemsRead: 1, itemsWritten: 1, leaseMs: 1000 });
    clock.advance(1001);
    const taken = await tasks.claim('worker-b');

    // THEN the cursor comes back with the same types and values
    expect(taken?.cursor?.pk).toBe('tenant#42');
    expect(taken?.cursor?.sk).toBe(1234.5);
    expect(taken?.cursor?.bin).toBeInstanceOf(Uint8Array);
    expect([...taken!.cursor!.bin]).toEqual([0, 1, 2, 254, 255]);
    expect(String(taken?.cursor?.big)).toBe('98765432109876543210');
  });

  it('stores totals, so a repeated checkpoint changes nothing', async () => {
    // GIVEN a claimed segment
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 1 });
    await tasks.claim('worker-a');

    // WHEN the same checkpoint is sent twice (as after a retried request), then a later one
    const progress = { cursor: { pk: 'x' }, itemsRead: 100, itemsWritten: 90, pages: 1 };
    await tasks.checkpoint(0, 'worker-a', progress);
    const twice = await tasks.checkpoint(0, 'worker-a', progress);
    const later = await tasks.checkpoint(0, 'worker-a', { cursor: { pk: 'y' }, itemsRead: 150, itemsWritten: 140 });

    // THEN counts are the totals given; pages counts up when not given
    expect(twice).toMatchObject({ itemsRead: 100, itemsWritten: 90, pages: 1 });
    expect(later).toMatchObject({ itemsRead: 150, itemsWritten: 140, pages: 2, cursor: { pk: 'y' } });
  });
});

describe('complete', () => {
  it('keeps the last checkpoint totals when given none, and drops lease and cursor', async () => {
    // GIVEN a segment checkpointed at 40 items
    const tasks = tasksFor(new ManualClock());
    await tasks.createJob({ ...JOB, totalSegments: 2 });
    const claimed = await tasks.claim('worker-a');
    await tasks.checkpoint(claimed!.segment, 'worker-a', { cursor: { pk: 'c' }, itemsRead: 40, itemsWritten: 39 });

    // WHEN it completes without counts
    const done = await tasks.complete(claimed!.segment, 'worker-a');

    // THEN
    expect(done).toMatchObject({ status: 'COMPLETED', itemsRead: 40, itemsWritten: 39, owner: 'worker-a' });
    expect(done.completedAt).toBeDefined();
    expect(done.leaseExpiresAt).toBeUndefined();
    expect(done.cursor).toBeUndefined();
  });
});

describe('summary', () => {
  it('counts segments per status, items, completed items and takeovers', async () => {
    // GIVEN 5 segments: 2 completed, 1 in progress at a checkpoint (taken over once), 1 ERROR, 1 READY
    const clock = new ManualClock();
    const tasks = tasksFor(clock, { random: () => 0 });
    await tasks.createJob({ ...JOB, totalSegments: 5 });
    for (const [n, read] of [
      [0, 10],
      [1, 30],
    ]) {
      await tasks.claim('w');
      await tasks.complete(n, 'w', { itemsRead: read, itemsWritten: read - 1, pages: 2 });
    }
    await tasks.claim('w', 1000);
    await tasks.checkpoint(2, 'w', { cursor: { pk: 'c' }, itemsRead: 5, itemsWritten: 5, leaseMs: 1000 });
    await tasks.claim('w');
    await tasks.fail(3, 'w', new Error('x'));
    clock.advance(1001);
    const taken = await tasks.claim('v'); // READY segment 4 first
    expect(taken?.segment).toBe(4);
    await tasks.fail(4, 'v', new Error('y'), { dead: true });
    const takeover = await tasks.claim('v');
    expect(takeover).toMatchObject({ segment: 2, takeover: true });

    // WHEN the job is summarized
    const summary = await tasks.summary();

    // THEN
    expect(summary).toEqual({
      jobId: tasks.jobId,
      segments: 5,
      byStatus: { READY: 0, IN_PROGRESS: 1, COMPLETED: 2, ERROR: 1, DEAD: 1 },
      itemsRead: 45,
      itemsWritten: 43,
      pages: 5,
      takeovers: 1,
      completedSegments: 2,
      itemsInCompletedSegments: 40,
      itemsWrittenInCompletedSegments: 38,
    });
  });
});
