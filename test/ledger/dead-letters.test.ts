import { GetCommand, NumberValue, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stableJson, type Key } from '../../lib/item/item';
import { DeadLetters, deadLetterPk, deadLetterSk, type PutDeadLetterOptions } from '../../lib/ledger';
import { ledgerFixture, ManualClock, type LedgerFixture } from './ledger-fixture';

let fixture: LedgerFixture;
let jobCounter = 0;

beforeAll(async () => {
  fixture = await ledgerFixture('ledger-dead-letters');
});
afterAll(() => fixture.dispose());

function deadLettersFor(clock?: ManualClock): DeadLetters {
  return new DeadLetters(fixture.ledger(clock?.now), `rel-${++jobCounter}#orders`);
}

function failure(sourceKey: Key, overrides: Partial<PutDeadLetterOptions> = {}): PutDeadLetterOptions {
  return { sourceKey, keyString: stableJson(sourceKey), error: 'migration threw', errorCode: 'MIGRATION_FAILED', phase: 'copy', ...overrides };
}

describe('DeadLetters', () => {
  it('stores a failure with its key, image and sequence number', async () => {
    // GIVEN a source item that failed during the stream apply
    const dl = deadLettersFor(new ManualClock(Date.UTC(2030, 0, 1)));
    const image = { pk: 'o-1', sk: 7, total: 12.5, tags: new Set(['a', 'b']), blob: new Uint8Array([1, 2, 3]) };

    // WHEN it is put
    const stored = await dl.put(failure({ pk: 'o-1', sk: 7 }, { image, sequenceNumber: '000000000000000000042', phase: 'sync' }));

    // THEN it reads back whole
    expect(stored).toEqual({
      jobId: dl.jobId,
      keyString: '{"pk":"o-1","sk":7}',
      sourceKey: { pk: 'o-1', sk: 7 },
      error: 'migration threw',
      errorCode: 'MIGRATION_FAILED',
      image: { ...image, blob: expect.any(Uint8Array) },
      imageOmitted: false,
      imageBytes: undefined,
      sequenceNumber: '000000000000000000042',
      phase: 'sync',
      occurrences: 1,
      firstSeenAt: '2030-01-01T00:00:00.000Z',
      lastSeenAt: '2030-01-01T00:00:00.000Z',
    });
    expect([...(stored.image!.blob as Uint8Array)]).toEqual([1, 2, 3]);
    expect(await dl.get(stored.keyString)).toEqual(stored);
  });

  it('is idempotent per key: a second put updates the error and counts the occurrence', async () => {
    // GIVEN a dead letter recorded during the copy
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const dl = deadLettersFor(clock);
    await dl.put(failure({ pk: 'o-2' }, { image: { pk: 'o-2', v: 1 } }));

    // WHEN the same key fails again later, during a re-drive, without an image
    clock.advance(60_000);
    const again = await dl.put(failure({ pk: 'o-2' }, { error: 'still failing', errorCode: 'SHARED_KEY_CONFLICT', phase: 'redrive' }));

    // THEN one record: latest error and phase, first image kept, two occurrences, first time kept
    expect(await dl.count()).toBe(1);
    expect(again).toMatchObject({
      error: 'still failing',
      errorCode: 'SHARED_KEY_CONFLICT',
      phase: 'redrive',
      image: { pk: 'o-2', v: 1 },
      occurrences: 2,
      firstSeenAt: '2030-01-01T00:00:00.000Z',
      lastSeenAt: '2030-01-01T00:01:00.000Z',
    });
  });

  it('counts, lists and removes the dead letters of its own job only', async () => {
    // GIVEN 3 dead letters in one job and 1 in another
    const dl = deadLettersFor();
    const other = deadLettersFor();
    const keys = [{ pk: 'a' }, { pk: 'b' }, { pk: 'c' }];
    for (const k of keys) await dl.put(failure(k));
    await other.put(failure({ pk: 'a' }));

    // WHEN one is removed, twice
    const removed = await dl.remove(stableJson({ pk: 'b' }));
    const removedAgain = await dl.remove(stableJson({ pk: 'b' }));

    // THEN the job has the other two, and the other job is untouched
    expect([removed, removedAgain]).toEqual([true, false]);
    expect(await dl.count()).toBe(2);
    expect((await dl.list()).map((d) => d.keyString)).toEqual([stableJson({ pk: 'a' }), stableJson({ pk: 'c' })]);
    expect(await other.count()).toBe(1);
    expect(await dl.get(stableJson({ pk: 'b' }))).toBeUndefined();
  });

  it('keys a key string beyond 1024 bytes by its hash and keeps it whole', async () => {
    // GIVEN two long keys that differ only at their end
    const dl = deadLettersFor();
    const long = (suffix: string) => ({ pk: `${'é'.repeat(600)}${suffix}` }); // 1200+ bytes of UTF-8
    const first = failure(long('1'));
    const second = failure(long('2'));
    expect(Buffer.byteLength(first.keyString)).toBeGreaterThan(1024);

    // WHEN both are put, and the first again
    await dl.put(first);
    await dl.put(second);
    const again = await dl.put(first);

    // THEN they are two records under hashed sort keys, each with its whole key string
    expect(again.occurrences).toBe(2);
    expect(await dl.count()).toBe(2);
    const ledger = fixture.ledger();
    const raw = await ledger.client.send(
      new GetCommand({ TableName: ledger.tableName, Key: { pk: deadLetterPk(dl.jobId), sk: deadLetterSk(first.keyString) } }),
    );
    expect(raw.Item?.sk).toMatch(/^sha256#[0-9a-f]{64}$/);
    expect(raw.Item?.keyString).toBe(first.keyString);
    expect((await dl.get(second.keyString))?.sourceKey).toEqual(long('2'));
    // AND removal finds it by the whole key string
    expect(await dl.remove(second.keyString)).toBe(true);
    expect(await dl.count()).toBe(1);
  });

  it('keeps a key string of exactly 1024 bytes as the sort key', () => {
    const exact = 'x'.repeat(1024);
    expect(deadLetterSk(exact)).toBe(exact);
    expect(deadLetterSk(exact + 'x')).toMatch(/^sha256#/);
  });

  it('omits, with a flag, an image too large for a ledger item', async () => {
    // GIVEN an image of about 420 KB (a source item near DynamoDB's limit plus what a migration added)
    const dl = deadLettersFor();
    const image = { pk: 'huge', body: 'x'.repeat(420 * 1024) };

    // WHEN it is put, and then the same key with a small image
    const big = await dl.put(failure({ pk: 'huge' }, { image }));
    const small = await dl.put(failure({ pk: 'huge' }, { image: { pk: 'huge', body: 'short' } }));

    // THEN the first put stored no image but its size; the second stored its image again
    expect(big).toMatchObject({ imageOmitted: true, image: undefined });
    expect(big.imageBytes).toBeGreaterThan(420 * 1024);
    expect(small).toMatchObject({ imageOmitted: false, imageBytes: undefined, image: { pk: 'huge', body: 'short' }, occurrences: 2 });
  });

  it('stores an image just under the limit', async () => {
    // GIVEN an image of 380 KB
    const dl = deadLettersFor();
    const image = { pk: 'large', body: 'y'.repeat(380 * 1024) };

    // WHEN it is put
    const stored = await dl.put(failure({ pk: 'large' }, { image }));

    // THEN it is kept whole
    expect(stored.imageOmitted).toBe(false);
    expect(stored.image?.body).toHaveLength(380 * 1024);
  });

  it('lists across query pages', async () => {
    // GIVEN 6 dead letters of 300 KB each: more than one 1 MB query page
    const dl = deadLettersFor();
    for (let i = 0; i < 6; i++) await dl.put(failure({ pk: `p-${i}` }, { image: { pk: `p-${i}`, body: 'z'.repeat(300 * 1024) } }));

    const ledger = fixture.ledger();
    const onePage = await ledger.client.send(
      new QueryCommand({ TableName: ledger.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': deadLetterPk(dl.jobId) } }),
    );
    expect(onePage.LastEvaluatedKey).toBeDefined();

    // WHEN they are listed and counted
    const all = await dl.list();

    // THEN every one is there
    expect(all.map((d) => d.sourceKey.pk)).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4', 'p-5']);
    expect(await dl.count()).toBe(6);
  });

  it('removeIfUnchanged removes a dead letter only if nothing failed or was held behind it since it was read', async () => {
    // GIVEN a dead letter read with 1 occurrence, then a record held behind it (2)
    const dl = deadLettersFor();
    const key = { pk: 'o-9', sk: 1 };
    const read = await dl.put(failure(key, { phase: 'sync', sequenceNumber: '1' }));
    await dl.put(failure(key, { phase: 'sync' }));

    // WHEN a re-drive that read it at 1 tries to remove it THEN it is kept; at 2 it goes
    expect(await dl.removeIfUnchanged(read.keyString, read.occurrences)).toBe(false);
    expect(await dl.get(read.keyString)).toMatchObject({ occurrences: 2, sequenceNumber: '1' });
    expect(await dl.removeIfUnchanged(read.keyString, 2)).toBe(true);
    expect(await dl.get(read.keyString)).toBeUndefined();
  });

  it('stores an image whose number set mixes plain numbers and exact ones beyond a JavaScript number', async () => {
    const dl = deadLettersFor();
    const image = { pk: 'o-10', ns: new Set<unknown>([1, NumberValue.from('12345678901234567890123456789012345678')]), n: NumberValue.from('1E-130') };
    const stored = await dl.put(failure({ pk: 'o-10' }, { image }));
    expect(stableJson(stored.image)).toBe(stableJson(image));
  });
});

