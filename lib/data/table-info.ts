import { DescribeTableCommand, ResourceNotFoundException, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { userError } from '../errors';
import type { KeyNames } from './item';

export interface TableInfo {
  readonly tableName: string;
  readonly keyNames: KeyNames;
  /** DynamoDB's estimate, refreshed about every six hours on AWS: a prior, never a fact. */
  readonly approximateItemCount: number;
  readonly approximateSizeBytes: number;
  readonly streamArn?: string;
}

/** Describe a table, or one user error line when it does not exist. */
export async function describeTable(client: DynamoDBClient, tableName: string, role: string): Promise<TableInfo> {
  let table: TableDescription | undefined;
  try {
    table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (err) {
    if (err instanceof Error && err.name === 'ValidationException') {
      throw userError('TABLE_NAME_INVALID', `${role} table name "${tableName}" is not a valid DynamoDB table name`, {
        fix: 'use 3-255 characters of a-z, A-Z, 0-9, _, - and .',
      });
    }
    if (err instanceof ResourceNotFoundException) {
      throw userError('TABLE_MISSING', `${role} table "${tableName}" does not exist`, {
        fix: 'check the table name, region and endpoint (AWS_ENDPOINT_URL_DYNAMODB)',
      });
    }
    throw err;
  }
  const hash = table?.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
  const range = table?.KeySchema?.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  return {
    tableName,
    keyNames: { partitionKey: hash!, ...(range ? { sortKey: range } : {}) },
    approximateItemCount: table?.ItemCount ?? 0,
    approximateSizeBytes: table?.TableSizeBytes ?? 0,
    streamArn: table?.LatestStreamArn,
  };
}

/** One user error line when a table's key schema is not the expected one. */
export function assertKeyNames(info: TableInfo, expected: KeyNames, role: string): void {
  const same = info.keyNames.partitionKey === expected.partitionKey && info.keyNames.sortKey === expected.sortKey;
  if (!same) {
    throw userError(
      'KEY_SCHEMA_MISMATCH',
      `${role} table "${info.tableName}" has key (${describeKey(info.keyNames)}), the manifest says (${describeKey(expected)})`,
      { fix: 'point at the right table or fix release/tables.ts' },
    );
  }
}

function describeKey(k: KeyNames): string {
  return k.sortKey ? `${k.partitionKey}, ${k.sortKey}` : k.partitionKey;
}
