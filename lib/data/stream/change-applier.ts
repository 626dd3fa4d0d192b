/**
 * Applies DynamoDB Streams records of a source table to a target table through the migrations
 * (DESIGN.md, Data, points 3-8): the forward sync (origin 'sync', an `up` chain from the live
 * release's table to the new release's) and the reverse sync after a promote (origin 'reverse', a
 * `down` chain back). The stream reader hands it batches and checkpoints a shard only after
 * `applyBatch` resolved; a rejection means "nothing of this batch is known to be applied", and the
 * batch is delivered again.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { messageOf } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import type { DeadLetters } from '../../ledger/dead-letters';
import { keyOf, keyString, stableJson, type Item, type KeyNames } from '../../item/item';
import { DELETE_STAMP_BYTES, itemSizeBytes, MAX_ITEM_BYTES } from '../../item/item-size';
import type { MigrationChain } from '../migrations/chain';
import { isMigrationItemError } from '../migrations/chain';
import { createMigrationContext } from '../migrations/context';
import type { MigrationContext } from '../migrations/migration';
import { BatchWriter, isInvalidRequest } from '../write/batch-writer';
import { KEY_TYPE_MISMATCH, keyTypeProblem, type KeyTypes } from '../table-info';
import { compareNumbers, isNumeric } from '../../item/numbers';
import { Limiter } from '../write/limiter';
import { SharedItemWriter, type SharedWriteOutcome } from '../write/shared-writer';
import { ChangeTargets, migrateItem, type ChangeTargetsProps, type WriteScope } from './change-targets';
import { lanesByPartition, type ChangeRecord, type KeyRun, type LaneStep } from './change-record';
import { isEcho, writeToken, type SyncOrigin } from './echo';
import { ConditionalWrites } from './conditional-writes';
import { MicroBatcher } from './micro-batch';
import { PendingPuts, type PutItems } from './pending-puts';
import { RemovedImages } from './removed-images';
import { TargetReads } from './target-reads';

export type { ChangeRecord } from './change-record';

/** A migrated output of a new image is over DynamoDB's 400 KB once stamped. */
export const ITEM_TOO_LARGE = 'ITEM_TOO_LARGE';
/** A shared target would get different content from its sources and no merge is declared. */
export const SHARED_CONFLICT = 'SHARED_CONFLICT';
/** The old image of a REMOVE could not be migrated: its targets are unknown (see `applyRemove`). */
export const REMOVE_UNRESOLVED = 'REMOVE_UNRESOLVED';
/** An INSERT or MODIFY without a new image: the stream is not NEW_AND_OLD_IMAGES. */
export const IMAGE_MISSING = 'IMAGE_MISSING';
/** A record whose image did not decode (stream-records.ts `undecodable`). */
export const IMAGE_UNDECODABLE = 'IMAGE_UNDECODABLE';
/** A record the target refused as invalid (a ValidationException on its own writes). */
export const WRITE_REFUSED = 'WRITE_REFUSED';
/** A later record of a key that has a sync dead letter: held behind it until a redrive. */
export const KEY_HELD = 'KEY_HELD';


export interface ChangeApplierProps {
  readonly ioHost: IoHost;
  /** Client for both tables (native items; `removeUndefinedValues` recommended). */
  readonly client: DynamoDBDocumentClient;
  /** The table whose stream the records come from (read for the remaining sources of shared items). */
  readonly sourceTable: string;
  readonly targetTable: string;
  /** Key attribute names of both tables. */
  readonly keyNames: KeyNames;
  /** Migrations from the source's data version to the target's (`down` for the reverse sync). */
  readonly chain: MigrationChain;
  readonly deadLetters: DeadLetters;
  /** The direction: stamped on every write, and which echoes to skip (echo.ts). */
  readonly origin: SyncOrigin;
  /**
   * A numeric attribute the app raises on every write of an item (RULE 7). A record whose image
   * carries a lower value than a target item it maps to is superseded: skipped, not applied.
   * @default - none: every record is applied
   */
  readonly versionAttribute?: string;
  /** Source partitions applied at once (each partition's records stay in order). @default 256 */
  readonly concurrency?: number;
  /** Optimistic attempts to settle one shared target item. @default 5 */
  readonly mergeAttempts?: number;
  /** For the lag. @default Date.now */
  readonly clock?: () => number;
  /** Writes each batch's unique puts when the batch ends. @default - a BatchWriter on `client` */
  readonly batchWriter?: BatchWriter;
  /**
   * Writes the shared puts that lanes make at the same time, coalesced (micro-batch.ts); a lone
   * one goes as a conditional PutItem instead. @default - a SharedItemWriter on `client`, groups of 25
   */
  readonly sharedWriter?: SharedItemWriter;
  /** The target table's key types: an output with a key value of another type is a dead letter. @default - not checked */
  readonly targetKeyTypes?: KeyTypes;
}

export interface ApplyBatchResult {
  /** Records applied (echoes and dead letters not counted). */
  readonly applied: number;
  /** Target items put. */
  readonly puts: number;
  /** Target items deleted. */
  readonly deletes: number;
  /** Records that became dead letters. */
  readonly deadLetters: number;
  /** Records skipped as echoes of the other direction's writes. */
  readonly echoesSkipped: number;
  /** Records skipped because the target holds a newer version (RULE 7). */
  readonly superseded: number;
  /** Now minus the newest record's approximate creation time; 0 for an empty batch. */
  readonly lagMs: number;
}

/** What the lanes of one `applyBatch` share. */
interface BatchState {
  failure?: { readonly error: unknown };
}

interface Counts {
  applied: number;
  puts: number;
  deletes: number;
  deadLetters: number;
  echoesSkipped: number;
  superseded: number;
}

/**
 * Applies stream records to the target, each through the migration chain:
 *   - the targets of the NEW image are written (unique: plain put; shared: the copy's rule);
 *   - targets of the OLD image the new image no longer produces are stale and deleted (shared:
 *     only when no remaining source produces them);
 *   - a record that cannot be applied is a dead letter (with its sequence number), never a crash
 *     and never a silent skip;
 *   - records that are echoes of the other direction's writes are skipped.
 * Every write carries META.source, META.origin and the write token META.write.
 */
export class ChangeApplier {
  private readonly props: ChangeApplierProps;
  private readonly clock: () => number;
  private readonly ctx: MigrationContext;
  /** What every batch's ChangeTargets shares (a batch adds its own PendingPuts). */
  private readonly targetProps: Omit<ChangeTargetsProps, 'pending'>;
  /** Unique puts, coalesced into BatchWriteItem calls. */
  private readonly putItems: PutItems;
  /** The last batch that holds each source partition (stable JSON of its key value), until it is done. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly slots: Limiter;
  private readonly removed: RemovedImages;
  /** Reads for the old images of REMOVEs: the table, then the images of removed items. */
  private readonly removeCtx: MigrationContext;
  /** Keys held behind a sync dead letter (RULE 8, applyRecord). @default - loaded with the first record */
  private held?: Promise<Map<string, { code: string; error: string }>>;
  /** Outputs of the image a record applies, migrated once: RULE 7 and the apply both need them. */
  private readonly outputsByImage = new WeakMap<Item, Promise<Item[]>>();

  public constructor(props: ChangeApplierProps) {
    this.props = props;
    this.clock = props.clock ?? Date.now;
    // Consistent reads: a migration or a remaining-source lookup must see the source as it is now.
    this.ctx = createMigrationContext({ client: props.client, tableName: props.sourceTable, keyNames: props.keyNames, consistentRead: true });
    this.removed = new RemovedImages(props.keyNames);
    this.removeCtx = this.removed.over(this.ctx);
    this.slots = new Limiter(props.concurrency ?? 256);
    const batchWriter = props.batchWriter ?? new BatchWriter({ client: props.client, concurrency: 16 });
    const puts = new MicroBatcher<Item, undefined>(async (items) => {
      await batchWriter.write(props.targetTable, items.map((put) => ({ put })), props.keyNames);
      return items.map(() => undefined);
    });
    this.putItems = async (items) => void (await Promise.all(items.map((item) => puts.submit(item))));
    // The lanes' shared puts, coalesced: a group goes as TransactWriteItems of up to 25 (one call,
    // twice the write units of PutItems on AWS: the price of not paying a round trip per record),
    // a lone put as a conditional PutItem, which costs half a one-item transaction.
    const grouped = props.sharedWriter ?? new SharedItemWriter({ client: props.client, groupSize: 25, concurrency: 16 });
    const lone = new SharedItemWriter({ client: props.client, groupSize: 1, concurrency: 16 });
    const sharedPuts = new MicroBatcher<Item, SharedWriteOutcome>((items) => (items.length === 1 ? lone : grouped).write(props.targetTable, items, props.keyNames));
    this.targetProps = {
      targetTable: props.targetTable,
      keyNames: props.keyNames,
      chain: props.chain,
      sourceContext: this.ctx,
      origin: props.origin,
      sharedPut: (item) => sharedPuts.submit(item),
      reads: new TargetReads(props.client, props.targetTable, props.keyNames),
      conditional: new ConditionalWrites({ client: props.client, keyNames: props.keyNames }),
      mergeAttempts: props.mergeAttempts ?? 5,
    };
  }

  /**
   * Applies a batch. Resolves once every record is applied, dead-lettered or skipped; rejects on
   * a platform failure (a write or read that kept failing), after the records in flight settled.
   * Applying a batch again, whole or in part, gives the same target state. May be called before an
   * earlier call resolved (other shards, or a shard read ahead): the records of a source partition
   * are applied in call order (RULE 1).
   */
  public async applyBatch(records: readonly ChangeRecord[]): Promise<ApplyBatchResult> {
    const counts: Counts = { applied: 0, puts: 0, deletes: 0, deadLetters: 0, echoesSkipped: 0, superseded: 0 };
    const batch: BatchState = {};
    const pending = new PendingPuts(this.putItems, this.props.keyNames);
    const targets = new ChangeTargets({ ...this.targetProps, pending });

    // RULE 1 (order), enforced here: one lane per source partition; a lane's records are applied
    // one after the other in the given (stream) order, lanes in parallel up to `concurrency`. So
    // each key's records keep their order, and records of one partition never race for a shared
    // target built from it. Different partitions commute (shared targets across partitions are
    // written conditionally). Every record carries full images, so applying it again (a
    // re-delivery from the last checkpoint after a crash) writes the same items: idempotent.
    // Batches of one shard may be applied at once (the reader reads ahead): a lane starts only once
    // the last earlier batch that held its partition is done, unique puts included, so the order
    // holds across batches while partitions the earlier batches do not hold go ahead.
    // Round trips, not items, bound the apply: the lanes' reads and writes made at the same time
    // share calls (micro-batch.ts), and unique puts wait for the batch's end, the last per key
    // (pending-puts.ts). Each lane still awaits each of its steps, so no rule below sees another order.
    for (const r of records) if (r.eventName === 'REMOVE' && r.oldImage) this.removed.add(r.oldImage);
    const lanes = lanesByPartition(records, this.props.keyNames);
    const partitions = lanes.map((lane) => stableJson(lane[0]!.record.keys[this.props.keyNames.partitionKey]));
    const before = partitions.map((p) => this.tails.get(p));
    const done = (async () => {
      const settled = await Promise.allSettled(lanes.map((lane, i) => this.applyLane(lane, before[i], targets, counts, batch)));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      await pending.flush();
    })();
    for (const p of partitions) this.tails.set(p, done);
    try {
      await done;
    } finally {
      counts.puts += pending.written;
      for (const p of partitions) if (this.tails.get(p) === done) this.tails.delete(p);
    }

    let newest = -Infinity;
    for (const r of records) newest = Math.max(newest, r.approximateCreationMs);
    const result: ApplyBatchResult = { ...counts, lagMs: records.length === 0 ? 0 : Math.max(0, this.clock() - newest) };
    DATA_IO.SYNC_D5100.emit(
      this.props.ioHost,
      `${this.props.origin}: ${records.length} records to ${this.props.targetTable}: ${result.applied} applied, ${result.deadLetters} dead letters, ${result.echoesSkipped} echoes skipped, ${result.superseded} superseded, lag ${result.lagMs} ms`,
      { origin: this.props.origin, records: records.length, ...result },
    );
    return result;
  }

  /**
   * Applies a lane once `previous` (the earlier batch that held its partition, if still applying)
   * is done, in one of `concurrency` slots. A failed earlier batch fails this lane unapplied: its
   * records must not overtake the ones that failed (the batches are delivered again).
   */
  private async applyLane(lane: readonly LaneStep[], previous: Promise<void> | undefined, targets: ChangeTargets, counts: Counts, batch: BatchState): Promise<void> {
    if (previous) await previous;
    if (batch.failure) throw batch.failure.error; // a lane of this batch failed: start no other
    await this.slots.acquire();
    try {
      for (const { run, record } of lane) await this.applyRecord(run, record, targets, counts);
    } catch (error) {
      batch.failure ??= { error };
      throw error;
    } finally {
      this.slots.release();
    }
  }

  private async applyRecord(run: KeyRun, record: ChangeRecord, targets: ChangeTargets, counts: Counts): Promise<void> {
    // RULE 8 (poison records), enforced here: a record that cannot be decoded or applied is a dead
    // letter, never a crash, so the rest of the table keeps flowing. The ORDER of its key is kept
    // by holding the key: every later record of a key with a sync dead letter is dead-lettered too
    // (counted, reported as KEY_HELD, and added to the occurrences of the key's one ledger record,
    // which keeps the FIRST failure's error, image and sequence number), until
    // `redrive` re-reads the current source item, writes it and removes the dead letter; the next
    // record of the key then finds the dead letter gone (a consistent read) and applies again.
    // Applying a later record past a failed one would be wrong for key-changing migrations: the
    // later record's old image is the failed one, so the stale targets of the earlier one would stay.
    if (!record.undecodable && isEcho(record, this.props.origin, this.props.targetTable)) {
      counts.echoesSkipped++; // RULE 6 below; an echo is never held
      return;
    }
    const held = (await this.heldKeys()).get(run.keyString);
    if (held && (await this.stillHeld(run.keyString))) {
      await this.holdRecord(run, record, held, counts);
      return;
    }
    if (record.undecodable) {
      await this.deadLetter(run, record, IMAGE_UNDECODABLE, record.undecodable.error, record.undecodable.image, counts);
      return;
    }
    try {
      await this.applyDecoded(run, record, targets, counts);
    } catch (err) {
      if (!isInvalidRequest(err)) throw err;
      await this.deadLetter(run, record, WRITE_REFUSED, `the target refused a write of this record: ${messageOf(err)}`, record.newImage ?? record.oldImage, counts);
    }
  }

  /** Keys with a sync dead letter in the ledger (loaded once per applier, then kept current). */
  private heldKeys(): Promise<Map<string, { code: string; error: string }>> {
    this.held ??= (async () => {
      const out = new Map<string, { code: string; error: string }>();
      for await (const dl of this.props.deadLetters.entries()) {
        if (dl.sequenceNumber !== undefined) out.set(dl.keyString, { code: dl.errorCode, error: dl.error });
      }
      return out;
    })();
    this.held.catch(() => (this.held = undefined)); // a failed load is tried again with the next batch
    return this.held;
  }

  /** Whether a held key's dead letter is still there (a redrive removes it); unholds it when not. */
  private async stillHeld(keyString: string): Promise<boolean> {
    if (await this.props.deadLetters.get(keyString)) return true;
    (await this.heldKeys()).delete(keyString);
    return false;
  }

  private async applyDecoded(run: KeyRun, record: ChangeRecord, targets: ChangeTargets, counts: Counts): Promise<void> {
    // RULE 6 (echoes), enforced here: a record of the other direction's own write is not applied
    // back (it would bounce between the tables); see echo.ts for why a per-write token.
    if (isEcho(record, this.props.origin, this.props.targetTable)) {
      counts.echoesSkipped++;
      return;
    }
    try {
      if (await this.isSuperseded(record, targets)) {
        counts.superseded++;
        return;
      }
      const scope: WriteScope = { ownKey: run.keyString, token: writeToken(this.props.origin, record.sequenceNumber, this.props.sourceTable) };
      if (record.eventName === 'REMOVE') await this.applyRemove(run, record, scope, targets, counts);
      else await this.applyUpsert(run, record, scope, targets, counts);
    } finally {
      // A record delivered again is migrated again: the source may have moved on since.
      for (const image of [record.newImage, record.oldImage]) if (image) this.outputsByImage.delete(image);
    }
  }

  /**
   * RULE 7 (newer wins), enforced here, with a version attribute declared: a record is superseded
   * when a target item it maps to holds a higher version than the record's output for it (from
   * the new image; from the old one for a REMOVE). Such a record comes from a stack the app has
   * since written past: on either side of a flip, a client that wrote on the old stack and then on
   * the new one keeps its later write. Outputs are compared, not images, because a migration may
   * move the version to other items (the catalog's v2 keeps it on the listings). Equal versions are
   * applied (a re-delivery is the same write); items without a numeric version are not judged.
   * The read and the write are not atomic: a direct write landing in between is not seen, which
   * narrows the window from the sync's lag to one round trip rather than closing it.
   */
  private async isSuperseded(record: ChangeRecord, targets: ChangeTargets): Promise<boolean> {
    const attribute = this.props.versionAttribute;
    const image = record.eventName === 'REMOVE' ? record.oldImage : record.newImage;
    if (!attribute || !image) return false;
    let outputs: Item[];
    try {
      outputs = await this.outputsOf(record, image);
    } catch {
      return false; // the apply dead-letters it
    }
    for (const out of outputs) {
      const incoming: unknown = out[attribute];
      if (!isNumeric(incoming)) continue;
      const held: unknown = (await targets.read(keyOf(out, this.props.keyNames)))?.[attribute];
      if (isNumeric(held) && compareNumbers(held, incoming) > 0) return true; // exact, 20-digit versions too
    }
    return false;
  }

  /** The outputs of the image a record applies (its new one; the old one of a REMOVE), migrated once. */
  private outputsOf(record: ChangeRecord, image: Item): Promise<Item[]> {
    let outputs = this.outputsByImage.get(image);
    if (!outputs) {
      outputs = migrateItem(this.props.chain, image, record.eventName === 'REMOVE' ? this.removeCtx : this.ctx);
      outputs.catch(() => undefined); // awaited by the caller
      this.outputsByImage.set(image, outputs);
    }
    return outputs;
  }

  /** INSERT / MODIFY: write the new image's targets, then delete the old image's stale ones. */
  private async applyUpsert(run: KeyRun, record: ChangeRecord, scope: WriteScope, targets: ChangeTargets, counts: Counts): Promise<void> {
    const image = record.newImage;
    if (!image) {
      await this.deadLetter(run, record, IMAGE_MISSING, `${record.eventName} record has no new image: the source table's stream must be NEW_AND_OLD_IMAGES`, record.oldImage, counts);
      return;
    }

    // RULE 5 (dead letters), enforced here: an image that does not migrate, fails a schema or
    // yields an item over 400 KB writes nothing, deletes nothing, and is recorded with its
    // sequence number; re-drive re-reads the current source item.
    let outputs: Item[];
    try {
      outputs = await this.outputsOf(record, image);
    } catch (err) {
      await this.deadLetter(run, record, isMigrationItemError(err) ? err.code : 'MIGRATION_THREW', messageOf(err), image, counts);
      return;
    }
    const shared: Item[] = [];
    const unique: Item[] = [];
    for (const out of outputs) {
      const keyProblem = this.props.targetKeyTypes && keyTypeProblem(out, this.props.keyNames, this.props.targetKeyTypes);
      if (keyProblem) {
        await this.deadLetter(run, record, KEY_TYPE_MISMATCH, `migrated item ${keyString(out, this.props.keyNames)}: ${keyProblem}`, image, counts);
        return;
      }
      const item = targets.stamp(out, scope.ownKey, scope.token);
      const size = itemSizeBytes(item) + DELETE_STAMP_BYTES; // as written, plus a later delete stamp
      if (size > MAX_ITEM_BYTES) {
        await this.deadLetter(run, record, ITEM_TOO_LARGE, `migrated item ${keyString(out, this.props.keyNames)} is ${size} bytes with the engine's attributes, over DynamoDB's ${MAX_ITEM_BYTES}`, image, counts);
        return;
      }
      (this.props.chain.isShared(out) ? shared : unique).push(item);
    }

    // RULE 2 (new targets), enforced in ChangeTargets.writeShared: shared items first, so a
    // refused one keeps the whole record out (none of its unique items written either, as in the
    // copy). With several shared outputs (rare), those written before the refusal stay written.
    let puts = 0;
    for (const item of shared) {
      const r = await targets.writeShared(item, scope);
      if (!r.ok) {
        counts.puts += puts;
        await this.deadLetter(run, record, SHARED_CONFLICT, r.error, image, counts);
        return;
      }
      puts += r.puts;
    }
    counts.puts += puts; // unique puts are counted when written (PendingPuts)
    targets.putUnique(unique);

    // RULE 3 (stale targets), enforced here: the old image's targets that the new image does not
    // produce (a key-changing migration, or an output the new image drops). An old image that
    // does not migrate contributes none: it failed the same way when it was applied, became a
    // dead letter, and none of its outputs were written (migrations are deterministic).
    if (record.oldImage) {
      let old: Item[];
      try {
        old = await migrateItem(this.props.chain, record.oldImage, this.ctx);
      } catch {
        old = [];
      }
      const fresh = new Set(outputs.map((o) => keyString(o, this.props.keyNames)));
      const stale = old.filter((o) => !fresh.has(keyString(o, this.props.keyNames)));
      if (!(await this.dropAll(run, record, stale, scope, targets, counts, image))) return;
    }
    counts.applied++;
  }

  /**
   * REMOVE: every target of the old image goes (shared ones only when no remaining source produces
   * them). An old image the migration drops (no outputs) had no targets: a no-op.
   *
   * The old image is migrated with reads that fall back to the images of items removed in this or
   * recent batches (RemovedImages): a whole product deleted at once still finds its targets.
   * An old image that does not migrate leaves its targets unknown. Finding them by META.source
   * would need a Query on a non-key attribute, which DynamoDB cannot do without a Scan (or an
   * index on the target table that the app's schema does not have): so nothing is deleted and
   * the record becomes a REMOVE_UNRESOLVED dead letter with the old image. Usually nothing is
   * left behind (that image failed when it was applied too, so none of its outputs were
   * written); verify's reverse pass reports any target item whose source is gone.
   */
  private async applyRemove(run: KeyRun, record: ChangeRecord, scope: WriteScope, targets: ChangeTargets, counts: Counts): Promise<void> {
    const image = record.oldImage;
    if (!image) {
      await this.deadLetter(run, record, REMOVE_UNRESOLVED, 'REMOVE record has no old image: the source table\'s stream must be NEW_AND_OLD_IMAGES', undefined, counts);
      return;
    }
    let old: Item[];
    try {
      old = await this.outputsOf(record, image);
    } catch (err) {
      await this.deadLetter(run, record, REMOVE_UNRESOLVED, `the old image could not be migrated, so its target items are unknown and were not deleted: ${messageOf(err)}`, image, counts);
      return;
    }
    if (await this.dropAll(run, record, old, scope, targets, counts, image)) counts.applied++;
  }

  /**
   * Deletes targets `scope`'s source no longer produces: the unique ones and the shared ones at the
   * same time (different keys; a refused shared one does not keep the unique ones, just as when
   * they went first), shared ones one after the other (RULE 3/4 for shared items:
   * ChangeTargets.dropShared). False when a shared one was refused (a dead letter is recorded).
   */
  private async dropAll(run: KeyRun, record: ChangeRecord, outputs: readonly Item[], scope: WriteScope, targets: ChangeTargets, counts: Counts, image: Item): Promise<boolean> {
    const shared = outputs.filter((o) => this.props.chain.isShared(o));
    const unique = outputs.filter((o) => !this.props.chain.isShared(o));
    const dropUnique = async (): Promise<void> => {
      const deleted = await Promise.all(unique.map((o) => targets.dropUnique(o, scope)));
      counts.deletes += deleted.filter(Boolean).length;
    };
    const dropShared = async (): Promise<boolean> => {
      for (const o of shared) {
        const r = await targets.dropShared(o, scope);
        if (!r.ok) {
          await this.deadLetter(run, record, SHARED_CONFLICT, r.error, image, counts);
          return false;
        }
        counts.puts += r.puts;
        counts.deletes += r.deletes;
      }
      return true;
    };
    // Both settle before a failure of either is thrown: nothing of this record is still running then.
    const [uniqueDone, sharedDone] = await Promise.allSettled([dropUnique(), dropShared()]);
    if (uniqueDone.status === 'rejected') throw uniqueDone.reason;
    if (sharedDone.status === 'rejected') throw sharedDone.reason;
    return sharedDone.value;
  }

  /** A record of a held key: dead-lettered behind the key's first failure (RULE 8). */
  private async holdRecord(run: KeyRun, record: ChangeRecord, held: { code: string; error: string }, counts: Counts): Promise<void> {
    // No image and no sequence number: the ledger record keeps the first failure's.
    await this.props.deadLetters.put({ sourceKey: run.key, keyString: run.keyString, error: held.error, errorCode: held.code, phase: 'sync' });
    counts.deadLetters++;
    const error = `held behind the key's dead letter (${held.code}): redrive re-reads the source item and resumes the key`;
    DATA_IO.SYNC_W5101.emit(this.props.ioHost, `${this.props.origin}: record ${record.sequenceNumber} of ${run.keyString} became a dead letter: ${error}`, {
      sourceKey: run.keyString,
      sequenceNumber: record.sequenceNumber,
      code: KEY_HELD,
      error,
    });
  }

  private async deadLetter(run: KeyRun, record: ChangeRecord, code: string, error: string, image: Item | undefined, counts: Counts): Promise<void> {
    (await this.heldKeys()).set(run.keyString, { code, error }); // the key is held from now on (RULE 8)
    await this.props.deadLetters.put({
      sourceKey: run.key,
      keyString: run.keyString,
      error,
      errorCode: code,
      image,
      sequenceNumber: record.sequenceNumber,
      phase: 'sync',
    });
    counts.deadLetters++;
    DATA_IO.SYNC_W5101.emit(this.props.ioHost, `${this.props.origin}: record ${record.sequenceNumber} of ${run.keyString} became a dead letter: ${error}`, {
      sourceKey: run.keyString,
      sequenceNumber: record.sequenceNumber,
      code,
      error,
    });
  }
}

