/**
 * The stream positions of a source table at T0, before the backfill scan starts (DESIGN.md, Data,
 * step 1): the stream and its shards as they are then, kept in the copy job's meta. Everything
 * changed after this moment is in the stream, in these shards or their descendants; the reader
 * starts each of them at TRIM_HORIZON (see shard-lineage.ts), so no sequence number is needed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { userError } from '../../errors';
import { describeTable } from '../table-info';
import type { ShardInfo } from './shard-lineage';
import { isStreamOn, latestStreamOf } from './table-stream';

/** The stream view type the sync needs: full images before and after every change. */
export const REQUIRED_STREAM_VIEW_TYPE = 'NEW_AND_OLD_IMAGES';

export interface StreamPositions {
  readonly streamArn: string;
  /** ISO 8601: T0. */
  readonly capturedAt: string;
  readonly shards: readonly ShardInfo[];
}

export interface CaptureStreamPositionsOptions {
  /** Tells a missing table from a table without a stream. @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
  /** Now in epoch ms. @default Date.now */
  readonly clock?: () => number;
}

/**
 * Records the stream and its shards of `tableName` at T0. Throws the user error STREAM_MISSING
 * when the table has no enabled stream or its view type is not NEW_AND_OLD_IMAGES.
 */
export async function captureStreamPositions(
  client: DynamoDBStreamsClient,
  tableName: string,
  options: CaptureStreamPositionsOptions = {},
): Promise<StreamPositions> {
  const capturedAt = new Date((options.clock ?? Date.now)()).toISOString();
  const stream = await latestStreamOf(client, tableName);
  const fix = `enable a ${REQUIRED_STREAM_VIEW_TYPE} stream on it (StreamSpecification: { StreamEnabled: true, StreamViewType: '${REQUIRED_STREAM_VIEW_TYPE}' })`;
  if (!stream) {
    // No stream, or no table: DescribeTable tells which (and throws TABLE_MISSING for the latter).
    const dynamodb = options.dynamodb ?? new DynamoDBClient({});
    try {
      await describeTable(dynamodb, tableName, 'source');
    } finally {
      if (!options.dynamodb) dynamodb.destroy();
    }
    throw userError('STREAM_MISSING', `source table "${tableName}" has no stream`, { fix });
  }
  if (!isStreamOn(stream)) {
    throw userError('STREAM_MISSING', `the stream of source table "${tableName}" is ${stream.status}`, { fix });
  }
  if (stream.viewType !== REQUIRED_STREAM_VIEW_TYPE) {
    throw userError('STREAM_MISSING', `the stream of source table "${tableName}" is ${stream.viewType}, not ${REQUIRED_STREAM_VIEW_TYPE}`, {
      fix: `the sync needs full old and new images: disable the stream, then ${fix}`,
    });
  }
  return { streamArn: stream.streamArn, capturedAt, shards: stream.shards };
}
