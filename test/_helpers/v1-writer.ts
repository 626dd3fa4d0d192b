import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteCommand, DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CATALOG_CHANNELS, generateV1Products, productId } from '../../examples/catalog/data';
import { documentClient } from './tables';

export interface V1WriterStats {
  updates: number;
  inserts: number;
  channelDeletes: number;
  productDeletes: number;
}

/**
 * Live traffic on a v1 catalog table, as the v1 app makes it: price and stock updates on one channel,
 * new products (all channels), a channel withdrawn, a product deleted. Deterministic for a seed.
 * Runs until `signal` aborts, at about `perSecond` operations a second.
 */
export async function runV1Writer(
  table: string,
  options: { readonly existingProducts: number; readonly perSecond: number; readonly signal: AbortSignal; readonly seed?: number },
): Promise<V1WriterStats> {
  const doc = documentClient();
  const stats: V1WriterStats = { updates: 0, inserts: 0, channelDeletes: 0, productDeletes: 0 };
  let state = options.seed ?? 7;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let nextNew = 9_000_000;
  const interval = 1000 / options.perSecond;
  while (!options.signal.aborted) {
    const started = Date.now();
    const r = random();
    const id = productId(Math.floor(random() * options.existingProducts));
    const channel = CATALOG_CHANNELS[Math.floor(random() * 3)];
    if (r < 0.6) {
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: `PRODUCT#${id}`, sk: `CHANNEL#${channel}` },
          UpdateExpression: 'SET price = :p, stock = :s',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':p': 100 + Math.floor(random() * 9000), ':s': Math.floor(random() * 50) },
        }),
      ).then(() => stats.updates++, () => undefined);
    } else if (r < 0.8) {
      const items = [...generateV1Products({ products: 1, firstId: nextNew++, seed: 3 })];
      await doc.send(new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }));
      stats.inserts++;
    } else if (r < 0.93) {
      await doc.send(new DeleteCommand({ TableName: table, Key: { pk: `PRODUCT#${id}`, sk: `CHANNEL#${channel}` } }));
      stats.channelDeletes++;
    } else {
      for (const c of CATALOG_CHANNELS) await doc.send(new DeleteCommand({ TableName: table, Key: { pk: `PRODUCT#${id}`, sk: `CHANNEL#${c}` } }));
      stats.productDeletes++;
    }
    const wait = interval - (Date.now() - started);
    if (wait > 0) await sleep(wait);
  }
  return stats;
}
