/**
 * Tables read as DynamoDB returns them: what "target equals source byte for byte" is checked on.
 * rawScan reads the wire JSON itself, not through the AWS SDK, whose deserializer is one of the
 * things under test (it loses attributes named `__proto__`; lib/data/proto-attribute.ts). Sets are
 * compared as sorted lists (DynamoDB keeps no set order), binary as base64; the engine's `_ss*`
 * attributes are left out of target items.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { META_PREFIX } from '../../lib/item/item';

export type RawItem = Record<string, AttributeValue>;

/** Every item of a table, as the JSON DynamoDB Local sends (binary as base64 text). */
export async function rawScan(table: string): Promise<RawItem[]> {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL_DYNAMODB is not set: rawScan reads DynamoDB Local directly');
  const out: RawItem[] = [];
  let start: unknown;
  do {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.Scan',
        // DynamoDB Local checks that a request is signed, not the signature
        authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({ TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }),
    });
    const page = (await res.json()) as { Items?: RawItem[]; LastEvaluatedKey?: unknown; message?: string };
    if (!res.ok) throw new Error(`raw Scan of ${table}: ${res.status} ${page.message ?? ''}`);
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

const base64 = (b: Uint8Array | string): string => (typeof b === 'string' ? b : Buffer.from(b).toString('base64'));

/** One raw item as canonical text: attribute names sorted, sets sorted, binary as base64, `_ss*` left out. */
export function rawText(item: RawItem): string {
  // null prototype: a field named `__proto__` is then a field, not the prototype
  const out: Record<string, unknown> = Object.create(null);
  for (const name of Object.keys(item).sort()) if (!name.startsWith(META_PREFIX)) out[name] = canon(item[name]!);
  return JSON.stringify(out);
}

function canon(v: AttributeValue): unknown {
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: v.N };
  if (v.B !== undefined) return { B: base64(v.B) };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: v.NULL };
  if (v.SS !== undefined) return { SS: [...v.SS].sort() };
  if (v.NS !== undefined) return { NS: [...v.NS].sort() };
  if (v.BS !== undefined) return { BS: v.BS.map(base64).sort() };
  if (v.L !== undefined) return { L: v.L.map(canon) };
  if (v.M !== undefined) {
    const m: Record<string, unknown> = Object.create(null);
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
