/**
 * Turns on a table's stream (NEW_AND_OLD_IMAGES) if it is off: before the copy captures T0 on the
 * live tables, and on a release's own tables at promote (the reverse sync reads them). Where the
 * stack already declares the stream (CloudFormation on AWS) this only reads. The local target
 * creates tables without streams and leaves them to this step (see MirroredTablesTarget).
 *
 * It reads through the Streams API, not DescribeTable (see table-stream.ts: on DynamoDB Local a
 * DescribeTable of a big table stops every other call for most of a second, and a promote runs
 * under traffic). The one UpdateTable that turns a stream on costs as much, once.
 */
import { UpdateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { setTimeout as sleep } from 'node:timers/promises';
import { toolError } from '../errors';
import { REQUIRED_STREAM_VIEW_TYPE } from '../data/stream/stream-positions';
import { isStreamOn, latestStreamOf, type TableStream } from '../data/stream/table-stream';

export interface EnsureStreamClients {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
}

/** Returns once the table's stream is ENABLED: 'present' if it was on already, 'enabled' if this turned it on. */
export async function ensureStream(clients: EnsureStreamClients, tableName: string, timeoutMs = 60_000): Promise<'enabled' | 'present'> {
  const before = await latestStreamOf(clients.streams, tableName);
  const deadline = Date.now() + timeoutMs;
  if (before && isStreamOn(before)) {
    assertViewType(tableName, before);
    if (before.status !== 'ENABLED') await waitEnabled(clients.streams, tableName, before.streamArn, deadline);
    return 'present';
  }
  await clients.dynamodb.send(
    new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: REQUIRED_STREAM_VIEW_TYPE } }),
  );
  await waitEnabled(clients.streams, tableName, undefined, deadline, before?.streamArn);
  return 'enabled';
}

function assertViewType(tableName: string, stream: TableStream): void {
  if (stream.viewType === REQUIRED_STREAM_VIEW_TYPE) return;
  throw toolError('STREAM_VIEW_TYPE', `table ${tableName} streams ${stream.viewType}, the sync needs ${REQUIRED_STREAM_VIEW_TYPE}`, {
    fix: 'set the stream view type in the table manifest (a view type cannot change without turning the stream off)',
  });
}

/** Polls until the table's newest stream (`streamArn`, or any but `notArn`) is ENABLED. */
async function waitEnabled(streams: DynamoDBStreamsClient, tableName: string, streamArn: string | undefined, deadline: number, notArn?: string): Promise<void> {
  for (;;) {
    const s = await latestStreamOf(streams, tableName);
    if (s?.status === 'ENABLED' && (streamArn === undefined || s.streamArn === streamArn) && s.streamArn !== notArn) return;
    if (Date.now() > deadline) throw toolError('STREAM_ENABLE_TIMEOUT', `the stream of ${tableName} did not become active in time (it is ${s?.status ?? 'missing'})`);
    await sleep(250);
  }
}
