import { createHash } from 'node:crypto';
import type { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { messageOf, toolError } from '../../errors';
import { META, keyOf, stableJson, withoutMeta, type Item, type KeyNames } from '../../item/item';
import { Backoff, isRetryable, type BackoffOptions } from '../retry';
import type { WriteRetryEvent } from './batch-writer';
import { keyId } from './key-id';
import { Limiter } from './limiter';

/** What became of one shared item: written (new, or equal content already there), or a conflict. */
export type SharedWriteOutcome = { readonly status: 'written' } | { readonly status: 'conflict'; readonly existing: Item };

export interface SharedItemWriterProps {
  /** The client every call goes through (native items). */
  readonly client: DynamoDBDocumentClient;
  /** The most write calls in flight at once, over all `write` calls of this writer. @default 16 */
  readonly concurrency?: number;
  /**
   * Items per TransactWriteItems call, 2 to 100; 1 writes each item with its own conditional PutItem.
   * Groups are also kept under the 4 MB a transaction may carry. Measured on DynamoDB Local with
   * 20 ms per call (test/bench/write-throughput.ts): PutItem ~0.6k items/s, groups of 25 ~3.4-5k,
   * groups of 100 ~7.4k with no conflicts but no better than 25 at 2% conflicts (one conflict
   * cancels and re-sends the whole group). DynamoDB Local serializes transactions, so it cannot
   * show TransactionConflict between workers writing the same shared keys, which grows with the
   * group size on real DynamoDB: 25 keeps a cancellation's cost small. A transactional write
   * costs twice the write capacity of a PutItem whatever the group size.
   * @default 25
   */
  readonly groupSize?: number;
  /** Calls in a row without progress (throttled, conflicting transactions) before WRITE_EXHAUSTED. @default 12 */
  readonly maxAttempts?: number;
  /** Backoff between retries. @default - base 25 ms, cap 2 s, full jitter */
  readonly backoff?: BackoffOptions;
  /** Called before each retry (progress reporting); must not throw. @default - none */
  readonly onRetry?: (event: WriteRetryEvent) => void;
}

/** The content hash of an item: sha256 of its stable JSON without meta attributes, base64url, 22 characters (132 bits). */
export function contentHash(item: Item): string {
  return createHash('sha256').update(stableJson(withoutMeta(item))).digest('base64url').slice(0, 22);
}

const WRITTEN: SharedWriteOutcome = Object.freeze({ status: 'written' });

/** Cancellation reason codes worth sending the item again after a backoff. */
const RETRY_REASONS: ReadonlySet<string> = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/**
 * The rule for shared (many-to-one) target items, enforced by the condition below: a shared item is
 * written only when its key is free or the item there has the same content hash. Equal content from
 * several sources is idempotent; different content is never overwritten (no silent last-writer-wins)
 * and comes back as a conflict with the stored item, for a declared merge or a dead letter.
 */
const CONDITION = 'attribute_not_exists(#pk) OR #h = :h';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

interface CallState {
  readonly table: string;
  readonly items: readonly Item[];
  readonly hashes: readonly string[];
  readonly keyNames: KeyNames;
  readonly names: Record<string, string>;
  readonly outcomes: Array<SharedWriteOutcome | undefined>;
  failure?: { readonly kind: 'exhausted' | 'failed'; readonly attempts: number; readonly error?: unknown };
}

/**
 * Conditional writes for shared target items: each item carries its content hash in
 * `META.contentHash`, and is put only when its key is free or holds the same hash.
 */
export class SharedItemWriter {
  private readonly client: DynamoDBDocumentClient;
  private readonly limiter: Limiter;
  private readonly groupSize: number;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly onRetry?: (event: WriteRetryEvent) => void;

  public constructor(props: SharedItemWriterProps) {
    this.client = props.client;
    this.limiter = new Limiter(props.concurrency ?? 16);
    this.groupSize = props.groupSize ?? 25;
    this.maxAttempts = props.maxAttempts ?? 12;
    if (!Number.isInteger(this.groupSize) || this.groupSize < 1 || this.groupSize > 100) {
      throw toolError('WRITE_INVALID_OPTIONS', `groupSize must be an integer from 1 to 100 (TransactWriteItems' limit), got ${props.groupSize}`);
    }
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw toolError('WRITE_INVALID_OPTIONS', `maxAttempts must be a positive integer, got ${props.maxAttempts}`);
    }
    this.backoff = new Backoff(props.backoff);
    this.onRetry = props.onRetry;
  }

  /**
   * Writes `items` (each with `META.contentHash` set) and returns one outcome per item, in input
   * order. The same key twice in one call is written once: a later item with the same hash is
   * `written`, one with another hash is a conflict against what the key then holds (the earlier
   * item, or the stored one when the earlier item conflicted too).
   */
  public async write(tableName: string, items: readonly Item[], keyNames: KeyNames): Promise<SharedWriteOutcome[]> {
    const n = items.length;
    const hashes = new Array<string>(n);
    const firstOf = new Int32Array(n);
    const seen = new Map<string, number>();
    const firsts: number[] = [];
    for (let i = 0; i < n; i++) {
      const item = items[i]!;
      const hash = item[META.contentHash];
      if (typeof hash !== 'string' || hash.length === 0) {
        throw toolError('WRITE_HASH_MISSING', `a shared item for table "${tableName}" has no content hash in "${META.contentHash}"`, {
          fix: `set item.${META.contentHash} = contentHash(item) before writing it`,
        });
      }
      hashes[i] = hash;
      const id = keyId(item, keyNames, tableName);
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, i);
        firsts.push(i);
        firstOf[i] = i;
      } else {
        firstOf[i] = first;
      }
    }

    const state: CallState = {
      table: tableName,
      items,
      hashes,
      keyNames,
      names: { '#pk': keyNames.partitionKey, '#h': META.contentHash },
      outcomes: new Array<SharedWriteOutcome | undefined>(n),
    };
    const groups: Array<Promise<void>> = [];
    const start = (group: number[]) =>
      groups.push(this.writeGroup(state, group).catch((error: unknown) => void (state.failure ??= { kind: 'failed', attempts: 0, error })));
    // Groups of up to groupSize items, and of at most TRANSACTION_BYTES by estimate (TransactWriteItems
    // refuses more than 4 MB in all, which 25 items of up to 400 KB can exceed).
    let group: number[] = [];
    let bytes = 0;
    for (const i of firsts) {
      const size = this.groupSize === 1 ? 0 : approxItemBytes(items[i]!);
      if (group.length > 0 && (group.length === this.groupSize || bytes + size > TRANSACTION_BYTES)) {
        start(group);
        group = [];
        bytes = 0;
      }
      group.push(i);
      bytes += size;
    }
    if (group.length > 0) start(group);
    await Promise.all(groups);

    const outcomes = state.outcomes;
    if (state.failure) {
      let left = 0;
      for (const i of firsts) if (outcomes[i] === undefined) left++;
      const what = `${left} of ${firsts.length} items are not written`;
      if (state.failure.kind === 'failed') {
        throw toolError('WRITE_FAILED', `shared write to table "${tableName}" failed: ${messageOf(state.failure.error)}; ${what}`, {
          cause: state.failure.error,
        });
      }
      throw toolError('WRITE_EXHAUSTED', `shared write to table "${tableName}" gave up after ${state.failure.attempts} attempts without progress: ${what}`, {
        fix: "lower the write concurrency or raise the table's write capacity, then run again",
        cause: state.failure.error,
      });
    }

    // Later items with an already written key: compare with what the key now holds.
    for (let i = 0; i < n; i++) {
      const first = firstOf[i]!;
      if (first === i) continue;
      const held = outcomes[first]!;
      const stored = held.status === 'written' ? items[first]! : held.existing;
      outcomes[i] = stored[META.contentHash] === hashes[i] ? WRITTEN : { status: 'conflict', existing: stored };
    }
    return outcomes as SharedWriteOutcome[];
  }

  private async writeGroup(state: CallState, group: number[]): Promise<void> {
    let pending = group;
    let retry = 0;
    let stalled = 0;
    for (;;) {
      if (state.failure) return;
      if (!this.limiter.tryAcquire()) await this.limiter.acquire();
      let error: unknown;
      try {
        if (this.groupSize === 1) {
          await this.client.send(new PutCommand({ TableName: state.table, ...this.conditionalPut(state, pending[0]!) }));
        } else {
          const transactItems: TransactItem[] = new Array(pending.length);
          for (let k = 0; k < pending.length; k++) transactItems[k] = { Put: { TableName: state.table, ...this.conditionalPut(state, pending[k]!) } };
          await this.client.send(new TransactWriteCommand({ TransactItems: transactItems }));
        }
      } catch (err) {
        error = err ?? new Error('the write was rejected without an error');
      } finally {
        this.limiter.release();
      }
      if (error === undefined) {
        for (const i of pending) state.outcomes[i] = WRITTEN;
        return;
      }

      let next: number[];
      let progress = false;
      let throttled = false;
      if (isNamed(error, 'TransactionCanceledException')) {
        const reasons = (error as TransactionCanceledException).CancellationReasons;
        if (!reasons || reasons.length !== pending.length) {
          state.failure ??= { kind: 'failed', attempts: stalled + 1, error };
          return;
        }
        next = [];
        for (let k = 0; k < pending.length; k++) {
          const i = pending[k]!;
          const code = reasons[k]!.Code ?? 'None';
          if (code === 'None') {
            // Cancelled only because another item of the transaction failed: send it again.
            next.push(i);
          } else if (code === 'ConditionalCheckFailed') {
            const existing = await this.existingItem(state, i, reasons[k]!.Item);
            if (existing) {
              state.outcomes[i] = { status: 'conflict', existing };
              progress = true;
            } else {
              next.push(i); // deleted since the check: try again
            }
          } else if (RETRY_REASONS.has(code)) {
            next.push(i);
            throttled = true;
          } else {
            const reason = toolError('WRITE_REJECTED', `transaction item ${code}: ${reasons[k]!.Message ?? 'no message'}`, { cause: error });
            state.failure ??= { kind: 'failed', attempts: stalled + 1, error: reason };
            return;
          }
        }
      } else if (isNamed(error, 'ConditionalCheckFailedException')) {
        // Single PutItem mode (groupSize 1).
        const i = pending[0]!;
        const existing = await this.existingItem(state, i, (error as { Item?: Record<string, unknown> }).Item);
        if (existing) {
          state.outcomes[i] = { status: 'conflict', existing };
          return;
        }
        next = pending;
      } else if (isRetryable(error)) {
        next = pending;
        throttled = true;
      } else {
        state.failure ??= { kind: 'failed', attempts: stalled + 1, error };
        return;
      }

      if (next.length === 0) return;
      pending = next;
      // Items cancelled only because a sibling conflicted go again at once; throttling, or a
      // round that settled nothing, backs off and counts towards maxAttempts.
      if (progress && !throttled) continue;
      stalled = progress ? 0 : stalled + 1;
      if (stalled >= this.maxAttempts) {
        state.failure ??= { kind: 'exhausted', attempts: stalled, error };
        return;
      }
      const delayMs = this.backoff.delayMs(retry);
      this.onRetry?.({ table: state.table, items: pending.length, attempt: retry, delayMs, reason: 'error', error });
      retry++;
      await this.backoff.sleep(delayMs);
    }
  }

  private conditionalPut(state: CallState, i: number) {
    return {
      Item: state.items[i]!,
      ConditionExpression: CONDITION,
      ExpressionAttributeNames: state.names,
      ExpressionAttributeValues: { ':h': state.hashes[i]! },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  /**
   * The item that failed the condition: from the error (ALL_OLD, in the wire format: errors skip
   * the document client's unmarshalling), else read consistently. Undefined when it is gone.
   */
  private async existingItem(state: CallState, i: number, wire: Record<string, unknown> | undefined): Promise<Item | undefined> {
    if (wire && Object.keys(wire).length > 0) {
      // The client's own options (its number reading), but with the map wrapper: lib-dynamodb sets
      // convertWithoutMapWrapper on the options object it was given, and a whole item needs the wrapper.
      return unmarshall(wire as Parameters<typeof unmarshall>[0], { ...this.client.config.translateConfig?.unmarshallOptions, convertWithoutMapWrapper: false });
    }
    if (!this.limiter.tryAcquire()) await this.limiter.acquire();
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: state.table, Key: keyOf(state.items[i]!, state.keyNames), ConsistentRead: true }),
      );
      return out.Item;
    } finally {
      this.limiter.release();
    }
  }
}

/** A budget under TransactWriteItems' 4 MB aggregate limit, leaving room for the estimate's error. */
const TRANSACTION_BYTES = 3_500_000;

/**
 * An upper-bound estimate of an item's DynamoDB size (attribute names plus values, numbers at their
 * 21-byte maximum), cheap enough for the hot path: it only walks the item.
 */
export function approxItemBytes(item: Item): number {
  let bytes = 0;
  for (const name in item) bytes += Buffer.byteLength(name) + approxValueBytes(item[name]);
  return bytes;
}

function approxValueBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value);
    case 'number':
    case 'bigint':
      return 21;
    case 'boolean':
      return 1;
    case 'object': {
      if (value === null) return 1;
      if (value instanceof Uint8Array) return value.byteLength;
      let bytes = 3;
      if (Array.isArray(value) || value instanceof Set) {
        for (const v of value) bytes += 1 + approxValueBytes(v);
        return bytes;
      }
      if (typeof (value as { value?: unknown }).value === 'string' && Object.keys(value).length === 1) return 21; // NumberValue
      for (const k in value as Record<string, unknown>) bytes += 1 + Buffer.byteLength(k) + approxValueBytes((value as Record<string, unknown>)[k]);
      return bytes;
    }
    default:
      return 0;
  }
}

function isNamed(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}
