/**
 * Clears the dead letters that the forward sync has made moot. A copy that runs under live writes
 * can read the sources of one shared item at different moments (a product's channel items, one
 * before and one after a write that changed them all) and refuse the second as a SHARED_CONFLICT.
 * Those writes reach the stream, and the forward sync applies them after the copy: once it has
 * caught up, the target holds what the source's CURRENT item migrates to. A dead letter whose key
 * is in that state describes nothing left to fix, and is removed. This writes nothing to the
 * target (a re-drive racing the running sync could put an older state over a newer one): it only
 * compares, and keeps every dead letter whose target does not match.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeadLetters, type DeadLetter, type Ledger } from '../ledger';
import { keyOf, stableJson, withoutMeta, type Item, type KeyNames } from '../item/item';
import { migratePage } from './copy/page-migrator';
import type { MigrationChain } from './migrations/chain';
import { createMigrationContext } from './migrations/context';

export interface SettleDeadLettersProps {
  readonly client: DynamoDBDocumentClient;
  readonly ledger: Ledger;
  readonly jobId: string;
  readonly sourceTable: string;
  readonly targetTable: string;
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** Which dead letters to look at. */
  readonly only: (dl: DeadLetter) => boolean;
}

export interface SettleResult {
  readonly checked: number;
  /** The target holds what the current source item migrates to (or the source is gone with its targets). */
  readonly cleared: number;
}

export async function clearSettledDeadLetters(props: SettleDeadLettersProps): Promise<SettleResult> {
  const deadLetters = new DeadLetters(props.ledger, props.jobId);
  const ctx = createMigrationContext({ client: props.client, tableName: props.sourceTable, keyNames: props.keyNames });
  let checked = 0;
  let cleared = 0;
  for (const dl of (await deadLetters.list()).filter(props.only)) {
    checked++;
    if ((await settled(props, ctx, dl)) && (await deadLetters.removeIfUnchanged(dl.keyString, dl.occurrences))) cleared++;
  }
  return { checked, cleared };
}

async function settled(props: SettleDeadLettersProps, ctx: ReturnType<typeof createMigrationContext>, dl: DeadLetter): Promise<boolean> {
  const source = await get(props, props.sourceTable, dl.sourceKey as Item);
  // A source deleted since: its targets are judged by verify's reverse pass, like any orphan.
  if (!source) return true;
  const migrated = await migratePage([source], props.chain, ctx, props.keyNames);
  if (migrated.failures.length > 0) return false;
  for (const s of migrated.sources) {
    for (const out of [...s.shared, ...s.unique]) {
      const target = await get(props, props.targetTable, keyOf(out, props.keyNames));
      if (!target || stableJson(withoutMeta(target)) !== stableJson(withoutMeta(out))) return false;
    }
  }
  return true;
}

async function get(props: SettleDeadLettersProps, table: string, key: Item): Promise<Item | undefined> {
  return (await props.client.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}
