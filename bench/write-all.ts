import type { Item, KeyNames } from '../lib/item/item';
import type { BatchWriter } from '../lib/data/write/batch-writer';

/** Writes a stream of items in slices of 2,500, at most four slices in flight: seeding at full speed, bounded memory. */
export async function writeAll(writer: BatchWriter, table: string, source: Iterable<Item>, keys: KeyNames): Promise<void> {
  let batch: Array<{ put: Item }> = [];
  const inFlight: Array<Promise<unknown>> = [];
  for (const item of source) {
    batch.push({ put: item });
    if (batch.length === 2500) {
      inFlight.push(writer.write(table, batch, keys));
      batch = [];
      if (inFlight.length >= 4) await inFlight.shift();
    }
  }
  if (batch.length) inFlight.push(writer.write(table, batch, keys));
  await Promise.all(inFlight);
}
