/**
 * Turns on a table's stream (NEW_AND_OLD_IMAGES) if it is off: before the copy captures T0 on the
 * live tables, and on a release's own tables at promote (the reverse sync reads them). Where the
 * stack already declares the stream (CloudFormation on AWS) this only reads. The local target
 * creates tables without streams and leaves them to this step (see MirroredTablesTarget).
 */
import { DescribeTableCommand, UpdateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { toolError } from '../errors';
import { REQUIRED_STREAM_VIEW_TYPE } from '../data/stream/stream-positions';

export async function ensureStream(dynamodb: DynamoDBClient, tableName: string, timeoutMs = 60_000): Promise<'enabled' | 'present'> {
  const before = (await dynamodb.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  const spec = before?.StreamSpecification;
  if (spec?.StreamEnabled && spec.StreamViewType === REQUIRED_STREAM_VIEW_TYPE && before?.LatestStreamArn) return 'present';
  if (spec?.StreamEnabled) {
    throw toolError('STREAM_VIEW_TYPE', `table ${tableName} streams ${spec.StreamViewType}, the sync needs ${REQUIRED_STREAM_VIEW_TYPE}`, {
      fix: 'set the stream view type in the table manifest (a view type cannot change without turning the stream off)',
    });
  }
  await dynamodb.send(
    new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: REQUIRED_STREAM_VIEW_TYPE } }),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await dynamodb.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    if (t?.TableStatus === 'ACTIVE' && t.LatestStreamArn) return 'enabled';
    if (Date.now() > deadline) throw toolError('STREAM_ENABLE_TIMEOUT', `the stream of ${tableName} did not become active in ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}
