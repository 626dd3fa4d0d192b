import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../../errors';
import { keyOf, keyString, type Item, type Key, type KeyNames } from '../../item/item';
import { Backoff } from '../retry';
import { MicroBatcher } from './micro-batch';

/** BatchGetItem's limit. */
const BATCH_GET_MAX_KEYS = 100;
/** Calls per chunk, the first included, while keys come back unprocessed (throttling). */
const MAX_ATTEMPTS = 8;

/**
 * Strongly consistent reads of whole target items (meta attributes included: the source and
 * content hash the shared-item rules compare), coalesced into BatchGetItem calls (micro-batch.ts).
 * Consistent, because a read decides a conditional write that follows it.
 */
export class TargetReads {
  private readonly batcher: MicroBatcher<Key, Item | undefined>;
  private readonly backoff = new Backoff();

  public constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly keyNames: KeyNames,
  ) {
    this.batcher = new MicroBatcher((keys) => this.readAll(keys));
  }

  /** The item with `key`'s key (only the key attributes of `key` are used), or undefined. */
  public get(key: Item): Promise<Item | undefined> {
    return this.batcher.submit(keyOf(key, this.keyNames));
  }

  private async readAll(keys: readonly Key[]): Promise<Array<Item | undefined>> {
    const found = new Map<string, Item | undefined>();
    const unique = new Map(keys.map((k) => [keyString(k, this.keyNames), k]));
    const ids = [...unique.keys()];
    const chunks: Array<Promise<void>> = [];
    for (let i = 0; i < ids.length; i += BATCH_GET_MAX_KEYS) {
      chunks.push(this.readChunk(ids.slice(i, i + BATCH_GET_MAX_KEYS).map((id) => unique.get(id)!), found));
    }
    await Promise.all(chunks);
    return keys.map((k) => found.get(keyString(k, this.keyNames)));
  }

  private async readChunk(chunk: readonly Key[], found: Map<string, Item | undefined>): Promise<void> {
    let keys = chunk;
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: [...keys], ConsistentRead: true } } }));
      for (const item of out.Responses?.[this.table] ?? []) found.set(keyString(item, this.keyNames), item);
      const unprocessed = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      if (unprocessed.length === 0) return;
      if (attempt >= MAX_ATTEMPTS) {
        throw toolError('SYNC_READ_UNPROCESSED', `BatchGetItem on table ${this.table} left ${unprocessed.length} key(s) unprocessed after ${attempt} attempts`, {
          fix: "the target table is throttled: raise its read capacity, then start the sync again (it resumes from its checkpoints)",
        });
      }
      keys = unprocessed;
      await this.backoff.sleep(this.backoff.delayMs(attempt - 1));
    }
  }
}
