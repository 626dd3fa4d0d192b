import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteCommand, DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CATALOG_CHANNELS, generateV1Products, productId } from '../../examples/catalog/data';
import { documentClient } from './tables';

export interface V1WriterStats {
  updates: number;
  inserts: number;
  channelDeletes: number;
  productDeletes: number;
  /** Updates refused because the item was deleted meanwhile (no write, no stream record). */
  updatesMissed: number;
  /** Operations started (each of the kinds above, missed updates included). */
  operations: number;
  /** From the first operation to the end of the last one. */
  seconds: number;
}

export interface V1WriterOptions {
  readonly existingProducts: number;
  readonly perSecond: number;
  readonly signal: AbortSignal;
  readonly seed?: number;
  /**
   * Operations in flight at once. One operation is a round trip (three for a product delete), so one
   * in flight cannot go faster than the table answers; benchmarks raise this to reach `perSecond`.
   * The sequence of operations is the same for a seed whatever the concurrency. @default 1
   */
  readonly concurrency?: number;
}

/** Behind schedule by more than this, the writer gives up the missed slots instead of bursting. */
const MAX_BURST_MS = 250;

/**
 * Live traffic on a v1 catalog table, as the v1 app makes it: price and stock updates on one channel,
 * new products (all channels), a channel withdrawn, a product deleted. Deterministic for a seed.
 * Runs until `signal` aborts, at about `perSecond` operations a second.
 *
 * Every put and update stamps the item with `writtenAtMs` (Date.now() when the write is sent), so a
 * stream consumer can measure its lag from the record's new image (deletes carry no image).
 */
export async function runV1Writer(table: string, options: V1WriterOptions): Promise<V1WriterStats> {
  const doc = documentClient();
  const stats: V1WriterStats = { updates: 0, inserts: 0, channelDeletes: 0, productDeletes: 0, updatesMissed: 0, operations: 0, seconds: 0 };
  let state = options.seed ?? 7;
  // 32-bit integer arithmetic: in floating point the product loses bits and every seed falls into one short cycle.
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff) / 2 ** 31);
  let nextNew = 9_000_000;
  const interval = 1000 / options.perSecond;
  const started = Date.now();
  let due = started;

  // Draws the next operation (synchronously, so the sequence does not depend on the interleaving).
  const next = (): (() => Promise<void>) => {
    const r = random();
    const id = productId(Math.floor(random() * options.existingProducts));
    const channel = CATALOG_CHANNELS[Math.floor(random() * 3)];
    if (r < 0.6) {
      const price = 100 + Math.floor(random() * 9000);
      const stock = Math.floor(random() * 50);
      return () =>
        doc
          .send(
            new UpdateCommand({
              TableName: table,
              Key: { pk: `PRODUCT#${id}`, sk: `CHANNEL#${channel}` },
              UpdateExpression: 'SET price = :p, stock = :s, writtenAtMs = :w',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':p': price, ':s': stock, ':w': Date.now() },
            }),
          )
          .then(() => void stats.updates++, () => void stats.updatesMissed++);
    }
    if (r < 0.8) {
      const items = [...generateV1Products({ products: 1, firstId: nextNew++, seed: 3 })];
      return async () => {
        const writtenAtMs = Date.now();
        await doc.send(new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item: { ...Item, writtenAtMs } } })) } }));
        stats.inserts++;
      };
    }
    if (r < 0.93) {
      return async () => {
        await doc.send(new DeleteCommand({ TableName: table, Key: { pk: `PRODUCT#${id}`, sk: `CHANNEL#${channel}` } }));
        stats.channelDeletes++;
      };
    }
    return async () => {
      for (const c of CATALOG_CHANNELS) await doc.send(new DeleteCommand({ TableName: table, Key: { pk: `PRODUCT#${id}`, sk: `CHANNEL#${c}` } }));
      stats.productDeletes++;
    };
  };

  // Each lane takes the next slot of one shared schedule (`perSecond` slots a second) and waits for it.
  const lane = async (): Promise<void> => {
    while (!options.signal.aborted) {
      const now = Date.now();
      if (now - due > MAX_BURST_MS) due = now;
      const wait = due - now;
      due += interval;
      const op = next();
      if (wait > 0) await sleep(wait);
      if (options.signal.aborted) return;
      stats.operations++;
      await op();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, lane));
  stats.seconds = (Date.now() - started) / 1000;
  return stats;
}
