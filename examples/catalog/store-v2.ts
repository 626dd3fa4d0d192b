/**
 * Products table, data version 2 (release/migrations/products-v2-channel-listings.ts): the content once,
 * a listing per channel, in one item collection under the product's partition.
 *   { pk: PRODUCT#<id>, sk: PRODUCT, title, artist, format, releaseYear, description }
 *   { pk: PRODUCT#<id>, sk: LISTING#<channel>, sku, channel, price, currency, stock, published, rev? }
 * `rev` lives on the listings, exactly where the migration's `up` puts a v1 item's extra attributes,
 * so the migration's `down` carries it back to v1 (a rollback keeps it).
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { CHANNELS, listingOf, orderChannels, productPk, revOf, revsAgree, SHARED_FIELDS, type Channel, type Listing, type Product, type ProductBody } from './product';
import { DynamoProductStore, withTransactionRetry, type DynamoProductStoreProps, type ProductStore, type StoredProduct } from './store';

const PRODUCT_SK = 'PRODUCT';
const LISTING_PREFIX = 'LISTING#';

export class ProductStoreV2 extends DynamoProductStore implements ProductStore {
  public readonly dataVersion = 2;

  public constructor(props: DynamoProductStoreProps) {
    super(props);
  }

  public async read(id: string): Promise<StoredProduct | undefined> {
    const items = await this.partition(productPk(id));
    const product = productFromV2Items(id, items);
    // The product item carries no rev (the migration keeps it on the listings).
    return product && { product, settled: revsAgree(items.filter((i) => String(i.sk).startsWith(LISTING_PREFIX))) };
  }

  public async put(id: string, body: ProductBody): Promise<void> {
    const pk = productPk(id);
    const product: Record<string, unknown> = { pk, sk: PRODUCT_SK };
    for (const f of SHARED_FIELDS) product[f] = body[f];
    const listings = CHANNELS.map((ch) => {
      const listing = body.channels[ch];
      const sk = `${LISTING_PREFIX}${ch}`;
      // A fixed set of channels: unlisted ones are deleted blind (a no-op when absent), no read first.
      return listing ? { Put: { TableName: this.table, Item: listingItem(pk, ch, body, listing) } } : { Delete: { TableName: this.table, Key: { pk, sk } } };
    });
    await withTransactionRetry(() =>
      this.client.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: this.table, Item: product } }, ...listings] })),
    );
  }

  public async delete(id: string): Promise<void> {
    const pk = productPk(id);
    const keys = [PRODUCT_SK, ...CHANNELS.map((ch) => `${LISTING_PREFIX}${ch}`)].map((sk) => ({ Delete: { TableName: this.table, Key: { pk, sk } } }));
    await withTransactionRetry(() => this.client.send(new TransactWriteCommand({ TransactItems: keys })));
  }
}

/** A v2 listing item, attributes in the order the migration's `up` produces them. */
function listingItem(pk: string, channel: Channel, body: ProductBody, listing: Listing): Record<string, unknown> {
  return {
    pk,
    sk: `${LISTING_PREFIX}${channel}`,
    sku: listing.sku,
    channel,
    price: listing.price,
    currency: listing.currency,
    stock: listing.stock,
    published: listing.published,
    ...(body.rev !== undefined ? { rev: body.rev } : {}),
  };
}

/**
 * The product of a partition's v2 items. Without its product item, or without any listing, there is
 * no product: v1 cannot hold either state, and both releases must answer the same (a sync applying
 * a change item by item passes through them).
 */
export function productFromV2Items(id: string, items: ReadonlyArray<Record<string, unknown>>): Product | undefined {
  const product = items.find((i) => i.sk === PRODUCT_SK);
  const channels: Partial<Record<Channel, Listing>> = {};
  let rev: number | undefined;
  for (const item of items) {
    const ch = String(item.sk).slice(LISTING_PREFIX.length) as Channel;
    if (!String(item.sk).startsWith(LISTING_PREFIX) || !CHANNELS.includes(ch)) continue;
    channels[ch] = listingOf(item);
    const r = revOf(item);
    if (r !== undefined && (rev === undefined || r > rev)) rev = r;
  }
  if (!product || Object.keys(channels).length === 0) return undefined;
  const shared = Object.fromEntries(SHARED_FIELDS.map((f) => [f, product[f]])) as Pick<Product, (typeof SHARED_FIELDS)[number]>;
  return { id, ...shared, channels: orderChannels(channels), ...(rev !== undefined ? { rev } : {}) };
}
