/**
 * Products table, data version 1 (seed 000's original layout, as examples/catalog/data.ts generates it):
 * one item per product and channel, each with its own copy of the product's content.
 *   { pk: PRODUCT#<id>, sk: CHANNEL#<US|GB|EU>, sku, title, artist, format, releaseYear, description,
 *     price, currency, stock, published, rev? }
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { CHANNELS, listingOf, orderChannels, productPk, revOf, revsAgree, SHARED_FIELDS, type Channel, type Listing, type Product, type ProductBody } from './product';
import { DynamoProductStore, withTransactionRetry, type DynamoProductStoreProps, type ProductStore, type StoredProduct } from './store';

const CHANNEL_PREFIX = 'CHANNEL#';

export class ProductStoreV1 extends DynamoProductStore implements ProductStore {
  public readonly dataVersion = 1;

  public constructor(props: DynamoProductStoreProps) {
    super(props);
  }

  public async read(id: string): Promise<StoredProduct | undefined> {
    const items = await this.partition(productPk(id), CHANNEL_PREFIX);
    const product = productFromV1Items(id, items);
    return product && { product, settled: revsAgree(items) };
  }

  public async put(id: string, body: ProductBody): Promise<void> {
    const pk = productPk(id);
    // Channels are a fixed set, so "remove the channels no longer listed" needs no read first:
    // deleting a channel item that does not exist is a no-op inside the transaction.
    const actions = CHANNELS.map((ch) => {
      const listing = body.channels[ch];
      const sk = `${CHANNEL_PREFIX}${ch}`;
      return listing ? { Put: { TableName: this.table, Item: channelItem(pk, sk, body, listing) } } : { Delete: { TableName: this.table, Key: { pk, sk } } };
    });
    await withTransactionRetry(() => this.client.send(new TransactWriteCommand({ TransactItems: actions })));
  }

  public async delete(id: string): Promise<void> {
    const pk = productPk(id);
    const actions = CHANNELS.map((ch) => ({ Delete: { TableName: this.table, Key: { pk, sk: `${CHANNEL_PREFIX}${ch}` } } }));
    await withTransactionRetry(() => this.client.send(new TransactWriteCommand({ TransactItems: actions })));
  }
}

/** One v1 channel item: the product's content copied in, then the channel's listing. */
function channelItem(pk: string, sk: string, body: ProductBody, listing: Listing): Record<string, unknown> {
  return {
    pk,
    sk,
    sku: listing.sku,
    title: body.title,
    artist: body.artist,
    format: body.format,
    releaseYear: body.releaseYear,
    description: body.description,
    price: listing.price,
    currency: listing.currency,
    stock: listing.stock,
    published: listing.published,
    ...(body.rev !== undefined ? { rev: body.rev } : {}),
  };
}

/**
 * The product of a partition's v1 channel items, or undefined when it has none. The app writes all
 * copies in one transaction, so they agree; while a sync is still applying a change item by item
 * they may not, and then the copy with the highest rev (the newest write) gives the content.
 */
export function productFromV1Items(id: string, items: ReadonlyArray<Record<string, unknown>>): Product | undefined {
  const byChannel = new Map<Channel, Record<string, unknown>>();
  for (const item of items) {
    const ch = String(item.sk).slice(CHANNEL_PREFIX.length) as Channel;
    if (String(item.sk).startsWith(CHANNEL_PREFIX) && CHANNELS.includes(ch)) byChannel.set(ch, item);
  }
  if (byChannel.size === 0) return undefined;
  const copies = CHANNELS.filter((ch) => byChannel.has(ch)).map((ch) => byChannel.get(ch)!);
  const newest = copies.reduce((a, b) => ((revOf(b) ?? -1) > (revOf(a) ?? -1) ? b : a));
  const channels: Partial<Record<Channel, Listing>> = {};
  for (const [ch, item] of byChannel) channels[ch] = listingOf(item);
  const shared = Object.fromEntries(SHARED_FIELDS.map((f) => [f, newest[f]])) as Pick<Product, (typeof SHARED_FIELDS)[number]>;
  const rev = revOf(newest);
  return { id, ...shared, channels: orderChannels(channels), ...(rev !== undefined ? { rev } : {}) };
}
