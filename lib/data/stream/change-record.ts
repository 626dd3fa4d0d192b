import { keyOf, stableJson, type Item, type Key, type KeyNames } from '../item';

/**
 * One DynamoDB Streams record as the appliers take it: images already unmarshalled to native items.
 * The source table's stream must be NEW_AND_OLD_IMAGES: the applier relies on full images (see
 * ChangeApplier) and on the old image to find the targets a change makes stale.
 */
export interface ChangeRecord {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The record's sequence number in its shard: written into the write token and dead letters. */
  readonly sequenceNumber: string;
  /** `ApproximateCreationDateTime` in epoch milliseconds: the lag is measured from it. */
  readonly approximateCreationMs: number;
  /** The source item's key attributes. */
  readonly keys: Item;
  /** The item after the change. @default - none (REMOVE) */
  readonly newImage?: Item;
  /** The item before the change. @default - none (INSERT) */
  readonly oldImage?: Item;
}

/** The records of one source key, in the order they were given. */
export interface KeyRun {
  readonly key: Key;
  /** `stableJson` of the key (as lib/data/item.ts keyString): META.source and the dead letter's id. */
  readonly keyString: string;
  readonly records: ChangeRecord[];
}

/**
 * Splits a batch into one run per source key, each keeping its records in the batch's order, runs
 * ordered by their key's first record. A stream orders the records of one key (they live in one
 * shard, in sequence-number order) but nothing across keys, so runs may be applied in parallel
 * while each run's records must be applied one after the other.
 */
export function runsByKey(records: readonly ChangeRecord[], keyNames: KeyNames): KeyRun[] {
  const runs = new Map<string, KeyRun>();
  for (const record of records) {
    const key = keyOf(record.keys, keyNames);
    const id = stableJson(key);
    let run = runs.get(id);
    if (!run) runs.set(id, (run = { key, keyString: id, records: [] }));
    run.records.push(record);
  }
  return [...runs.values()];
}
