/**
 * Checks made before a copy or a sync writes anything (issue 14): the ledger exists, both tables
 * exist with the key names (and, when the caller has the manifest, the key types) it declares, and
 * the migration's output for a few source items has key values of the target's key types. A bad
 * input is one user error line with the bad value and the fix, never a copy of dead segments.
 * `preflight` is the copy's (it describes both tables, as the copy needs their sizes anyway);
 * `preflightSync` the sync's, which sends no DescribeTable.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { userError } from '../errors';
import type { Ledger } from '../ledger';
import type { KeyNames } from '../item/item';
import type { MigrationChain } from './migrations/chain';
import { createMigrationContext } from './migrations/context';
import type { Item } from '../item/item';
import { assertKeyNames, assertKeyTypes, assertKeyValueTypes, describeTable, keyValueType, type KeyTypes, type TableInfo } from './table-info';

/** How many source items the key-type check migrates. */
const SAMPLE_ITEMS = 10;

export interface PreflightProps {
  readonly dynamodb: DynamoDBClient;
  /** A document client on `dynamodb` (lib/item/numbers.ts createItemClient). */
  readonly doc: DynamoDBDocumentClient;
  readonly ledger: Ledger;
  readonly sourceTable: string;
  readonly targetTable: string;
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** The manifest's key types of each table (lib/manifest keyTypesOf). @default - key names checked, types from a sample */
  readonly keyTypes?: { readonly source?: KeyTypes; readonly target?: KeyTypes };
}

export interface PreflightResult {
  readonly source: TableInfo;
  readonly target: TableInfo;
}

export async function preflight(props: PreflightProps): Promise<PreflightResult> {
  await props.ledger.assertExists();
  const source = await describeTable(props.dynamodb, props.sourceTable, 'source');
  const target = await describeTable(props.dynamodb, props.targetTable, 'target');
  assertKeyNames(source, props.keyNames, 'source');
  assertKeyNames(target, props.keyNames, 'target');
  if (props.keyTypes?.source) assertKeyTypes(source, props.keyTypes.source, 'source');
  if (props.keyTypes?.target) assertKeyTypes(target, props.keyTypes.target, 'target');
  await sampleKeyTypes(props, target);
  return { source, target };
}

export interface SyncPreflightProps {
  readonly doc: DynamoDBDocumentClient;
  readonly sourceTable: string;
  readonly targetTable: string;
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** The manifest's key types of the target. @default - the copy's record, else read off a target item */
  readonly targetKeyTypes?: KeyTypes;
  /** The target's key types as the copy job recorded them (its DescribeTable). @default - none */
  readonly recordedTargetKeyTypes?: KeyTypes;
}

/**
 * The checks of a sync start, WITHOUT DescribeTable (on DynamoDB Local it counts a big table's
 * items and stops every other call for most of a second; a sync starts at every promote; the
 * caller checks the ledger first, `Ledger.assertExists`): the migrated sample's key values match the target's key types, known from
 * the manifest, else from the copy job's record, else from one target item. Returns those types
 * (undefined when nothing tells them: an empty target of a sync without a copy).
 */
export async function preflightSync(props: SyncPreflightProps): Promise<KeyTypes | undefined> {
  const types = props.targetKeyTypes ?? props.recordedTargetKeyTypes ?? (await keyTypesOfAnItem(props.doc, props.targetTable, props.keyNames));
  if (!types) return undefined;
  const target: TableInfo = { tableName: props.targetTable, keyNames: props.keyNames, keyTypes: types, approximateItemCount: 0, approximateSizeBytes: 0 };
  await sampleKeyTypes(props, target);
  return types;
}

/** The key types of a table read off one of its items (a one-item Scan). */
async function keyTypesOfAnItem(doc: DynamoDBDocumentClient, table: string, names: KeyNames): Promise<KeyTypes | undefined> {
  let item: Item | undefined;
  try {
    item = (await doc.send(new ScanCommand({ TableName: table, Limit: 1 }))).Items?.[0];
  } catch (err) {
    if (err instanceof ResourceNotFoundException) {
      throw userError('TABLE_MISSING', `target table "${table}" does not exist`, { fix: 'check the table name, region and endpoint (AWS_ENDPOINT_URL_DYNAMODB)' });
    }
    throw err;
  }
  if (!item) return undefined;
  const partitionKey = keyValueType(item[names.partitionKey]);
  const sortKey = names.sortKey ? keyValueType(item[names.sortKey]) : undefined;
  if (!partitionKey) return undefined;
  return { partitionKey, ...(sortKey ? { sortKey } : {}) };
}

/**
 * Migrates the first few source items (eventually consistent, one small Scan) and checks the key
 * values of what they become against the target's key types. Items that do not migrate are left
 * to the copy (they become dead letters there).
 */
async function sampleKeyTypes(props: Pick<PreflightProps, 'doc' | 'sourceTable' | 'keyNames' | 'chain'>, target: TableInfo): Promise<void> {
  const page = await props.doc.send(new ScanCommand({ TableName: props.sourceTable, Limit: SAMPLE_ITEMS }));
  if (!page.Items?.length) return;
  const ctx = createMigrationContext({ client: props.doc, tableName: props.sourceTable, keyNames: props.keyNames });
  for (const item of page.Items) {
    let outputs;
    try {
      outputs = await props.chain.apply(item, ctx);
    } catch {
      continue;
    }
    for (const out of outputs) assertKeyValueTypes(out, target, 'target');
  }
}
