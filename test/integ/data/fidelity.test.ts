/**
 * Issue 14: every DynamoDB value arrives exact, and one bad item or record never stops the rest.
 * Copy and sync through an identity chain must leave the target equal to the source as DynamoDB
 * returns them (AttributeValues), apart from the engine's `_ss*` attributes.
 */
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import type { Item, KeyNames } from '../../../lib/item/item';
import { MigrationChain } from '../../../lib/data/migrations/chain';
import type { Migration } from '../../../lib/data/migrations/migration';
import { exactNumber, exactText } from '../../../lib/item/numbers';
import { DELETE_STAMP_BYTES, itemSizeBytes, MAX_ITEM_BYTES } from '../../../lib/item/item-size';
import { CONSTRUCTOR_ATTRIBUTE, PROTO_ATTRIBUTE } from '../../../lib/item/special-names';
import { redriveDeadLetters } from '../../../lib/data/redrive';
import { TableSync } from '../../../lib/data/stream/table-sync';
import { verifyCopy } from '../../../lib/data/verify/verify-copy';
import { RecordingIoHost } from '../../../lib/io';
import { DeadLetters, Ledger, SegmentTasks } from '../../../lib/ledger';
import { EDGE_NUMBERS } from '../../_helpers/attribute-value-arb';
import { upChain, useLedger } from '../../_helpers/data-pair';
import { rawPair, rawScan, type RawItem } from '../../_helpers/raw-items';
import { createTable, PRODUCT_KEYS, uniqueName } from '../../_helpers/tables';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };
const ledgerTable = useLedger();
let ledger: Ledger;
beforeAll(() => {
  ledger = ledgerTable.ledger();
});
const dynamodb = new DynamoDBClient({});

const identity = new MigrationChain({ table: 'things', fromVersion: 1, toVersion: 1, steps: [], keyNames: KEYS });

/** A source (sk of type N: number keys beyond 2^53) and an empty target. */
async function pair(options: { stream?: boolean } = {}): Promise<{ source: string; target: string; jobId: string }> {
  const source = uniqueName('fsrc');
  const target = uniqueName('fdst');
  await createTable(source, KEYS, { stream: options.stream, sortKeyType: 'N' });
  await createTable(target, KEYS, { sortKeyType: 'N' });
  return { source, target, jobId: uniqueName('fjob') };
}

const rawKey = (i: RawItem): string => `${i.pk!.S}|${i.sk!.N}`;

async function put(table: string, item: RawItem): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: table, Item: item }));
}

function copy(io: RecordingIoHost, p: { source: string; target: string; jobId: string }, chain = identity, more: Partial<ConstructorParameters<typeof CopyJob>[0]> = {}): CopyJob {
  return new CopyJob({ ioHost: io, jobId: p.jobId, sourceTable: p.source, targetTable: p.target, keyNames: KEYS, chain, ledger, totalSegments: 4, pageSize: 50, ...more });
}

function sync(io: RecordingIoHost, p: { source: string; target: string; jobId: string }, chain = identity): TableSync {
  return new TableSync({ ioHost: io, syncId: `${p.jobId}#forward`, ledger, sourceTable: p.source, targetTable: p.target, keyNames: KEYS, chain, copyJobId: p.jobId, pollIntervalMs: 50 });
}

function verify(io: RecordingIoHost, p: { source: string; target: string; jobId: string }, chain = identity) {
  return verifyCopy({ ioHost: io, sourceTable: p.source, targetTable: p.target, keyNames: KEYS, chain, deadLetters: new DeadLetters(ledger, p.jobId) });
}

async function expectRawEqual(p: { source: string; target: string }): Promise<void> {
  const { source, target } = await rawPair(p.source, p.target, rawKey);
  expect([...target.keys()].sort()).toEqual([...source.keys()].sort());
  for (const [k, text] of source) expect(target.get(k), k).toBe(text);
}

/** Items with every edge value, several per number (attribute, set member, nested, key). */
function edgeItems(prefix: string): RawItem[] {
  const items: RawItem[] = EDGE_NUMBERS.map((n, i) => ({
    pk: { S: `${prefix}#${i}` },
    sk: { N: ['9007199254740993', '18446744073709551615', '-9223372036854775808', '12345678901234567890123456789012345678'][i % 4]! },
    n: { N: n },
    ns: { NS: [n, '1', '0.1000000000000000055511151231257827'].filter((x, j, all) => all.findIndex((y) => Number(y) === Number(x) && y === x) === j) },
    nested: { M: { l: { L: [{ N: n }, { M: {} }, { L: [] }] }, m: { M: {} } } },
    emptyMap: { M: {} },
    emptyList: { L: [] },
    b: { B: new Uint8Array([0, 255, i]) },
    bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
    ss: { SS: ['a', 'ü', ''.padEnd(3, 'z')] },
    empty: { S: '' },
    nul: { NULL: true },
    t: { BOOL: true },
  }));
  return items;
}

describe('exact values', () => {
  it('copy, then sync of puts, updates and deletes: numbers at 38 digits and at the edges of the range, sets, binary, empty maps and lists arrive byte for byte, verify = 0', async () => {
    // GIVEN a source with every edge value
    const p = await pair({ stream: true });
    for (const item of edgeItems('copy')) await put(p.source, item);
    const io = new RecordingIoHost();

    // WHEN it is copied
    const copied = await copy(io, p).run();

    // THEN nothing is dead-lettered, verify finds no difference, and the target is the source
    expect(copied).toMatchObject({ complete: true, deadLetters: 0, itemsRead: EDGE_NUMBERS.length });
    expect(await verify(io, p)).toMatchObject({ differences: 0, deadLettered: 0 });
    await expectRawEqual(p);

    // WHEN edge values change through the stream: new items (empty maps in stream images),
    // updates of numbers in place, and a delete
    for (const item of edgeItems('sync')) await put(p.source, item);
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: p.source,
        Key: { pk: { S: 'copy#0' }, sk: { N: '9007199254740993' } },
        UpdateExpression: 'SET n = :n, deep = :m ADD ns :add',
        ExpressionAttributeValues: { ':n': { N: '-0.1000000000000000055511151231257827' }, ':m': { M: { e: { M: {} } } }, ':add': { NS: ['99999999999999999999999999999999999999'] } },
      }),
    );
    await dynamodb.send(new DeleteItemCommand({ TableName: p.source, Key: { pk: { S: 'copy#1' }, sk: { N: '18446744073709551615' } } }));
    const synced = await sync(io, p).run({ stopWhenCaughtUp: true });

    // THEN no record stopped the sync or became a dead letter, and the target is the source again
    expect(synced.deadLetters).toBe(0);
    expect(await verify(io, p)).toMatchObject({ differences: 0, deadLettered: 0 });
    await expectRawEqual(p);
  });

  it('gives migrations exactText/exactNumber, and makes an output that loses digits a NUMBER_PRECISION dead letter', async () => {
    // GIVEN a migration that adds one to a 20-digit counter exactly, and one that converts it to a JS number
    const exact: Migration = {
      table: 'things',
      version: 2,
      description: 'counter + 1, exactly',
      up: (item: Item) => ({ ...item, counter: exactNumber((BigInt(exactText(item.counter)) + 1n).toString()) }),
    };
    const lossy: Migration = { table: 'things', version: 2, description: 'counter as a JS number', up: (item: Item) => ({ ...item, counter: Number(exactText(item.counter)) }) };
    const chainOf = (m: Migration) => new MigrationChain({ table: 'things', fromVersion: 1, toVersion: 2, steps: [m], keyNames: KEYS });
    const io = new RecordingIoHost();
    const good = await pair();
    const bad = await pair();
    for (const p of [good, bad]) {
      await put(p.source, { pk: { S: 'a' }, sk: { N: '1' }, counter: { N: '12345678901234567890' } });
      await put(p.source, { pk: { S: 'b' }, sk: { N: '2' }, counter: { N: '7' } });
    }

    // WHEN both copy
    const r1 = await copy(io, good, chainOf(exact)).run();
    const r2 = await copy(io, bad, chainOf(lossy)).run();

    // THEN the exact one writes 12345678901234567891; the lossy one dead-letters the big counter only
    expect(r1).toMatchObject({ deadLetters: 0, complete: true });
    const { target } = await rawPair(good.source, good.target, rawKey);
    expect(JSON.parse(target.get('a|1')!).counter).toEqual({ N: '12345678901234567891' });
    expect(await verify(io, good, chainOf(exact))).toMatchObject({ differences: 0 });
    expect(r2).toMatchObject({ deadLetters: 1, complete: true });
    const [dl] = await new DeadLetters(ledger, bad.jobId).list();
    expect(dl).toMatchObject({ errorCode: 'NUMBER_PRECISION', sourceKey: { pk: 'a' } });
  });
});

describe('attribute names the SDK mishandles', () => {
  // JSON.parse makes `__proto__` an own field; an object literal would set the prototype
  const protoItem = (pk: string, n: string): RawItem =>
    JSON.parse(
      `{"pk":{"S":"${pk}"},"sk":{"N":"${n}"},"__proto__":{"S":"top ${n}"},"constructor":{"N":"${n}"},"toString":{"S":"t"},` +
        `"m":{"M":{"__proto__":{"M":{"__proto__":{"N":"${n}"}}},"hasOwnProperty":{"BOOL":true}}},"l":{"L":[{"M":{"__proto__":{"B":"AAE="}}}]},` +
        // marshall took a map whose `constructor` has name "String" for a string
        `"spoof":{"M":{"constructor":{"M":{"name":{"S":"String"}}},"valueOf":{"S":"v"}}},"set":{"M":{"constructor":{"M":{"name":{"S":"Set"}}}}}}`,
    ) as RawItem;

  it('attributes named __proto__ and constructor (top level, nested, in lists, a map whose constructor is named String), toString, valueOf: copy, sync of puts, updates and deletes carry them byte for byte, verify = 0', async () => {
    // GIVEN a source whose items have such attributes
    const p = await pair({ stream: true });
    for (const i of [1, 2, 3]) await put(p.source, protoItem('copy', String(i)));
    const io = new RecordingIoHost();

    // WHEN it is copied
    const copied = await copy(io, p).run();

    // THEN every one arrives, and verify (which reads through the same SDK) agrees
    expect(io.messages.filter((m) => m.level === "error" || m.level === "warn").map((m) => m.message)).toEqual([]);
    expect(copied).toMatchObject({ complete: true, deadLetters: 0, itemsRead: 3 });
    await expectRawEqual(p);
    expect(await verify(io, p)).toMatchObject({ differences: 0, deadLettered: 0 });

    // WHEN the stream brings new such items, an update of a __proto__ attribute and a delete
    for (const i of [4, 5]) await put(p.source, protoItem('sync', String(i)));
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: p.source,
        Key: { pk: { S: 'copy' }, sk: { N: '1' } },
        UpdateExpression: 'SET #p = :v, m.#p.#p = :n',
        ExpressionAttributeNames: { '#p': '__proto__' },
        ExpressionAttributeValues: { ':v': { SS: ['changed'] }, ':n': { N: '-1E-130' } },
      }),
    );
    await dynamodb.send(new DeleteItemCommand({ TableName: p.source, Key: { pk: { S: 'copy' }, sk: { N: '2' } } }));
    const synced = await sync(io, p).run({ stopWhenCaughtUp: true });

    // THEN the target is the source again
    expect(synced.deadLetters).toBe(0);
    await expectRawEqual(p);
    expect(await verify(io, p)).toMatchObject({ differences: 0, deadLettered: 0 });
  });

  it('migrations see attributes named __proto__ and constructor under PROTO_ATTRIBUTE and CONSTRUCTOR_ATTRIBUTE, and can change them', async () => {
    // GIVEN a migration that upper-cases the __proto__ attribute
    const upper: Migration = {
      table: 'things',
      version: 2,
      description: 'upper-case __proto__',
      up: (item: Item) => ({ ...item, [PROTO_ATTRIBUTE]: String(item[PROTO_ATTRIBUTE]).toUpperCase(), [CONSTRUCTOR_ATTRIBUTE]: 'changed' }),
    };
    const p = await pair();
    await put(p.source, protoItem('m', '7'));
    const io = new RecordingIoHost();

    // WHEN the copy runs it
    const copied = await copy(io, p, new MigrationChain({ table: 'things', fromVersion: 1, toVersion: 2, steps: [upper], keyNames: KEYS })).run();

    // THEN the target's attribute named __proto__ holds the migrated value
    expect(copied).toMatchObject({ complete: true, deadLetters: 0 });
    const [item] = await rawScan(p.target);
    expect(item!['__proto__']).toEqual({ S: 'TOP 7' });
    expect(item!['constructor']).toEqual({ S: 'changed' });
  });
});

describe('poison records', () => {
  it('a record whose migration throws is a dead letter, later records of its key wait behind it, the rest flows; redrive resumes the key: verify = 0', async () => {
    // GIVEN a copied table and a migration that throws on items marked poison
    const poisonous: Migration = {
      table: 'things',
      version: 2,
      description: 'refuses poison',
      up: (item: Item) => {
        if (item.poison === true) throw new Error('poison');
        return item;
      },
    };
    const chain = new MigrationChain({ table: 'things', fromVersion: 1, toVersion: 2, steps: [poisonous], keyNames: KEYS });
    const p = await pair({ stream: true });
    for (let i = 0; i < 10; i++) await put(p.source, { pk: { S: `k${i}` }, sk: { N: '1' }, v: { N: '0' } });
    const io = new RecordingIoHost();
    await copy(io, p, chain).run();

    // WHEN key k0 is poisoned and then changed again, while every other key changes too
    await put(p.source, { pk: { S: 'k0' }, sk: { N: '1' }, v: { N: '1' }, poison: { BOOL: true } });
    await put(p.source, { pk: { S: 'k0' }, sk: { N: '1' }, v: { N: '2' } });
    for (let i = 1; i < 10; i++) await put(p.source, { pk: { S: `k${i}` }, sk: { N: '1' }, v: { N: '12345678901234567890.5' } });
    const r = await sync(io, p, chain).run({ stopWhenCaughtUp: true });

    // THEN the poison record and the one behind it are dead letters (one ledger record), the rest applied
    expect(r).toMatchObject({ stoppedBy: 'caught-up', deadLetters: 2 });
    const dls = await new DeadLetters(ledger, p.jobId).list();
    expect(dls).toHaveLength(1);
    expect(dls[0]).toMatchObject({ errorCode: 'MIGRATION_THREW', occurrences: 2, sourceKey: { pk: 'k0' } });
    expect(dls[0]!.sequenceNumber).toBeDefined();
    expect(await verify(io, p, chain)).toMatchObject({ deadLettered: 1 });

    // WHEN the key is re-driven (it reads the current source item) and the sync goes on
    const rd = await redriveDeadLetters({ ioHost: io, jobId: p.jobId, ledger, sourceTable: p.source, targetTable: p.target, keyNames: KEYS, chain });
    await put(p.source, { pk: { S: 'k0' }, sk: { N: '1' }, v: { N: '3' } });
    const after = await sync(io, p, chain).run({ stopWhenCaughtUp: true });

    // THEN the key resumed and the copy is exact
    expect(rd).toMatchObject({ fixed: 1 });
    expect(after.deadLetters).toBe(0);
    expect(await verify(io, p, chain)).toMatchObject({ differences: 0, deadLettered: 0 });
    await expectRawEqual(p);
  });
});

describe('sizes', () => {
  /** An item of exactly `bytes` bytes (lib/item/item-size.ts rules) with the given key. */
  function sized(pk: string, sk: string, bytes: number): RawItem {
    const base = itemSizeBytes({ pk, sk: Number(sk), blob: '' });
    return { pk: { S: pk }, sk: { N: sk }, blob: { S: 'x'.repeat(bytes - base) } };
  }

  it('an item that cannot fit with the engine attributes is a dead letter alone; its neighbours and its segment are copied; items just under fit', async () => {
    // GIVEN, with 1000-byte partition keys (the source key is written again in _ssSrc), an item of
    // 400 KB less 100 bytes (no room for the engine attributes), one that leaves just room, and 30
    // small neighbours, in one segment
    const p = await pair();
    await put(p.source, sized('a'.repeat(1000), '1', MAX_ITEM_BYTES - 100));
    await put(p.source, sized('b'.repeat(1000), '2', MAX_ITEM_BYTES - 1000 - 200 - DELETE_STAMP_BYTES));
    for (let i = 0; i < 30; i++) await put(p.source, { pk: { S: `small${i}` }, sk: { N: String(i) }, v: { N: '1' } });
    const io = new RecordingIoHost();

    // WHEN it is copied in one segment
    const r = await copy(io, p, identity, { totalSegments: 1 }).run();

    // THEN one dead letter, the segment completed, every other item copied
    expect(r).toMatchObject({ complete: true, deadLetters: 1, itemsRead: 32 });
    const [dl] = await new DeadLetters(ledger, p.jobId).list();
    expect(dl!.errorCode).toBe('ITEM_TOO_LARGE');
    expect(await verify(io, p)).toMatchObject({ differences: 0, deadLettered: 1 });
  });

  it('a DEAD segment is retried when the copy is run again', async () => {
    // GIVEN a copy job whose only segment went DEAD
    const p = await pair();
    for (let i = 0; i < 5; i++) await put(p.source, { pk: { S: `d${i}` }, sk: { N: String(i) } });
    const io = new RecordingIoHost();
    const job = copy(io, p, identity, { totalSegments: 1 });
    await job.prepare();
    const tasks = new SegmentTasks(ledger, p.jobId);
    const claimed = await tasks.claim('someone', 30_000);
    await tasks.fail(claimed!.segment, 'someone', new Error('boom'), { dead: true });
    expect((await tasks.summary()).byStatus.DEAD).toBe(1);

    // WHEN the copy runs again
    const r = await copy(io, p, identity, { totalSegments: 1 }).run();

    // THEN the segment is copied and the run says so
    expect(r).toMatchObject({ complete: true, itemsRead: 5 });
    expect(io.withCode('COPY_I2007')).toHaveLength(1);
    expect(await verify(io, p)).toMatchObject({ differences: 0 });
  });
});

describe('bad input', () => {
  it('refuses a target whose key types differ from what the migration writes, before writing anything', async () => {
    // GIVEN v1 products and a target keyed (pk S, sk N)
    const source = uniqueName('ksrc');
    const target = uniqueName('kdst');
    await createTable(source, PRODUCT_KEYS);
    await createTable(target, PRODUCT_KEYS, { sortKeyType: 'N' });
    await put(source, { pk: { S: 'PRODUCT#1' }, sk: { S: 'CHANNEL#US' }, sku: { S: 's' }, title: { S: 't' }, artist: { S: 'a' }, format: { S: 'LP' }, releaseYear: { N: '1999' }, description: { S: '' }, price: { N: '100' }, currency: { S: 'USD' }, stock: { N: '1' }, published: { BOOL: true } });
    const job = new CopyJob({ ioHost: new RecordingIoHost(), jobId: uniqueName('kjob'), sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: upChain, ledger });

    // WHEN / THEN one user error naming the bad value; with the manifest's types, the table itself
    await expect(job.run()).rejects.toMatchObject({ code: 'KEY_TYPE_MISMATCH', source: 'user' });
    await expect(job.run()).rejects.toThrow(/"sk" = "PRODUCT"/);
    const withManifest = new CopyJob({ ioHost: new RecordingIoHost(), jobId: uniqueName('kjob'), sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: upChain, ledger, keyTypes: { target: { partitionKey: 'S', sortKey: 'S' } } });
    await expect(withManifest.run()).rejects.toThrow(/keys "sk" as N \(number\), the manifest says S/);
    expect((await rawPair(source, target, (i) => String(i.pk?.S))).target.size).toBe(0);
  });

  it('the sync refuses a target whose key types differ from what the migration writes, without a DescribeTable', async () => {
    // GIVEN v1 products with a stream, and a target keyed (pk S, sk N) that holds an item
    const source = uniqueName('kssrc');
    const target = uniqueName('ksdst');
    await createTable(source, PRODUCT_KEYS, { stream: true });
    await createTable(target, PRODUCT_KEYS, { sortKeyType: 'N' });
    await put(target, { pk: { S: 'x' }, sk: { N: '1' } });
    await put(source, { pk: { S: 'PRODUCT#1' }, sk: { S: 'CHANNEL#US' }, sku: { S: 's' }, title: { S: 't' }, artist: { S: 'a' }, format: { S: 'LP' }, releaseYear: { N: '1999' }, description: { S: '' }, price: { N: '100' }, currency: { S: 'USD' }, stock: { N: '1' }, published: { BOOL: true } });
    const counted = new DynamoDBClient({});
    const commands: string[] = [];
    counted.middlewareStack.add((next, context) => (args) => {
      commands.push(String(context.commandName));
      return next(args);
    });

    // WHEN a sync starts THEN one user error, and no table was described
    const s = new TableSync({ ioHost: new RecordingIoHost(), syncId: uniqueName('ks'), ledger, sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: upChain, dynamodb: counted, pollIntervalMs: 50 });
    await expect(s.run({ stopWhenCaughtUp: true })).rejects.toMatchObject({ code: 'KEY_TYPE_MISMATCH', source: 'user' });
    expect(commands).not.toContain('DescribeTableCommand');
    expect(commands.length).toBeGreaterThan(0);
  });

  it('says in one line that the ledger table is missing', async () => {
    const p = await pair();
    const missing = new Ledger({ tableName: uniqueName('no-ledger') });
    const job = new CopyJob({ ioHost: new RecordingIoHost(), jobId: p.jobId, sourceTable: p.source, targetTable: p.target, keyNames: KEYS, chain: identity, ledger: missing });
    await expect(job.run()).rejects.toMatchObject({ code: 'LEDGER_MISSING', source: 'user' });
  });
});
