/**
 * Tables read as DynamoDB returns them (AttributeValues, no conversion): what "target equals source
 * byte for byte" is checked on. Sets are compared as sorted lists (DynamoDB keeps no set order),
 * binary as base64; the engine's `_ss*` attributes are left out of target items.
 */
import { DynamoDBClient, paginateScan, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { META_PREFIX } from '../../lib/data/item';

export type RawItem = Record<string, AttributeValue>;

export async function rawScan(table: string, client = new DynamoDBClient({})): Promise<RawItem[]> {
  const out: RawItem[] = [];
  for await (const page of paginateScan({ client }, { TableName: table, ConsistentRead: true })) out.push(...(page.Items ?? []));
  return out;
}

/** One raw item as canonical text: attribute names sorted, sets sorted, binary as base64, `_ss*` left out. */
export function rawText(item: RawItem): string {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(item).sort()) if (!name.startsWith(META_PREFIX)) out[name] = canon(item[name]!);
  return JSON.stringify(out);
}

function canon(v: AttributeValue): unknown {
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: v.N };
  if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: v.NULL };
  if (v.SS !== undefined) return { SS: [...v.SS].sort() };
  if (v.NS !== undefined) return { NS: [...v.NS].sort() };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b).toString('base64')).sort() };
  if (v.L !== undefined) return { L: v.L.map(canon) };
  if (v.M !== undefined) {
    const m: Record<string, unknown> = {};
    for (const k of Object.keys(v.M).sort()) m[k] = canon(v.M[k]!);
    return { M: m };
  }
  return { unknown: v };
}

/** Source and target as maps from an item's key text to its canonical text. */
export async function rawPair(source: string, target: string, keyOf: (i: RawItem) => string): Promise<{ source: Map<string, string>; target: Map<string, string> }> {
  const [s, t] = await Promise.all([rawScan(source), rawScan(target)]);
  return {
    source: new Map(s.map((i) => [keyOf(i), rawText(i)])),
    target: new Map(t.map((i) => [keyOf(i), rawText(i)])),
  };
}
