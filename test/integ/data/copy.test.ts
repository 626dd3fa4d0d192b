import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import { META } from '../../../lib/item/item';
import { redriveDeadLetters } from '../../../lib/data/redrive';
import { DATA_IO, RecordingIoHost } from '../../../lib/io';
import { DeadLetters, SegmentTasks } from '../../../lib/ledger';
import { conflictingProduct, generateV1Products, productId } from '../../../examples/catalog/data';
import { registry } from '../../_helpers/catalog';
import { freshPair, upChain, useLedger, verifyPair, type TablePair } from '../../_helpers/data-pair';
import { createTable, documentClient, PRODUCT_KEYS, putAll, scanAll, uniqueName } from '../../_helpers/tables';

const { ledger: getLedger } = useLedger();
const chain = upChain;

function copyJob(io: RecordingIoHost, p: TablePair, extra: Partial<ConstructorParameters<typeof CopyJob>[0]> = {}) {
  return new CopyJob({ ioHost: io, jobId: p.jobId, sourceTable: p.source, targetTable: p.target, keyNames: PRODUCT_KEYS, chain, ledger: getLedger(), totalSegments: 8, progressIntervalMs: 200, ...extra });
}

const verify = (io: RecordingIoHost, p: TablePair) => verifyPair(io, getLedger(), p);

describe('bulk copy with the channel migration (key-changing, many-to-one)', () => {
  it('copies every product into one product item and one listing per channel, and verify finds 0 differences', async () => {
    // GIVEN 400 products × 3 channels in the source
    const pair = await freshPair(400);
    const io = new RecordingIoHost();

    // WHEN
    const result = await copyJob(io, pair).run();

    // THEN every source item was read once, the target has 400 products + 1200 listings
    expect(result).toMatchObject({ itemsRead: 1200, deadLetters: 0, complete: true });
    const target = await scanAll(pair.target);
    expect(target.filter((i) => i.sk === 'PRODUCT')).toHaveLength(400);
    expect(target.filter((i) => String(i.sk).startsWith('LISTING#'))).toHaveLength(1200);
    expect(target.every((i) => typeof i[META.source] === 'string')).toBe(true);
    expect(io.withCode(DATA_IO.COPY_I2001.code).length).toBeGreaterThan(0);
    const v = await verify(io, pair);
    expect(v).toMatchObject({ sourceItems: 1200, targetItems: 1600, differences: 0, deadLettered: 0 });
  });

  it('verify reports a changed, a missing and an orphaned target item after a consistent re-check', async () => {
    // GIVEN a finished copy
    const pair = await freshPair(50);
    const io = new RecordingIoHost();
    await copyJob(io, pair).run();
    const doc = documentClient();

    // WHEN the target drifts three ways
    await doc.send(new PutCommand({ TableName: pair.target, Item: { pk: `PRODUCT#${productId(1)}`, sk: 'LISTING#US', sku: 'x', channel: 'US', price: 1, currency: 'USD', stock: 0, published: false } }));
    await doc.send(new DeleteCommand({ TableName: pair.target, Key: { pk: `PRODUCT#${productId(2)}`, sk: 'LISTING#GB' } }));
    await doc.send(new PutCommand({ TableName: pair.target, Item: { pk: 'PRODUCT#9999999', sk: 'LISTING#EU', sku: 'y', channel: 'EU', price: 1, currency: 'EUR', stock: 0, published: true } }));

    // THEN each is found, and the result is non-zero
    const v = await verify(io, pair);
    expect(v).toMatchObject({ different: 1, missing: 1, orphaned: 1, differences: 3 });
    expect(v.samples.map((s) => s.kind).sort()).toEqual(['different', 'missing', 'orphaned']);
  });

  it('turns poison items into exactly that many dead letters, copies the rest, and redrive fixes them once the source is fixed', async () => {
    // GIVEN 100 products, 3 poison items (fail the v1 schema) and one product whose channel copies disagree
    const poison = [0, 1, 2].map((n) => ({ pk: `PRODUCT#P${n}`, sk: 'CHANNEL#US', title: 42 }));
    const pair = await freshPair(100, { extra: [...poison, ...conflictingProduct(productId(500))] });
    const io = new RecordingIoHost();

    // WHEN
    const result = await copyJob(io, pair).run();

    // THEN 3 poison + 1 conflicting channel copy are dead letters; everything else is copied
    expect(result.deadLetters).toBe(4);
    const dls = await new DeadLetters(getLedger(), pair.jobId).list();
    expect(dls.map((d) => d.errorCode).sort()).toEqual(['SCHEMA_INVALID', 'SCHEMA_INVALID', 'SCHEMA_INVALID', 'SHARED_CONFLICT'].sort());
    const v = await verify(io, pair);
    expect(v).toMatchObject({ differences: 0, deadLettered: 4 });

    // WHEN the poison items are fixed at the source and the conflicting one deleted, then re-driven
    const doc = documentClient();
    const good = [...generateV1Products({ products: 3, firstId: 900 })].filter((i) => i.sk === 'CHANNEL#US');
    for (let n = 0; n < 3; n++) await doc.send(new PutCommand({ TableName: pair.source, Item: { ...good[n], pk: `PRODUCT#P${n}` } }));
    const conflicting = dls.find((d) => d.errorCode === 'SHARED_CONFLICT')!;
    await doc.send(new DeleteCommand({ TableName: pair.source, Key: conflicting.sourceKey }));
    const r = await redriveDeadLetters({ ioHost: io, jobId: pair.jobId, ledger: getLedger(), sourceTable: pair.source, targetTable: pair.target, keyNames: PRODUCT_KEYS, chain });

    // THEN
    expect(r).toMatchObject({ retried: 4, fixed: 3, sourceGone: 1, stillFailing: 0 });
    expect(await verify(io, pair)).toMatchObject({ differences: 0, deadLettered: 0 });
  });

  it('shares one copy between two workers: every segment completed once, every item read once', async () => {
    // GIVEN one job and two workers (different owners), each working on 2 segments at once
    const pair = await freshPair(600);
    const io = new RecordingIoHost();
    const a = copyJob(io, pair, { owner: 'worker-a', concurrency: 2, pageSize: 100 });
    const b = copyJob(io, pair, { owner: 'worker-b', concurrency: 2, pageSize: 100 });
    await a.prepare();

    // WHEN both run
    await Promise.all([a.run(), b.run()]);

    // THEN
    const segments = await new SegmentTasks(getLedger(), pair.jobId).listSegments();
    expect(segments.every((s) => s.status === 'COMPLETED' && s.takeovers === 0)).toBe(true);
    expect(segments.reduce((n, s) => n + s.itemsRead, 0)).toBe(1800);
    expect(new Set(segments.map((s) => s.owner ?? s.previousOwner)).size).toBeGreaterThanOrEqual(1);
    expect(await verify(io, pair)).toMatchObject({ differences: 0 });
  });

  it('refuses bad input with one coded user error and writes nothing', async () => {
    const pair = await freshPair(5);
    const io = new RecordingIoHost();
    const tasks = new SegmentTasks(getLedger(), pair.jobId);

    // missing source table
    await expect(copyJob(io, { ...pair, source: 'no-such-table' }).prepare()).rejects.toMatchObject({ code: 'TABLE_MISSING', source: 'user' });
    // key schema mismatch
    const oddTarget = uniqueName('odd');
    await createTable(oddTarget, { partitionKey: 'id' });
    await expect(copyJob(io, { ...pair, target: oddTarget }).prepare()).rejects.toMatchObject({ code: 'KEY_SCHEMA_MISMATCH' });
    // non-empty target without --resume
    await putAll(pair.target, [{ pk: 'PRODUCT#x', sk: 'PRODUCT', title: 't' }]);
    await expect(copyJob(io, pair).prepare()).rejects.toMatchObject({ code: 'COPY_TARGET_NOT_EMPTY' });
    // a migration chain with a gap
    expect(() => registry.chain('products', 1, 3, { keyNames: PRODUCT_KEYS })).toThrow(expect.objectContaining({ code: 'MIGRATION_CHAIN_GAP' }));

    // nothing was written: no job in the ledger, the target holds only what we put there
    expect(await tasks.getJob()).toBeUndefined();
    expect(await scanAll(pair.target)).toHaveLength(1);
  });
});
