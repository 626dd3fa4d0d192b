/**
 * Source items the copy or the stream apply could not write (DESIGN.md, Data, step 6), kept in the
 * ledger under `DL#<jobId>`, one record per source key. Re-drive re-reads the current source item;
 * the stored image shows what failed.
 *
 * Dead letters stay out of the `byKind` index on purpose: a burst of thousands would all land on
 * one index partition, and a throttled index throttles the ledger's writes.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, paginateQuery, UpdateCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../errors';
import type { Item, Key } from '../item/item';
import { itemSizeBytes, MAX_ITEM_BYTES } from '../item/item-size';
import type { Ledger } from './ledger';
import { deadLetterPk, deadLetterSk } from './keys';

export type DeadLetterPhase = 'copy' | 'sync' | 'redrive';

/** DynamoDB's limit for a sort key value, in bytes. */

/** Room kept free under the item limit for what the size estimate may miss. */
const ITEM_SIZE_MARGIN = 2048;

/** Longest error text kept. */
const MAX_ERROR_CHARS = 8192;

export interface PutDeadLetterOptions {
  /** The source item's key, native. */
  readonly sourceKey: Key;
  /** `stableJson(sourceKey)` (lib/item/item.ts keyString): the dead letter's identity in its job. */
  readonly keyString: string;
  /** What went wrong; kept up to 8192 characters. */
  readonly error: string;
  readonly errorCode: string;
  /** The source item as read. Left out, with `imageOmitted`, when it would not fit in a ledger item. @default - none */
  readonly image?: Item;
  /** The stream record's sequence number. @default - none (backfill) */
  readonly sequenceNumber?: string;
  readonly phase: DeadLetterPhase;
}

export interface DeadLetter {
  readonly jobId: string;
  readonly keyString: string;
  readonly sourceKey: Key;
  readonly error: string;
  readonly errorCode: string;
  /** The latest image given. @default - none, or omitted (see imageOmitted) */
  readonly image?: Item;
  /** True when the image was too large for the ledger and was not stored. */
  readonly imageOmitted: boolean;
  /** Estimated size of the omitted image in bytes. @default - not omitted */
  readonly imageBytes?: number;
  /** @default - none */
  readonly sequenceNumber?: string;
  /** The phase of the latest failure. */
  readonly phase: DeadLetterPhase;
  /** How often this key failed. */
  readonly occurrences: number;
  /** ISO 8601. */
  readonly firstSeenAt: string;
  /** ISO 8601. */
  readonly lastSeenAt: string;
}



/** The dead letters of one copy job. */
export class DeadLetters {
  public readonly jobId: string;
  private readonly ledger: Ledger;
  private readonly pk: string;

  /**
   * @param ledger the ledger table
   * @param jobId the copy job the dead letters belong to
   */
  public constructor(ledger: Ledger, jobId: string) {
    if (!jobId) throw toolError('LEDGER_JOB_ID_EMPTY', 'a copy job id must not be empty');
    this.ledger = ledger;
    this.jobId = jobId;
    this.pk = deadLetterPk(jobId);
  }

  /**
   * Records a failure of one source key; idempotent per key: a second put replaces the error (and
   * the image, phase and sequence number when given) and adds one to `occurrences`.
   */
  public async put(options: PutDeadLetterOptions): Promise<DeadLetter> {
    if (!options.keyString) throw toolError('LEDGER_DEAD_LETTER_KEY_EMPTY', 'a dead letter needs a key string');
    const now = this.ledger.nowIso();
    const set: Record<string, NativeAttributeValue> = {
      jobId: this.jobId,
      keyString: options.keyString,
      sourceKey: options.sourceKey,
      error: options.error.slice(0, MAX_ERROR_CHARS),
      errorCode: options.errorCode,
      phase: options.phase,
      lastSeenAt: now,
    };
    if (options.sequenceNumber !== undefined) set.sequenceNumber = options.sequenceNumber;
    const remove: string[] = [];
    if (options.image !== undefined) {
      const imageBytes = itemSizeBytes(options.image);
      const others = itemSizeBytes({ pk: this.pk, sk: deadLetterSk(options.keyString), ...set, firstSeenAt: now, occurrences: 0 });
      const fits = others + Buffer.byteLength('image') + 3 + imageBytes + ITEM_SIZE_MARGIN <= MAX_ITEM_BYTES;
      if (fits) {
        set.image = options.image;
        set.imageOmitted = false;
        remove.push('imageBytes');
      } else {
        set.imageOmitted = true;
        set.imageBytes = imageBytes;
        remove.push('image');
      }
    }

    const names: Record<string, string> = {};
    const values: Record<string, NativeAttributeValue> = { ':now': now, ':zero': 0, ':one': 1 };
    const sets = ['firstSeenAt = if_not_exists(firstSeenAt, :now)', 'occurrences = if_not_exists(occurrences, :zero) + :one'];
    for (const r of remove) names[`#${r}`] = r;
    for (const [i, [name, value]] of Object.entries(set).entries()) {
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      sets.push(`#a${i} = :a${i}`);
    }
    const out = await this.ledger.client.send(
      new UpdateCommand({
        TableName: this.ledger.tableName,
        Key: { pk: this.pk, sk: deadLetterSk(options.keyString) },
        UpdateExpression: `SET ${sets.join(', ')}${remove.length ? ` REMOVE ${remove.map((r) => `#${r}`).join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toDeadLetter(out.Attributes!);
  }

  /** One LEDGER_MISSING user error line when the ledger table does not exist (see Ledger.assertExists). */
  public assertLedgerExists(): Promise<void> {
    return this.ledger.assertExists();
  }

  public async get(keyString: string): Promise<DeadLetter | undefined> {
    const out = await this.ledger.client.send(
      new GetCommand({ TableName: this.ledger.tableName, Key: { pk: this.pk, sk: deadLetterSk(keyString) }, ConsistentRead: true }),
    );
    return out.Item ? toDeadLetter(out.Item) : undefined;
  }

  /** Every dead letter of the job, one page at a time (images can be large: prefer this to `list`). */
  public async *entries(): AsyncIterable<DeadLetter> {
    const pages = paginateQuery(
      { client: this.ledger.client },
      {
        TableName: this.ledger.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': this.pk },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) yield toDeadLetter(item);
  }

  /** Every dead letter of the job, ordered by sort key. */
  public async list(): Promise<DeadLetter[]> {
    const all: DeadLetter[] = [];
    for await (const d of this.entries()) all.push(d);
    return all;
  }

  public async count(): Promise<number> {
    let count = 0;
    const pages = paginateQuery(
      { client: this.ledger.client },
      {
        TableName: this.ledger.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': this.pk },
        Select: 'COUNT',
        ConsistentRead: true,
      },
    );
    for await (const page of pages) count += page.Count ?? 0;
    return count;
  }

  /**
   * Removes one dead letter only if it still has `occurrences` (nothing failed or was held behind
   * it since it was read): a re-drive that wrote the source item as it read it must not drop
   * records a running sync held behind the dead letter meanwhile. False when it changed or is gone.
   */
  public async removeIfUnchanged(keyString: string, occurrences: number): Promise<boolean> {
    try {
      await this.ledger.client.send(
        new DeleteCommand({
          TableName: this.ledger.tableName,
          Key: { pk: this.pk, sk: deadLetterSk(keyString) },
          ConditionExpression: 'occurrences = :n',
          ExpressionAttributeValues: { ':n': occurrences },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Removes one dead letter (after a successful re-drive). True when there was one. */
  public async remove(keyString: string): Promise<boolean> {
    const out = await this.ledger.client.send(
      new DeleteCommand({ TableName: this.ledger.tableName, Key: { pk: this.pk, sk: deadLetterSk(keyString) }, ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes !== undefined;
  }
}

function toDeadLetter(item: Record<string, NativeAttributeValue>): DeadLetter {
  return {
    jobId: item.jobId,
    keyString: item.keyString,
    sourceKey: item.sourceKey,
    error: item.error,
    errorCode: item.errorCode,
    image: item.image,
    imageOmitted: item.imageOmitted === true,
    imageBytes: item.imageBytes,
    sequenceNumber: item.sequenceNumber,
    phase: item.phase,
    occurrences: item.occurrences,
    firstSeenAt: item.firstSeenAt,
    lastSeenAt: item.lastSeenAt,
  };
}
