/**
 * A table's newest stream, found through the Streams API (ListStreams, then DescribeStream) rather
 * than DescribeTable. DescribeTable answers with the table's item count, which DynamoDB Local
 * computes by counting every item while it holds its one database lock: measured 650 ms on a
 * 900,000-item table, during which every other call of every process waits (the apps, both syncs).
 * The callers run where that hurts most: at a promote and at each sync start, with traffic on.
 */
import { DescribeStreamCommand, ListStreamsCommand, type DynamoDBStreamsClient, type StreamStatus } from '@aws-sdk/client-dynamodb-streams';
import type { ShardInfo } from './shard-lineage';

export interface TableStream {
  readonly streamArn: string;
  readonly status: StreamStatus;
  /** NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE or KEYS_ONLY. */
  readonly viewType?: string;
  /** Every shard DescribeStream lists now, each with its parent if it has one. */
  readonly shards: readonly ShardInfo[];
}

/**
 * The newest stream of `tableName` (the one DescribeTable calls LatestStreamArn), or undefined when
 * the table never had one. Also undefined when the table does not exist or the name is invalid:
 * callers that must tell those apart ask DescribeTable then, once, on their way to an error.
 */
export async function latestStreamOf(client: DynamoDBStreamsClient, tableName: string): Promise<TableStream | undefined> {
  const newest = await newestStreamArn(client, tableName);
  if (!newest) return undefined;
  const shards: ShardInfo[] = [];
  let status: StreamStatus | undefined;
  let viewType: string | undefined;
  let start: string | undefined;
  do {
    const d = (await client.send(new DescribeStreamCommand({ StreamArn: newest, ExclusiveStartShardId: start }))).StreamDescription;
    status = d?.StreamStatus ?? status;
    viewType = d?.StreamViewType ?? viewType;
    for (const s of d?.Shards ?? []) {
      if (s.ShardId) shards.push(s.ParentShardId ? { shardId: s.ShardId, parentShardId: s.ParentShardId } : { shardId: s.ShardId });
    }
    start = d?.LastEvaluatedShardId;
  } while (start);
  return { streamArn: newest, status: status ?? 'DISABLED', viewType, shards };
}

/** True while a stream records changes (or is about to). */
export function isStreamOn(stream: TableStream): boolean {
  return stream.status === 'ENABLED' || stream.status === 'ENABLING';
}

async function newestStreamArn(client: DynamoDBStreamsClient, tableName: string): Promise<string | undefined> {
  // A stream turned off and on again lists the old one too (readable for a day); the newest label
  // wins (labels are ISO 8601 timestamps, so they order as strings).
  let newest: { arn: string; label: string } | undefined;
  let start: string | undefined;
  do {
    let out;
    try {
      out = await client.send(new ListStreamsCommand({ TableName: tableName, ExclusiveStartStreamArn: start }));
    } catch (err) {
      if (err instanceof Error && (err.name === 'ResourceNotFoundException' || err.name === 'ValidationException')) return undefined;
      throw err;
    }
    for (const s of out.Streams ?? []) {
      if (s.TableName !== tableName || !s.StreamArn) continue;
      const label = s.StreamLabel ?? '';
      if (!newest || label > newest.label) newest = { arn: s.StreamArn, label };
    }
    start = out.LastEvaluatedStreamArn;
  } while (start);
  return newest?.arn;
}
