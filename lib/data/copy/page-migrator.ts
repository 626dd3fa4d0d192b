import type { MigrationChain } from '../migrations/chain';
import { isMigrationItemError } from '../migrations/chain';
import type { MigrationContext } from '../migrations/migration';
import { META, keyString, type Item, type KeyNames } from '../../item/item';
import { DELETE_STAMP_BYTES, itemSizeBytes, MAX_ITEM_BYTES } from '../../item/item-size';
import { contentHash } from '../write/shared-writer';
import { keyTypeProblem, type KeyTypes } from '../table-info';
import { messageOf } from '../../errors';

/** What one source item became. */
export interface MigratedSource {
  readonly source: Item;
  readonly sourceKey: string;
  /** Outputs only this source produces: plain idempotent puts. */
  readonly unique: Item[];
  /** Outputs several sources may produce (carry META.contentHash): checked writes. */
  readonly shared: Item[];
}

export interface MigrationFailure {
  readonly source: Item;
  readonly sourceKey: string;
  readonly code: string;
  readonly error: string;
}

export interface MigratedPage {
  readonly sources: MigratedSource[];
  readonly failures: MigrationFailure[];
}

/**
 * Runs a page of source items through the migration chain. Every output is stamped with the key
 * of the source item that produced it (META.source), which verify and the stream sync use to find
 * stale and orphaned targets. A source item whose migration throws, whose output fails its schema
 * or exceeds 400 KB, fails as a whole: none of its outputs are written (it becomes a dead letter).
 */
export async function migratePage(
  items: readonly Item[],
  chain: MigrationChain,
  ctx: MigrationContext,
  sourceKeys: KeyNames,
  /** The target table's key types: an output with a key value of another type is a dead letter. @default - not checked */
  targetKeyTypes?: KeyTypes,
): Promise<MigratedPage> {
  const sources: MigratedSource[] = [];
  const failures: MigrationFailure[] = [];
  const pending: Array<Promise<void>> = [];

  const accept = (source: Item, sourceKey: string, outputs: readonly Item[]): void => {
    const unique: Item[] = [];
    const shared: Item[] = [];
    for (const out of outputs) {
      const keyProblem = targetKeyTypes && keyTypeProblem(out, chain.keyNames, targetKeyTypes);
      if (keyProblem) {
        failures.push({ source, sourceKey, code: 'KEY_TYPE_MISMATCH', error: `migrated item ${keyString(out, chain.keyNames)}: ${keyProblem}` });
        return;
      }
      const stamped: Item = chain.isShared(out)
        ? { ...out, [META.source]: sourceKey, [META.origin]: 'copy', [META.contentHash]: contentHash(out) }
        : { ...out, [META.source]: sourceKey, [META.origin]: 'copy' };
      // Sized as written (meta attributes included), with room for the sync's delete stamp.
      const size = itemSizeBytes(stamped) + DELETE_STAMP_BYTES;
      if (size > MAX_ITEM_BYTES) {
        failures.push({ source, sourceKey, code: 'ITEM_TOO_LARGE', error: `migrated item ${keyString(out, chain.keyNames)} is ${size} bytes with the engine's attributes, over DynamoDB's ${MAX_ITEM_BYTES}` });
        return;
      }
      (chain.isShared(out) ? shared : unique).push(stamped);
    }
    sources.push({ source, sourceKey, unique, shared });
  };
  const fail = (source: Item, sourceKey: string, err: unknown): void => {
    failures.push({ source, sourceKey, code: isMigrationItemError(err) ? err.code : 'MIGRATION_THREW', error: messageOf(err) });
  };

  for (const item of items) {
    const sourceKey = keyString(item, sourceKeys);
    let sync: Item[] | undefined;
    try {
      // Fast path: a chain of pure steps migrates without allocating a promise per item.
      sync = chain.applySync(item);
    } catch (err) {
      fail(item, sourceKey, err);
      continue;
    }
    if (sync) {
      accept(item, sourceKey, sync);
      continue;
    }
    pending.push(
      chain.apply(item, ctx).then(
        (outputs) => accept(item, sourceKey, outputs),
        (err: unknown) => fail(item, sourceKey, err),
      ),
    );
  }
  await Promise.all(pending);
  return { sources, failures };
}
