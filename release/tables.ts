/**
 * The example app's tables: a product catalog (seed 000). In v1 a product is duplicated per
 * channel (US, GB, EU); a later release's migration merges the channel copies into one product.
 * Both tables stream NEW_AND_OLD_IMAGES: the forward and reverse syncs read full images.
 */
import { parseTableManifest, type TableManifest } from '../lib/manifest/table-manifest';

export const tables: TableManifest = parseTableManifest({
  tables: [
    {
      // pk: PRODUCT#<id>, sk: CHANNEL#<US|GB|EU> in v1.
      name: 'products',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      stream: true,
      globalSecondaryIndexes: [{ indexName: 'bySku', partitionKey: { name: 'sku', type: 'S' } }],
      // Clients send `rev`, one more than the product's last: the syncs keep the later of two
      // writes of an item (RULE 7). With the app's If-Match waits (examples/catalog/preconditions.ts)
      // this covers the one case those cannot: a reverse-sync record that rebuilds a product from
      // v2's current items lands it whole before the write's last records (README, "Newer wins").
      versionAttribute: 'rev',
    },
    {
      name: 'orders',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      stream: true,
    },
  ],
});
