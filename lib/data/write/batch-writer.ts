import { BatchWriteCommand, type BatchWriteCommandInput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { messageOf, toolError } from '../../errors';
import type { Item, Key, KeyNames } from '../../item/item';
import { Backoff, isRetryable, type BackoffOptions } from '../retry';
import { keyId } from './key-id';
import { Limiter } from './limiter';

/** One write of a batch: put a whole item, or delete the item with this key. */
export type WriteRequest = { readonly put: Item } | { readonly delete: Key };

export interface BatchWriteResult {
  /** Requests made durable (after superseded requests for the same key were dropped: see `write`). */
  readonly written: number;
  /** Requests sent again (unprocessed by DynamoDB, or in a call that failed with a retryable error). */
  readonly retries: number;
}

/** Sent to `onRetry` before the writer sleeps and sends requests again. */
export interface WriteRetryEvent {
  readonly table: string;
  /** How many requests are sent again. */
  readonly items: number;
  /** The retry number of this chunk, from 0 (the backoff exponent). */
  readonly attempt: number;
  /** The backoff before the retry, in ms. */
  readonly delayMs: number;
  /** `unprocessed`: DynamoDB returned them as UnprocessedItems; `error`: the call failed retryably. */
  readonly reason: 'unprocessed' | 'error';
  /** The retryable error, for `reason: 'error'`. @default - none */
  readonly error?: unknown;
}

export interface BatchWriterProps {
  /** The client every call goes through (native items). */
  readonly client: DynamoDBDocumentClient;
  /**
   * The most BatchWriteItem calls in flight at once, over all `write` calls of this writer:
   * concurrent callers share the limit and queue behind it (the backpressure). @default 16
   */
  readonly concurrency?: number;
  /**
   * How many calls in a row a chunk may make without getting any request accepted (all unprocessed
   * or a retryable error) before the writer gives up with WRITE_EXHAUSTED. A call that gets part of
   * a chunk accepted is progress and starts the count again. @default 12
   */
  readonly maxAttempts?: number;
  /** Backoff between retries. @default - base 25 ms, cap 2 s, full jitter */
  readonly backoff?: BackoffOptions;
  /** Called before each retry (progress reporting); must not throw. @default - none */
  readonly onRetry?: (event: WriteRetryEvent) => void;
}

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_LIMIT = 25;

type SdkWriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

/** Bookkeeping of one `write` call, shared by its chunks. */
interface CallState {
  durable: number;
  retries: number;
  /** Set by the first chunk that fails: the others stop before their next call. */
  failure?: { readonly kind: 'exhausted' | 'failed'; readonly attempts: number; readonly error?: unknown };
}

/**
 * Writes puts and deletes with BatchWriteItem, retrying UnprocessedItems and throttling with capped
 * exponential backoff and full jitter. It never drops a request: `write` resolves once every request
 * is durable, or rejects with a ReleaseError (WRITE_EXHAUSTED, WRITE_FAILED) that says how many
 * were not written.
 *
 * BatchWriteItem carries no conditions: these are unconditional last-writer-wins writes.
 */
export class BatchWriter {
  private readonly client: DynamoDBDocumentClient;
  private readonly limiter: Limiter;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly onRetry?: (event: WriteRetryEvent) => void;

  public constructor(props: BatchWriterProps) {
    this.client = props.client;
    this.limiter = new Limiter(props.concurrency ?? 16);
    this.maxAttempts = props.maxAttempts ?? 12;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw toolError('WRITE_INVALID_OPTIONS', `maxAttempts must be a positive integer, got ${props.maxAttempts}`);
    }
    this.backoff = new Backoff(props.backoff);
    this.onRetry = props.onRetry;
  }

  /** BatchWriteItem calls in flight now, over all callers. */
  public get inFlight(): number {
    return this.limiter.inFlight;
  }

  /**
   * Writes `requests` to `tableName` in chunks of 25, up to `concurrency` calls at once.
   *
   * Several requests for the same key: only the LAST one in input order is sent, and the others
   * count as superseded (not in `written`). Chunks run concurrently, so sending two requests for
   * one key could apply them in either order; keeping the last one makes the table end up exactly
   * as if the requests had been applied one by one in the caller's order. (It also satisfies
   * BatchWriteItem, which rejects two requests for one key in a call.)
   */
  public async write(tableName: string, requests: readonly WriteRequest[], keyNames: KeyNames): Promise<BatchWriteResult> {
    const unique = lastPerKey(tableName, requests, keyNames);
    if (unique.length === 0) return { written: 0, retries: 0 };

    const state: CallState = { durable: 0, retries: 0 };
    const chunks: Array<Promise<void>> = [];
    for (let i = 0; i < unique.length; i += BATCH_WRITE_LIMIT) {
      const chunk = this.writeChunk(tableName, unique.slice(i, i + BATCH_WRITE_LIMIT), state);
      chunks.push(chunk.catch((error: unknown) => void (state.failure ??= { kind: 'failed', attempts: 0, error })));
    }
    // No chunk rejects: a failure is recorded in `state` and reported once every chunk has settled,
    // so no call of ours is still running when `write` rejects.
    await Promise.all(chunks);

    const left = unique.length - state.durable;
    if (state.failure?.kind === 'failed') {
      throw toolError(
        'WRITE_FAILED',
        `batch write to table "${tableName}" failed: ${messageOf(state.failure.error)}; ${left} of ${unique.length} items are not written`,
        { cause: state.failure.error },
      );
    }
    if (state.failure || left !== 0) {
      throw toolError(
        'WRITE_EXHAUSTED',
        `batch write to table "${tableName}" gave up after ${state.failure?.attempts ?? 0} attempts without progress: ${left} of ${unique.length} items are not written`,
        {
          fix: "lower the write concurrency or raise the table's write capacity, then run again",
          cause: state.failure?.error,
        },
      );
    }
    return { written: state.durable, retries: state.retries };
  }

  private async writeChunk(table: string, chunk: SdkWriteRequest[], state: CallState): Promise<void> {
    let pending = chunk;
    let retry = 0;
    let stalled = 0;
    for (;;) {
      if (state.failure) return;
      if (!this.limiter.tryAcquire()) await this.limiter.acquire();
      let unprocessed: SdkWriteRequest[] | undefined;
      let error: unknown;
      try {
        const out = await this.client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        unprocessed = out.UnprocessedItems?.[table];
      } catch (err) {
        error = err ?? new Error('BatchWriteItem rejected without an error');
      } finally {
        this.limiter.release();
      }

      if (error === undefined) {
        const left = unprocessed?.length ?? 0;
        state.durable += pending.length - left;
        if (left === 0) return;
        stalled = left < pending.length ? 0 : stalled + 1;
        pending = unprocessed!;
      } else if (isRetryable(error)) {
        stalled++;
      } else {
        state.failure ??= { kind: 'failed', attempts: stalled + 1, error };
        return;
      }

      if (stalled >= this.maxAttempts) {
        state.failure ??= { kind: 'exhausted', attempts: stalled, error };
        return;
      }
      const delayMs = this.backoff.delayMs(retry);
      state.retries += pending.length;
      this.onRetry?.({ table, items: pending.length, attempt: retry, delayMs, reason: error === undefined ? 'unprocessed' : 'error', error });
      retry++;
      await this.backoff.sleep(delayMs);
    }
  }
}

/** The SDK form of the requests, keeping only the last request per key, in input order. */
function lastPerKey(table: string, requests: readonly WriteRequest[], keyNames: KeyNames): SdkWriteRequest[] {
  const n = requests.length;
  const ids = new Array<string>(n);
  const last = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = requests[i]!;
    const id = keyId('put' in r ? r.put : r.delete, keyNames, table);
    ids[i] = id;
    last.set(id, i);
  }
  const out: SdkWriteRequest[] = [];
  const hasDuplicates = last.size !== n;
  for (let i = 0; i < n; i++) {
    if (hasDuplicates && last.get(ids[i]!) !== i) continue;
    const r = requests[i]!;
    out.push('put' in r ? { PutRequest: { Item: r.put } } : { DeleteRequest: { Key: r.delete } });
  }
  return out;
}

/**
 * A DynamoDB refusal of the request itself (ValidationException: an item over 400 KB, a key of the
 * wrong type), which sending it again cannot fix; also when wrapped (WRITE_FAILED's cause).
 * Conditional failures and throttling are not.
 */
export function isInvalidRequest(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { name?: unknown }).name === 'ValidationException') return true;
  }
  return false;
}
