/**
 * Checks made before a copy or a sync writes anything (issue 14): the ledger exists, both tables
 * exist with the key names (and, when the caller has the manifest, the key types) it declares, and
 * the migration's output for a few source items has key values of the target's key types. A bad
 * input is one user error line with the bad value and the fix, never a copy of dead segments.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Ledger } from '../ledger';
import type { KeyNames } from './item';
import type { MigrationChain } from './migrations/chain';
import { createMigrationContext } from './migrations/context';
import { assertKeyNames, assertKeyTypes, assertKeyValueTypes, describeTable, type KeyTypes, type TableInfo } from './table-info';

/** How many source items the key-type check migrates. */
const SAMPLE_ITEMS = 10;

export interface PreflightProps {
  readonly dynamodb: DynamoDBClient;
  /** A document client on `dynamodb` (lib/data/numbers.ts createItemClient). */
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

/**
 * Migrates the first few source items (eventually consistent, one small Scan) and checks the key
 * values of what they become against the target's key types. Items that do not migrate are left
 * to the copy (they become dead letters there).
 */
async function sampleKeyTypes(props: PreflightProps, target: TableInfo): Promise<void> {
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
