import { DescribeTableCommand, ResourceNotFoundException, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { userError } from '../errors';
import { SPECIAL_NAMES } from '../item/special-names';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import type { Item, KeyNames } from '../item/item';

/** DynamoDB key attribute types (as lib/manifest/table-manifest.ts KeyAttributeType). */
export type KeyType = 'S' | 'N' | 'B';

/** The types of a table's key attributes. */
export interface KeyTypes {
  readonly partitionKey: KeyType;
  /** @default - no sort key */
  readonly sortKey?: KeyType;
}

/** Key error: a table's key attribute has another type than expected, or an item's key value does. */
export const KEY_TYPE_MISMATCH = 'KEY_TYPE_MISMATCH';

export interface TableInfo {
  readonly tableName: string;
  readonly keyNames: KeyNames;
  /** The key attributes' types, from AttributeDefinitions. */
  readonly keyTypes: KeyTypes;
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
    keyTypes: {
      partitionKey: typeOf(table, hash),
      ...(range ? { sortKey: typeOf(table, range) } : {}),
    },
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
  for (const name of [expected.partitionKey, expected.sortKey]) {
    if (name !== undefined && SPECIAL_NAMES.includes(name)) {
      // items carry it under another name (special-names.ts): key conditions would not find it
      throw userError('KEY_NAME_UNSUPPORTED', `${role} table "${info.tableName}" has a key attribute named "${name}", which stackshift cannot address`, {
        fix: `copy this table with another tool; non-key attributes named "${name}" are supported`,
      });
    }
  }
}

function describeKey(k: KeyNames): string {
  return k.sortKey ? `${k.partitionKey}, ${k.sortKey}` : k.partitionKey;
}

function typeOf(table: TableDescription | undefined, name: string | undefined): KeyType {
  return (table?.AttributeDefinitions?.find((d) => d.AttributeName === name)?.AttributeType ?? 'S') as KeyType;
}

const TYPE_WORD: Record<KeyType, string> = { S: 'string', N: 'number', B: 'binary' };

/**
 * One user error line when a table's key types are not the expected ones (the manifest's, when the
 * caller has them: lib/manifest/table-manifest.ts `keyTypesOf`).
 */
export function assertKeyTypes(info: TableInfo, expected: KeyTypes, role: string, source = 'the manifest'): void {
  for (const which of ['partitionKey', 'sortKey'] as const) {
    const want = expected[which];
    const have = info.keyTypes[which];
    const name = info.keyNames[which];
    if (want && have && name && want !== have) {
      throw userError(
        KEY_TYPE_MISMATCH,
        `${role} table "${info.tableName}" keys "${name}" as ${have} (${TYPE_WORD[have]}), ${source} says ${want} (${TYPE_WORD[want]})`,
        { fix: `recreate the ${role} table with "${name}" of type ${want}, or fix the key type in release/tables.ts` },
      );
    }
  }
}

/** The DynamoDB type of a key value as items carry it, or undefined for a value no key can hold. */
export function keyValueType(v: unknown): KeyType | undefined {
  if (typeof v === 'string') return 'S';
  if (typeof v === 'number' || typeof v === 'bigint' || v instanceof NumberValue) return 'N';
  if (v instanceof Uint8Array) return 'B';
  return undefined;
}

/**
 * One user error line when an item the migration produced has a key value of another type than
 * the target table's key (checked on a sample of source items before anything is written).
 */
export function assertKeyValueTypes(item: Item, info: TableInfo, role: string): void {
  for (const which of ['partitionKey', 'sortKey'] as const) {
    const name = info.keyNames[which];
    const want = info.keyTypes[which];
    if (!name || !want || !(name in item)) continue;
    const have = keyValueType(item[name]);
    if (have !== want) {
      throw userError(
        KEY_TYPE_MISMATCH,
        `the migration writes "${name}" = ${JSON.stringify(String(item[name]))} (${have ? TYPE_WORD[have] : typeof item[name]}) but ${role} table "${info.tableName}" keys "${name}" as ${want} (${TYPE_WORD[want]})`,
        { fix: `recreate the ${role} table with "${name}" of type ${have ?? want}, or fix the migration's key values` },
      );
    }
  }
}

/**
 * Why an output item cannot be written to a table keyed with `types` (a key value of another
 * type), or undefined. The copy and the sync check every output with it before writing, so one
 * such item is a dead letter instead of a refused batch.
 */
export function keyTypeProblem(item: Item, names: KeyNames, types: KeyTypes): string | undefined {
  for (const which of ['partitionKey', 'sortKey'] as const) {
    const name = names[which];
    const want = types[which];
    if (!name || !want || item[name] === undefined) continue;
    const have = keyValueType(item[name]);
    if (have !== want) {
      return `key attribute "${name}" is ${JSON.stringify(String(item[name]))} (${have ? TYPE_WORD[have] : typeof item[name]}), the target table keys it as ${want} (${TYPE_WORD[want]})`;
    }
  }
  return undefined;
}
