/**
 * Property (issue 14): for ANY DynamoDB item — arbitrary attribute values, edges included
 * (test/_helpers/attribute-value-arb.ts) — copy and sync through the identity migration leave the
 * target equal to the source byte for byte (as DynamoDB returns them, apart from `_ss*`), with no
 * dead letter. Bounded runs: each property stays well under 30 s on DynamoDB Local.
 */
import { DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import type { KeyNames } from '../../../lib/item/item';
import { MigrationChain } from '../../../lib/data/migrations/chain';
import { TableSync } from '../../../lib/data/stream/table-sync';
import { verifyCopy } from '../../../lib/data/verify/verify-copy';
import { RecordingIoHost } from '../../../lib/io';
import { DeadLetters, type Ledger } from '../../../lib/ledger';
import { attributes, numberText } from '../../_helpers/attribute-value-arb';
import { useLedger } from '../../_helpers/data-pair';
import { rawPair, type RawItem } from '../../_helpers/raw-items';
import { createTable, uniqueName } from '../../_helpers/tables';

const KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };
const identity = new MigrationChain({ table: 'things', fromVersion: 1, toVersion: 1, steps: [], keyNames: KEYS });
const ledgerTable = useLedger();
let ledger: Ledger;
beforeAll(() => {
  ledger = ledgerTable.ledger();
});
const dynamodb = new DynamoDBClient({});
const rawKey = (i: RawItem): string => `${i.pk!.S}|${i.sk!.N}`;

/** Items with distinct keys: a string partition key and a number sort key (any exact number). */
const items = (maxLength: number) =>
  fc
    .uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), numberText, attributes), {
      minLength: 1,
      maxLength,
      selector: ([pk, sk]) => `${pk}|${Number(sk)}|${sk.replace(/^-?0*\.?0*$/, '0')}`,
    })
    .map((rows) =>
      // DynamoDB keys compare numbers by value: keep one row per (pk, value of sk)
      rows.filter((row, i) => rows.findIndex((r) => r[0] === row[0] && sameNumber(r[1], row[1])) === i).map(([pk, sk, attrs]): RawItem => ({ ...attrs, pk: { S: pk }, sk: { N: sk } })),
    );

function sameNumber(a: string, b: string): boolean {
  return canonical(a) === canonical(b);
}

function canonical(text: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
  const digits = ((m[2] ?? '') + (m[3] ?? '')).replace(/^0+/, '');
  if (digits === '') return '0';
  const trimmed = digits.replace(/0+$/, '');
  return `${m[1]}${trimmed}e${Number(m[4] ?? 0) - (m[3] ?? '').length + digits.length - trimmed.length}`;
}

async function putAllRaw(table: string, rows: readonly RawItem[]): Promise<void> {
  for (const item of rows) await dynamodb.send(new PutItemCommand({ TableName: table, Item: item as Record<string, AttributeValue> }));
}

async function expectSame(source: string, target: string): Promise<void> {
  const raw = await rawPair(source, target, rawKey);
  expect([...raw.target.keys()].sort()).toEqual([...raw.source.keys()].sort());
  for (const [k, text] of raw.source) expect(raw.target.get(k), k).toBe(text);
}

describe('copy and sync carry any DynamoDB item byte for byte (property)', () => {
  it('copy: target equals source for every generated item, verify = 0', async () => {
    await fc.assert(
      fc.asyncProperty(items(12), async (rows) => {
        const source = uniqueName('psrc');
        const target = uniqueName('pdst');
        await createTable(source, KEYS, { sortKeyType: 'N' });
        await createTable(target, KEYS, { sortKeyType: 'N' });
        await putAllRaw(source, rows);
        const io = new RecordingIoHost();
        const jobId = uniqueName('pjob');
        const r = await new CopyJob({ ioHost: io, jobId, sourceTable: source, targetTable: target, keyNames: KEYS, chain: identity, ledger, totalSegments: 2 }).run();
        expect(r).toMatchObject({ complete: true, deadLetters: 0 });
        await expectSame(source, target);
        const v = await verifyCopy({ ioHost: io, sourceTable: source, targetTable: target, keyNames: KEYS, chain: identity, deadLetters: new DeadLetters(ledger, jobId) });
        expect(v).toMatchObject({ differences: 0, deadLettered: 0 });
      }),
      { numRuns: 6, endOnFailure: true },
    );
  }, 60_000);

  it('sync: every generated item put through the stream arrives byte for byte, no dead letter', async () => {
    // GIVEN an empty source with a stream, copied (nothing), and followed by one sync
    const source = uniqueName('pssrc');
    const target = uniqueName('psdst');
    await createTable(source, KEYS, { sortKeyType: 'N', stream: true });
    await createTable(target, KEYS, { sortKeyType: 'N' });
    const io = new RecordingIoHost();
    const jobId = uniqueName('psjob');
    await new CopyJob({ ioHost: io, jobId, sourceTable: source, targetTable: target, keyNames: KEYS, chain: identity, ledger, totalSegments: 1 }).run();
    const sync = () => new TableSync({ ioHost: io, syncId: `${jobId}#forward`, ledger, sourceTable: source, targetTable: target, keyNames: KEYS, chain: identity, copyJobId: jobId, pollIntervalMs: 20 });

    // WHEN each run puts its generated items (new and overwriting earlier runs' keys) and the sync catches up
    await fc.assert(
      fc.asyncProperty(items(10), async (rows) => {
        await putAllRaw(source, rows);
        const r = await sync().run({ stopWhenCaughtUp: true });
        // THEN the target is the source, byte for byte
        expect(r.deadLetters).toBe(0);
        await expectSame(source, target);
      }),
      { numRuns: 6, endOnFailure: true },
    );
  }, 90_000);
});
