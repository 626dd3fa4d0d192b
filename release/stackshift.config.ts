/**
 * The example catalog's release definition, written as a team writes its own: only the public API
 * (`stackshift`), loaded by the CLI like any team's config (it looks at the repository root, then
 * in `release/`). The app's code lives in examples/catalog.
 */
import { defineConfig } from 'stackshift';
import { checks } from '../examples/catalog/checks';
import { productsV2ChannelListings } from './migrations/products-v2-channel-listings';

export default defineConfig({
  app: 'catalog',
  zoneName: 'catalog.example.test',
  appDir: 'examples/catalog',
  appEntry: 'server.ts',
  // The catalog's writes are one DynamoDB call each (p50 4 ms in the demo): a quarter second covers
  // every write already inside the app when a cut-over holds new ones, and keeps the pause short.
  writeDrainMs: 250,
  tables: [
    {
      // pk: PRODUCT#<id>, sk: CHANNEL#<US|GB|EU> in v1; a product is duplicated per channel, and v2's
      // migration merges the channel copies into one product.
      name: 'products',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      // NEW_AND_OLD_IMAGES: the forward and reverse syncs read full images
      stream: true,
      globalSecondaryIndexes: [{ indexName: 'bySku', partitionKey: { name: 'sku', type: 'S' } }],
      // Clients send `rev`, one more than the product's last: the syncs keep the later of two
      // writes of an item (RULE 7). With the app's If-Match waits (examples/catalog/preconditions.ts)
      // this covers the one case those cannot: a reverse-sync record that rebuilds a product from
      // v2's current items lands it whole before the write's last records (docs, "Newer wins").
      versionAttribute: 'rev',
    },
    {
      name: 'orders',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      stream: true,
    },
  ],
  migrations: [productsV2ChannelListings],
  checks,
});
