/**
 * products v2: one product, per-channel listings (seed 000's fix for duplicated content).
 *
 * v1 keeps one item per product and channel, each with its own copy of the product's content:
 *   { pk: PRODUCT#<id>, sk: CHANNEL#<US|GB|EU>, sku, title, artist, format, releaseYear, description,
 *     price, currency, stock, published }
 * v2 keeps the content once, in an item collection under the product's partition:
 *   { pk: PRODUCT#<id>, sk: PRODUCT, title, artist, format, releaseYear, description }      (shared)
 *   { pk: PRODUCT#<id>, sk: LISTING#<channel>, sku, channel, price, currency, stock, published }
 *
 * Every channel item produces the product item (many-to-one, `isShared`). No `merge` is declared:
 * channel copies whose content has drifted apart are exactly the data a human must look at, so they
 * become dead letters instead of one copy silently winning.
 *
 * Attributes v1 items carry beyond the schema travel on the listing (they came from one channel
 * item) and come back from it in `down`, so down(up(x)) == x for every channel item.
 */
import { z } from 'zod';
import type { Item, Key, Migration, MigrationContext } from 'stackshift';

export const CHANNELS = ['US', 'GB', 'EU'] as const;
export type Channel = (typeof CHANNELS)[number];

export const PRODUCT_SK = 'PRODUCT';
const CHANNEL_PREFIX = 'CHANNEL#';
const LISTING_PREFIX = 'LISTING#';

const pk = z.string().regex(/^PRODUCT#.+$/, 'expected PRODUCT#<id>');
const sharedFields = {
  title: z.string().min(1),
  artist: z.string().min(1),
  format: z.enum(['LP', 'CD']),
  releaseYear: z.number().int(),
  description: z.string(),
};
const listingFields = {
  sku: z.string().min(1),
  price: z.number().int().nonnegative(),
  currency: z.enum(['USD', 'GBP', 'EUR']),
  stock: z.number().int().nonnegative(),
  published: z.boolean(),
};

/** A v1 channel item: the previous release's schema (the backward-compatibility check uses it). */
export const productV1Schema = z.object({
  pk,
  sk: z.enum(['CHANNEL#US', 'CHANNEL#GB', 'CHANNEL#EU']),
  ...sharedFields,
  ...listingFields,
});
export type ProductV1 = z.infer<typeof productV1Schema>;

/** The v2 product item, shared by the product's channels. */
export const productItemV2Schema = z.object({ pk, sk: z.literal(PRODUCT_SK), ...sharedFields });

/** A v2 listing item: what one channel sells the product for. */
export const listingItemV2Schema = z
  .object({ pk, sk: z.enum(['LISTING#US', 'LISTING#GB', 'LISTING#EU']), channel: z.enum(CHANNELS), ...listingFields })
  .refine((l) => l.sk === `${LISTING_PREFIX}${l.channel}`, { message: 'sk and channel disagree', path: ['channel'] });

/** Any v2 item of the products table. */
export const productV2Schema = z.union([productItemV2Schema, listingItemV2Schema]);

/** The product's content, kept once in v2 (on the PRODUCT item). */
export const SHARED_FIELDS: readonly string[] = Object.keys(sharedFields);
const SHARED = new Set(SHARED_FIELDS);

export const productsV2ChannelListings: Migration = {
  table: 'products',
  version: 2,
  description: 'split per-channel product copies into one product item and a listing per channel',
  schema: productV2Schema,
  downSchema: productV1Schema,

  up(item: Item): Item[] {
    const channel = channelOf(item.sk, CHANNEL_PREFIX);
    const product: Item = { pk: item.pk, sk: PRODUCT_SK };
    for (const f of SHARED_FIELDS) product[f] = item[f];
    const listing: Item = {};
    for (const [name, value] of Object.entries(item)) if (!SHARED.has(name) && name !== 'pk' && name !== 'sk') listing[name] = value;
    listing.pk = item.pk;
    listing.sk = `${LISTING_PREFIX}${channel}`;
    listing.channel = channel;
    return [product, listing];
  },

  async down(item: Item, ctx: MigrationContext): Promise<Item[]> {
    if (item.sk === PRODUCT_SK) {
      // A product change reaches every channel copy: rebuild each from its listing.
      const listings = (await ctx.queryPartition(item.pk as string)).filter((i) => typeof i.sk === 'string' && i.sk.startsWith(LISTING_PREFIX));
      return listings.map((listing) => toV1(item, listing));
    }
    channelOf(item.sk, LISTING_PREFIX);
    const product = await ctx.get({ pk: item.pk, sk: PRODUCT_SK });
    // A listing without its product item is no product in v2 (the app reads it as absent), and
    // "no product" in v1 is no channel item: nothing. The reverse sync meets this when a product was
    // changed and then deleted on v2 before the change was applied; the delete's records follow.
    if (!product) return [];
    return [toV1(product, item)];
  },

  isShared(item: Item): boolean {
    return item.sk === PRODUCT_SK;
  },

  sourcesOf(item: Item): { readonly partition: string } | readonly Key[] {
    if (item.sk === PRODUCT_SK) return { partition: item.pk as string };
    return [{ pk: item.pk, sk: `${CHANNEL_PREFIX}${channelOf(item.sk, LISTING_PREFIX)}` }];
  },
};

/** The v1 channel item of one listing: the product's shared fields plus the listing's own. */
function toV1(product: Item, listing: Item): Item {
  const channel = channelOf(listing.sk, LISTING_PREFIX);
  const out: Item = {};
  for (const [name, value] of Object.entries(listing)) if (name !== 'channel') out[name] = value;
  out.sk = `${CHANNEL_PREFIX}${channel}`;
  for (const f of SHARED_FIELDS) out[f] = product[f];
  return out;
}

function channelOf(sk: unknown, prefix: string): Channel {
  const channel = typeof sk === 'string' && sk.startsWith(prefix) ? sk.slice(prefix.length) : undefined;
  if (!CHANNELS.includes(channel as Channel)) throw new Error(`sk ${JSON.stringify(sk)} is not ${prefix}<${CHANNELS.join('|')}>`);
  return channel as Channel;
}

