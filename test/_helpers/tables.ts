import { randomBytes } from 'node:crypto';
import {
  CreateTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
  type AttributeDefinition,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { Item, KeyNames } from '../../lib/item/item';
import { BatchWriter } from '../../lib/data/write/batch-writer';

export const PRODUCT_KEYS: KeyNames = { partitionKey: 'pk', sortKey: 'sk' };

/** A table name no other test file uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}

export interface CreateTableOptions {
  /** Enable a NEW_AND_OLD_IMAGES stream on the table. */
  stream?: boolean;
  /**
   * Attribute type of the sort key (when `keys` has one).
   * @default 'S'
   */
  sortKeyType?: 'S' | 'N';
  /** Client to create the table with; by default one on the DynamoDB endpoint of the environment. */
  client?: DynamoDBClient;
}

/** Create a table (string partition key) and wait until ACTIVE. */
export async function createTable(name: string, keys: KeyNames = PRODUCT_KEYS, options: CreateTableOptions = {}): Promise<void> {
  const client = options.client ?? new DynamoDBClient({});
  const schema: KeySchemaElement[] = [{ AttributeName: keys.partitionKey, KeyType: 'HASH' }];
  const attrs: AttributeDefinition[] = [{ AttributeName: keys.partitionKey, AttributeType: 'S' }];
  if (keys.sortKey) {
    schema.push({ AttributeName: keys.sortKey, KeyType: 'RANGE' });
    attrs.push({ AttributeName: keys.sortKey, AttributeType: options.sortKeyType ?? 'S' });
  }
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: schema,
      AttributeDefinitions: attrs,
      BillingMode: 'PAY_PER_REQUEST',
      ...(options.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: name });
}

/** Write items with the engine's batch writer (itself tested on its own). */
export async function putAll(table: string, items: Iterable<Item>, keys: KeyNames = PRODUCT_KEYS): Promise<number> {
  const writer = new BatchWriter({ client: documentClient() });
  let batch: Array<{ put: Item }> = [];
  let n = 0;
  for (const item of items) {
    batch.push({ put: item });
    if (batch.length === 1000) {
      n += (await writer.write(table, batch, keys)).written;
      batch = [];
    }
  }
  if (batch.length) n += (await writer.write(table, batch, keys)).written;
  return n;
}

export async function scanAll(table: string): Promise<Item[]> {
  const out: Item[] = [];
  for await (const page of paginateScan({ client: documentClient() }, { TableName: table, ConsistentRead: true })) {
    out.push(...(page.Items ?? []));
  }
  return out;
}
