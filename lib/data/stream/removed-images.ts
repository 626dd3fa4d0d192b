import { keyString, withoutMeta, type Item, type Key, type KeyNames } from '../../item/item';
import type { MigrationContext } from '../migrations/migration';

/**
 * The old images of items the stream says were removed, most recent first, bounded. A migration
 * that reads other items (the example's `down` reads a listing's product) cannot compute the
 * targets of a REMOVE when the items it reads were removed in the same change (a whole product
 * deleted: product item and listings): the table no longer has them. To find the targets to
 * delete, the REMOVE's old image is migrated with reads that fall back to these images.
 */
export class RemovedImages {
  private readonly images = new Map<string, Item>();

  public constructor(
    private readonly keyNames: KeyNames,
    private readonly capacity = 10_000,
  ) {}

  /** Keeps the image as a migration would read it from the table: without the engine's attributes. */
  public add(image: Item): void {
    const k = keyString(image, this.keyNames);
    this.images.delete(k);
    this.images.set(k, withoutMeta(image));
    if (this.images.size > this.capacity) this.images.delete(this.images.keys().next().value!);
  }

  /** A context reading the table first and these images for what the table no longer has. */
  public over(ctx: MigrationContext): MigrationContext {
    return {
      get: async (key: Key) => (await ctx.get(key)) ?? this.images.get(keyString(key, this.keyNames)),
      queryPartition: async (value) => {
        const live = await ctx.queryPartition(value);
        const seen = new Set(live.map((i) => keyString(i, this.keyNames)));
        const gone = [...this.images.values()].filter((i) => i[this.keyNames.partitionKey] === value && !seen.has(keyString(i, this.keyNames)));
        return [...live, ...gone];
      },
    };
  }
}
