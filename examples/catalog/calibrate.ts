/**
 * The demo's up-front measurement of this machine: DynamoDB Local's raw BatchWriteItem rate with the
 * catalog's own items (the emulator's ceiling, which machines of this kind show 5× apart), and from
 * it an estimate of the run, printed before it starts. Every figure of the report is then also given
 * as a ratio to this ceiling, measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeAll } from '../../bench/write-all';
import { BatchWriter } from '../../lib/data/write/batch-writer';
import { generateV1Products } from './data';

/** Products written before the measurement (3 items each): DynamoDB Local's JIT warms up on them. */
const WARM_UP_PRODUCTS = 5_000;
/** Products written by the measurement (3 items each). */
const CALIBRATION_PRODUCTS = 10_000;

/** Raw BatchWriteItem items per second into a scratch table, as the seed writes. */
export async function measureWriteCeiling(): Promise<number> {
  const client = new DynamoDBClient({});
  const table = `calibration-${randomBytes(4).toString('hex')}`;
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
    }),
  );
  try {
    await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: table });
    const writer = new BatchWriter({ client: DynamoDBDocumentClient.from(new DynamoDBClient({})), concurrency: 16 });
    const keys = { partitionKey: 'pk', sortKey: 'sk' };
    await writeAll(writer, table, generateV1Products({ products: WARM_UP_PRODUCTS }), keys);
    const t0 = performance.now();
    await writeAll(writer, table, generateV1Products({ products: CALIBRATION_PRODUCTS, firstId: WARM_UP_PRODUCTS }), keys);
    return Math.round((CALIBRATION_PRODUCTS * 3) / ((performance.now() - t0) / 1000));
  } finally {
    await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  }
}

/**
 * The run's length at a ceiling, in seconds: the seed at the ceiling, the copy and its verify (scans,
 * the channel migration, the writes) at COPY_SHARE of it, and the steps that do not scale with the
 * data. Both constants are fitted on measured runs (docs/demo.md gives them with their ceilings).
 */
export function estimateDemoSeconds(products: number, ceilingItemsPerSec: number): number {
  const items = products * 3;
  return Math.round(FIXED_SECONDS + items / ceilingItemsPerSec + items / (ceilingItemsPerSec * COPY_SHARE));
}

// fitted on two runs of 50,000 products (docs/demo.md): 136 s at a ceiling of 9,984 items/s, and
// 276 s with DynamoDB Local held to 45 % of a core (2,327 items/s); rounded towards a longer estimate
export const FIXED_SECONDS = 100;
export const COPY_SHARE = 0.5;
