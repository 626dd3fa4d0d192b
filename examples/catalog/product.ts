/**
 * The catalog's HTTP contract: one product as clients see it, whatever the storage version.
 * Both storage versions (store-v1.ts, store-v2.ts) read and write exactly this shape, so a client
 * cannot tell which release answered it: that is what makes the release zero-downtime.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';

export const CHANNELS = ['US', 'GB', 'EU'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What one channel sells the product for. */
export interface Listing {
  readonly sku: string;
  /** In minor units (cents, pence). */
  readonly price: number;
  readonly currency: 'USD' | 'GBP' | 'EUR';
  readonly stock: number;
  readonly published: boolean;
}

/** The body of `PUT /products/:id`. */
export interface ProductBody {
  readonly title: string;
  readonly artist: string;
  readonly format: 'LP' | 'CD';
  readonly releaseYear: number;
  readonly description: string;
  readonly channels: Readonly<Partial<Record<Channel, Listing>>>;
  /** A client's own revision number, stored as plain data (the traffic generator checks writes with it). */
  readonly rev?: number;
}

/** The body of `GET /products/:id`. */
export interface Product extends ProductBody {
  readonly id: string;
}

/** The product's content, which v1 copies onto every channel item and v2 keeps once. */
export const SHARED_FIELDS = ['title', 'artist', 'format', 'releaseYear', 'description'] as const;
/** A listing's fields, the same on a v1 channel item and a v2 listing item. */
export const LISTING_FIELDS = ['sku', 'price', 'currency', 'stock', 'published'] as const;

const listingSchema = z.strictObject({
  sku: z.string().min(1),
  price: z.number().int().nonnegative(),
  currency: z.enum(['USD', 'GBP', 'EUR']),
  stock: z.number().int().nonnegative(),
  published: z.boolean(),
});

/**
 * A product must be listed in at least one channel: v1 has no item to keep an unlisted product in,
 * so allowing it in v2 would make the two releases answer differently.
 */
export const productBodySchema = z.strictObject({
  // Tolerated so that a client can send back what it read; it must then name the same product.
  id: z.string().optional(),
  title: z.string().min(1),
  artist: z.string().min(1),
  format: z.enum(['LP', 'CD']),
  releaseYear: z.number().int(),
  description: z.string(),
  channels: z
    .strictObject({ US: listingSchema.optional(), GB: listingSchema.optional(), EU: listingSchema.optional() })
    .refine((c) => CHANNELS.some((ch) => c[ch] !== undefined), { message: 'a product must be listed in at least one channel (US, GB, EU)' }),
  rev: z.number().int().nonnegative().optional(),
});

/** URL-safe ids only (RFC 3986 unreserved characters), so a path never needs decoding to find the id. */
const PRODUCT_ID = /^[A-Za-z0-9._~-]{1,128}$/;

export function isValidProductId(id: string): boolean {
  return PRODUCT_ID.test(id);
}

/** The partition key of a product in both storage versions. */
export function productPk(id: string): string {
  return `PRODUCT#${id}`;
}

/** The body without `id`, fields in a fixed order (responses look the same from both stores). */
export function toProductBody(input: z.infer<typeof productBodySchema>): ProductBody {
  const channels: Partial<Record<Channel, Listing>> = {};
  for (const ch of CHANNELS) {
    const l = input.channels[ch];
    if (l) channels[ch] = { sku: l.sku, price: l.price, currency: l.currency, stock: l.stock, published: l.published };
  }
  return {
    title: input.title,
    artist: input.artist,
    format: input.format,
    releaseYear: input.releaseYear,
    description: input.description,
    channels,
    ...(input.rev !== undefined ? { rev: input.rev } : {}),
  };
}

/** A listing's fields picked from a stored item (which may carry more, e.g. the sync's `_ss*` markers). */
export function listingOf(item: Record<string, unknown>): Listing {
  return {
    sku: item.sku as string,
    price: item.price as number,
    currency: item.currency as Listing['currency'],
    stock: item.stock as number,
    published: item.published as boolean,
  };
}

/** A stored item's `rev`, when it is a number. */
export function revOf(item: Record<string, unknown>): number | undefined {
  return typeof item.rev === 'number' ? item.rev : undefined;
}

/** Channels in the fixed order US, GB, EU (JSON responses are then byte-identical across versions). */
export function orderChannels(channels: Partial<Record<Channel, Listing>>): Partial<Record<Channel, Listing>> {
  const out: Partial<Record<Channel, Listing>> = {};
  for (const ch of CHANNELS) if (channels[ch]) out[ch] = channels[ch];
  return out;
}

/** Whether two products hold the same content, channels and rev (field order and absent-vs-undefined ignored). */
export function sameProduct(a: ProductBody, b: ProductBody): boolean {
  return isDeepStrictEqual(canonicalProduct(a), canonicalProduct(b));
}

/** The product's content, channels and rev in a fixed shape and order (what equality and tags are of). */
export function canonicalProduct(body: ProductBody): unknown {
  const channels: Partial<Record<Channel, Listing>> = {};
  for (const ch of CHANNELS) {
    const l = body.channels[ch];
    if (l) channels[ch] = { sku: l.sku, price: l.price, currency: l.currency, stock: l.stock, published: l.published };
  }
  return { title: body.title, artist: body.artist, format: body.format, releaseYear: body.releaseYear, description: body.description, channels, rev: body.rev ?? null };
}

/**
 * Whether a product's rev-carrying items (v1 channel items, v2 listings) all hold the same `rev`.
 * The app writes them in one transaction, so they always do on the stack that took the write; on
 * the other stack the sync applies them item by item, and until the last one lands they do not.
 */
export function revsAgree(items: ReadonlyArray<Record<string, unknown>>): boolean {
  return new Set(items.map((i) => revOf(i) ?? null)).size <= 1;
}
