import { keyString, type Item, type KeyNames } from '../../item/item';

/** Writes whole items (plain, idempotent puts); resolves once every one is durable. */
export type PutItems = (items: readonly Item[]) => Promise<void>;

/**
 * The plain puts of unique target items (one source produces each) of ONE batch, held until the
 * batch's lanes are done and then written together with BatchWriteItem, instead of one call per
 * record.
 *
 * RULE (order per target key), enforced here and by ChangeTargets: only the last put of a key in a
 * batch is kept, which leaves the table exactly as applying the puts one by one would, as long as
 * nothing reads or conditionally writes that key in between. So every other operation on a target
 * key first calls `settle(key)`, which writes the key's pending put now. A batch is done (and a
 * later batch's lane of one of its partitions may start, and it is checkpointed) only after `flush`
 * made its puts durable: a crash before re-delivers the batch, and nothing is lost.
 *
 * One instance per batch: batches are applied at once (different shards, or a shard read ahead),
 * and a batch must not be done while another batch's flush still carries one of its puts.
 */
export class PendingPuts {
  private readonly puts = new Map<string, Item>();
  /** Writes started by `settle`, by key: a second `settle` of the key waits for the first. */
  private readonly settling = new Map<string, Promise<unknown>>();
  private writtenCount = 0;

  public constructor(
    private readonly putItems: PutItems,
    private readonly keyNames: KeyNames,
  ) {}

  /** Items written so far (a put superseded by a later put of its key in the batch is not counted). */
  public get written(): number {
    return this.writtenCount;
  }

  public add(item: Item): void {
    const id = keyString(item, this.keyNames);
    this.puts.delete(id); // re-inserted last: the flush keeps the batch's order of keys
    this.puts.set(id, item);
  }

  /** Makes the pending put of `key` (an item or a key) durable before the caller touches that key. */
  public async settle(key: Item): Promise<void> {
    const id = keyString(key, this.keyNames);
    const item = this.puts.get(id);
    if (item === undefined) {
      await this.settling.get(id);
      return;
    }
    this.puts.delete(id);
    const write = this.write([item]);
    this.settling.set(id, write);
    try {
      await write;
    } finally {
      if (this.settling.get(id) === write) this.settling.delete(id);
    }
  }

  /** Writes every pending put. */
  public async flush(): Promise<void> {
    const items = [...this.puts.values()];
    this.puts.clear();
    await Promise.all([this.write(items), ...this.settling.values()]);
  }

  private async write(items: readonly Item[]): Promise<void> {
    if (items.length === 0) return;
    await this.putItems(items);
    this.writtenCount += items.length;
  }
}
