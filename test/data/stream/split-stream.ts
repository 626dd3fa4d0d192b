/**
 * A real table's stream, as if DynamoDB had split its shards (DynamoDB Local never does: one shard
 * per table). Every record of the table's one shard is read, then spread over this lineage by key
 * and time, the way a split moves a key's later records to a child:
 *
 *   R0 (closed) ─┬─ R0a (closed) ── R0a1 (open)      keys of hash bucket 0 (of 4)
 *                └─ R0b (open)                        keys of bucket 1
 *   R1 (closed) ─── R1a (open)                        keys of buckets 2 and 3
 *
 * Records in the first half (by sequence number) stay in the roots, the third quarter goes to the
 * first-generation children, the last quarter to R0a1 (bucket 0) or stays in R0b / R1a. So each
 * key's records are in one shard at a time, in order, and a parent ends before its children start.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { FakeStream, type FakeShardSpec } from './fake-stream';

export interface SplitStream {
  readonly streamArn: string;
  readonly specs: readonly FakeShardSpec[];
  /** Every record, in sequence-number order. */
  readonly records: readonly _Record[];
  /** Parent of each shard that has one. */
  readonly parents: Readonly<Record<string, string>>;
  /** A FakeStream (own mocked client, own call log) serving the split shards. */
  fake(): FakeStream;
}

/** Reads the whole stream of `tableName` (one shard in DynamoDB Local) and splits it. */
export async function splitStream(dynamodb: DynamoDBClient, tableName: string): Promise<SplitStream> {
  const streamArn = (await dynamodb.send(new DescribeTableCommand({ TableName: tableName }))).Table!.LatestStreamArn!;
  const records = await readAll(streamArn);
  const bucket = (r: _Record) => hash(JSON.stringify(r.dynamodb!.Keys)) % 4;
  const shards: Record<string, _Record[]> = { R0: [], R0a: [], R0a1: [], R0b: [], R1: [], R1a: [] };
  records.forEach((r, i) => {
    const b = bucket(r);
    const phase = i < records.length / 2 ? 0 : i < (records.length * 3) / 4 ? 1 : 2;
    if (b >= 2) shards[phase === 0 ? 'R1' : 'R1a']!.push(r);
    else if (b === 1) shards[phase === 0 ? 'R0' : 'R0b']!.push(r);
    else shards[['R0', 'R0a', 'R0a1'][phase]!]!.push(r);
  });
  const parents = { R0a: 'R0', R0a1: 'R0a', R0b: 'R0', R1a: 'R1' };
  const closed = new Set(['R0', 'R0a', 'R1']);
  // Children listed before their parents: the reader must not take description order for lineage.
  const specs: FakeShardSpec[] = ['R0a1', 'R0b', 'R0a', 'R1a', 'R0', 'R1'].map((shardId) => ({
    shardId,
    ...(shardId in parents ? { parentShardId: parents[shardId as keyof typeof parents] } : {}),
    records: shards[shardId]!.length,
    wire: shards[shardId]!,
    closed: closed.has(shardId),
  }));
  return { streamArn, specs, records, parents, fake: () => new FakeStream(specs, { streamArn }) };
}

async function readAll(streamArn: string): Promise<_Record[]> {
  const client = new DynamoDBStreamsClient({});
  try {
    const out: _Record[] = [];
    for (const shard of (await client.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!.Shards ?? []) {
      let iterator = (await client.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (iterator) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
        out.push(...(page.Records ?? []));
        if ((page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return out.sort((a, b) => (BigInt(a.dynamodb!.SequenceNumber!) < BigInt(b.dynamodb!.SequenceNumber!) ? -1 : 1));
  } finally {
    client.destroy();
  }
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
