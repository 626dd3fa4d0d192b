/**
 * The MigrationContext the engine gives to migrations: reads from one table, batched.
 *
 * `get`s made while the same macrotask runs (every item of a page migrated concurrently, each step
 * awaiting in microtasks) are collected and sent as BatchGetItem calls of at most 100 keys when the
 * event loop next turns (setImmediate). Keys asked for twice share one read. UnprocessedKeys are
 * retried with capped exponential backoff and full jitter; a key still unprocessed after the last
 * attempt rejects its `get` (the migration throws, the item is dead-lettered, nothing is dropped).
 */
import { BatchGetCommand, paginateQuery, type DynamoDBDocumentClient, type NumberValue } from '@aws-sdk/lib-dynamodb';
import { toolError, userError } from '../../errors';
import { keyOf, keyString, withoutMeta, type Item, type Key, type KeyNames } from '../../item/item';
import { Backoff, type BackoffOptions } from '../retry';
import type { MigrationContext } from './migration';

/** A key given to `ctx.get` lacks a key attribute of the table. */
export const MIGRATION_CONTEXT_KEY_INVALID = 'MIGRATION_CONTEXT_KEY_INVALID';
/** BatchGetItem kept returning a key as unprocessed (throttling) after every retry. */
export const MIGRATION_CONTEXT_UNPROCESSED = 'MIGRATION_CONTEXT_UNPROCESSED';

/** BatchGetItem's limit. */
export const BATCH_GET_MAX_KEYS = 100;

export interface RetryOptions {
  /** Attempts per batch, the first included. @default 8 */
  readonly maxAttempts?: number;
  /** Delays between attempts (capped exponential, full jitter). @default - Backoff's defaults */
  readonly backoff?: BackoffOptions;
}

export interface MigrationContextOptions {
  readonly client: DynamoDBDocumentClient;
  /** The physical table the migration reads. */
  readonly tableName: string;
  readonly keyNames: KeyNames;
  /**
   * Strongly consistent reads. On by default: `down` reads the newer table right after the write
   * whose stream record it handles, and an eventually consistent read may miss that write.
   * @default true
   */
  readonly consistentRead?: boolean;
  /** Page size of `queryPartition`'s Query calls. @default - DynamoDB's 1 MB pages */
  readonly queryPageSize?: number;
  /** Retries of UnprocessedKeys. @default - see RetryOptions */
  readonly retry?: RetryOptions;
}

interface Waiter {
  readonly resolve: (item: Item | undefined) => void;
  readonly reject: (err: unknown) => void;
}

interface PendingKey {
  readonly key: Key;
  readonly waiters: Waiter[];
}

/** Reads served to migrations; items come back without the engine's meta attributes. */
export class BatchingMigrationContext implements MigrationContext {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly keyNames: KeyNames;
  private readonly consistentRead: boolean;
  private readonly queryPageSize?: number;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  /** keyString → the key and everyone waiting for it, until the next flush. */
  private pending = new Map<string, PendingKey>();
  private scheduled = false;

  public constructor(options: MigrationContextOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.keyNames = options.keyNames;
    this.consistentRead = options.consistentRead ?? true;
    this.queryPageSize = options.queryPageSize;
    this.maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 8);
    this.backoff = new Backoff(options.retry?.backoff);
  }

  public get(key: Key): Promise<Item | undefined> {
    const { partitionKey, sortKey } = this.keyNames;
    for (const name of sortKey ? [partitionKey, sortKey] : [partitionKey]) {
      const v = key?.[name];
      if (v === undefined || v === null || v === '') {
        return Promise.reject(
          userError(MIGRATION_CONTEXT_KEY_INVALID, `ctx.get on table ${this.tableName} got key ${safeJson(key)} without "${name}"`, {
            fix: `pass every key attribute: ${[partitionKey, sortKey].filter(Boolean).join(', ')}`,
          }),
        );
      }
    }
    // Only the key attributes: BatchGetItem rejects a key with any other attribute.
    const exact = keyOf(key, this.keyNames);
    const id = keyString(exact, this.keyNames);
    return new Promise<Item | undefined>((resolve, reject) => {
      let entry = this.pending.get(id);
      if (!entry) this.pending.set(id, (entry = { key: exact, waiters: [] }));
      entry.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  public async queryPartition(partitionKeyValue: string | number | NumberValue | Uint8Array): Promise<Item[]> {
    const items: Item[] = [];
    const pages = paginateQuery(
      { client: this.client, ...(this.queryPageSize ? { pageSize: this.queryPageSize } : {}) },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': this.keyNames.partitionKey },
        ExpressionAttributeValues: { ':pk': partitionKeyValue },
        ConsistentRead: this.consistentRead,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) items.push(withoutMeta(item));
    return items;
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const entries = [...batch.values()];
    for (let i = 0; i < entries.length; i += BATCH_GET_MAX_KEYS) {
      const chunk = entries.slice(i, i + BATCH_GET_MAX_KEYS);
      this.fetch(chunk).catch((err: unknown) => {
        for (const entry of chunk) for (const w of entry.waiters) w.reject(err);
      });
    }
  }

  /** One BatchGetItem for ≤ 100 keys, then retries of its UnprocessedKeys; settles every waiter it resolves. */
  private async fetch(chunk: readonly PendingKey[]): Promise<void> {
    const byId = new Map(chunk.map((entry) => [keyString(entry.key, this.keyNames), entry]));
    let keys: Key[] = chunk.map((entry) => entry.key);
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: this.consistentRead } } }),
      );
      for (const item of out.Responses?.[this.tableName] ?? []) {
        const id = keyString(item, this.keyNames);
        const entry = byId.get(id);
        if (!entry) continue;
        byId.delete(id);
        const clean = withoutMeta(item);
        for (const w of entry.waiters) w.resolve(clean);
      }
      const unprocessed = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      const retry = new Set(unprocessed.map((k) => keyString(k, this.keyNames)));
      // Neither returned nor unprocessed: the item does not exist.
      for (const [id, entry] of byId) {
        if (retry.has(id)) continue;
        byId.delete(id);
        for (const w of entry.waiters) w.resolve(undefined);
      }
      if (byId.size === 0) return;
      if (attempt >= this.maxAttempts) {
        throw toolError(
          MIGRATION_CONTEXT_UNPROCESSED,
          `BatchGetItem on table ${this.tableName} left ${byId.size} key(s) unprocessed after ${attempt} attempts`,
          { fix: 'the table is throttled: raise its read capacity or lower the copy concurrency, then re-drive the dead letters' },
        );
      }
      keys = [...byId.values()].map((entry) => entry.key);
      await this.backoff.sleep(this.backoff.delayMs(attempt - 1));
    }
  }
}

/** A MigrationContext over one table: batched `get`s, paginated `queryPartition`. */
export function createMigrationContext(options: MigrationContextOptions): BatchingMigrationContext {
  return new BatchingMigrationContext(options);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
