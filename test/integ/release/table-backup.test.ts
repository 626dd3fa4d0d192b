/**
 * The JSON-lines export a teardown falls back to where the endpoint has no backups (DynamoDB
 * Local): every item, exactly as stored, in a table large enough for many scan segments.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutItemCommand, DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { rawText } from '../../_helpers/raw-items';
import { exportTable } from '../../../lib/release/table-backup';
import { scanSegmentsFor } from '../../../lib/data/scan-segments';
import { generateV1Products } from '../../../examples/catalog/data';
import { createTable, putAll, uniqueName } from '../../_helpers/tables';

describe('exportTable', () => {
  it('writes every item once, numbers, sets and binaries as stored', async () => {
    // GIVEN 15,000 items (more than 8 scan segments' worth) and one item of every awkward type
    const table = uniqueName('backup');
    await createTable(table);
    const items = [...generateV1Products({ products: 5000 })];
    await putAll(table, items);
    const odd: Record<string, AttributeValue> = {
      pk: { S: 'odd' },
      sk: { S: 'types' },
      big: { N: '12345678901234567890.123456789' },
      tags: { SS: ['a', 'b'] },
      sizes: { NS: ['1', '2.5'] },
      blob: { B: Uint8Array.from([0, 255, 16]) },
      nested: { M: { list: { L: [{ NULL: true }, { BOOL: false }] } } },
      // names the SDK cannot carry as they are (lib/item/special-names.ts)
      ...(JSON.parse('{"__proto__":{"S":"p"},"constructor":{"M":{"__proto__":{"N":"1"}}}}') as Record<string, AttributeValue>),
    };
    const client = new DynamoDBClient({});
    await client.send(new PutItemCommand({ TableName: table, Item: odd }));
    expect(scanSegmentsFor({ approximateItemCount: items.length + 1, approximateSizeBytes: 0 })).toBeGreaterThan(1);

    // WHEN it is exported
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = await exportTable({ dynamodb: client, tableName: table, dir, at: '2026-11-22T05:00:00.000Z' });

    // THEN the file holds each item once, the odd one exactly as stored, and no partial file is left
    expect(path.basename(file)).toBe(`${table}-2026-11-22T05-00-00-000Z.jsonl`);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, AttributeValue & { B?: string }>);
    expect(lines).toHaveLength(items.length + 1);
    const keys = new Set(lines.map((l) => `${l.pk.S}|${l.sk.S}`));
    expect(keys.size).toBe(items.length + 1);
    for (const i of items.slice(0, 50)) expect(keys.has(`${i.pk}|${i.sk}`)).toBe(true);
    const exported = lines.find((l) => l.pk.S === 'odd')!;
    expect(rawText(exported)).toBe(rawText(odd));
    expect(rawText(exported)).toContain('"__proto__":{"S":"p"}');
    expect(fs.readdirSync(dir)).toEqual([path.basename(file)]);
  });
});
