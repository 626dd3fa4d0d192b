import { keyOf, stableJson, type Item, type Key, type KeyNames } from '../../item/item';

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
  /** An image that did not decode (stream-records.ts): the record is a dead letter. @default - decoded */
  readonly undecodable?: { readonly error: string; readonly image?: Item };
}

/** The records of one source key, in the order they were given. */
export interface KeyRun {
  readonly key: Key;
  /** `stableJson` of the key (as lib/item/item.ts keyString): META.source and the dead letter's id. */
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

/** One step of a lane: a record and the run of its source key. */
export interface LaneStep {
  readonly run: KeyRun;
  readonly record: ChangeRecord;
}

/**
 * Splits a batch into one lane per source PARTITION, each keeping its records in the batch's order.
 * Lanes may be applied in parallel; a lane's records one after the other. That keeps each key's
 * order (a key lives in one partition), and it also serializes records that compete for one shared
 * target built from a partition (the three channel copies of a product deleted together would
 * otherwise race to settle the product item).
 */
export function lanesByPartition(records: readonly ChangeRecord[], keyNames: KeyNames): LaneStep[][] {
  const runs = new Map<string, KeyRun>();
  for (const run of runsByKey(records, keyNames)) runs.set(run.keyString, run);
  const lanes = new Map<string, LaneStep[]>();
  for (const record of records) {
    const run = runs.get(stableJson(keyOf(record.keys, keyNames)))!;
    const partition = stableJson(record.keys[keyNames.partitionKey]);
    let lane = lanes.get(partition);
    if (!lane) lanes.set(partition, (lane = []));
    lane.push({ run, record });
  }
  return [...lanes.values()];
}
