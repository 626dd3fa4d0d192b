import type { NumberValue } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import type { Item, Key } from '../../item/item';

/**
 * Reads a migration may make, served in batches by the engine (several concurrent `get`s are
 * coalesced into one BatchGetItem) so the hot path stays batched. `up` reads from the table being
 * migrated from (the source); `down` reads from the newer table.
 */
export interface MigrationContext {
  /** One item by its full key, or undefined. */
  get(key: Key): Promise<Item | undefined>;
  /** Every item under one partition key value (a Query), in sort-key order. */
  queryPartition(partitionKeyValue: string | number | NumberValue | Uint8Array): Promise<Item[]>;
}

/** What `up`/`down` return: one item, several (a split), or nothing (the item is dropped). */
export type MigrationResult = Item | readonly Item[] | null | undefined;

/**
 * One versioned step of a table's data. Version N's migration turns version N-1 items into
 * version N items. Most are pure functions of one item; a migration may be async and read through
 * the context (merges, joins).
 *
 * Numbers (lib/item/numbers.ts): an item's number is a plain JavaScript `number` when that number
 * is exactly the stored text (prices, counts, years, `0.5`), and a `NumberValue` holding the
 * decimal text otherwise (38-digit decimals, integers beyond 2^53, `1E-130`). Passing a value
 * through unchanged is always exact. To compute with a number that may be large, read its text with
 * `exactText(item.n)` (BigInt or a decimal library) and write the result with `exactNumber(text)`
 * or as a `bigint`. An output number that lost digits of its input (`Number(item.id)` on a 20-digit
 * id, or any integer beyond 2^53 as a JavaScript number) makes the item a NUMBER_PRECISION dead
 * letter, never a silent change. A zod `z.number()` refuses a `NumberValue`: such an item fails
 * the schema (a dead letter) instead of being rounded.
 */
export interface Migration {
  /** The logical table (as in release/tables.ts). */
  readonly table: string;
  /** The data version this migration produces; it applies to items of `version - 1`. */
  readonly version: number;
  readonly description: string;
  up(item: Item, ctx: MigrationContext): MigrationResult | Promise<MigrationResult>;
  /**
   * The inverse, for reverse sync and lossless rollback. Without it, writes made on the new
   * release after a flip cannot flow back, and `plan` says so. @default - none (rollback is lossy)
   */
  down?(item: Item, ctx: MigrationContext): MigrationResult | Promise<MigrationResult>;
  /** Schema of every item `up` returns; an item that fails it becomes a dead letter. @default - none */
  readonly schema?: z.ZodType;
  /** Schema of every item `down` returns (the previous version's shape). @default - none */
  readonly downSchema?: z.ZodType;
  /**
   * True for output items that several source items may produce (many-to-one, e.g. one product
   * item from its US, GB and EU copies). Their writes are checked: equal content from several
   * sources is fine; different content goes through `merge` or becomes a dead letter.
   * @default - no output is shared
   */
  isShared?(item: Item): boolean;
  /**
   * Combines a shared item already written with a different one from another source.
   * Must be deterministic and order-independent. @default - none: differing content is a dead letter
   */
  merge?(existing: Item, incoming: Item): Item;
  /**
   * The keys of the source items that can produce a given output item (the inverse key mapping),
   * for reverse verification and for deleting a shared item when its last source goes.
   * Return a partition key value to mean "every source item under that partition".
   * @default - the source key recorded on the target item
   */
  sourcesOf?(item: Item): { readonly partition: string | number } | readonly Key[];
}
