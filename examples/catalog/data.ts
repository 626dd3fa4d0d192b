/**
 * Deterministic v1 catalog data (seed 000's per-channel products) for tests, demos and load runs.
 * A generator: a million items never sit in memory. The same options give the same items.
 */
import type { Item } from '../../lib/item/item';

export type CatalogChannel = 'US' | 'GB' | 'EU';

export const CATALOG_CHANNELS: readonly CatalogChannel[] = ['US', 'GB', 'EU'];

const CURRENCY: Record<CatalogChannel, 'USD' | 'GBP' | 'EUR'> = { US: 'USD', GB: 'GBP', EU: 'EUR' };
/** Price of a channel relative to the US price, in percent (rounded to whole minor units). */
const PRICE_PERCENT: Record<CatalogChannel, number> = { US: 100, GB: 79, EU: 92 };

export interface GenerateV1ProductsOptions {
  /** How many products (each gives one item per channel). */
  readonly products: number;
  /** Seed of the pseudo-random content. @default 1 */
  readonly seed?: number;
  /** The channels every product is listed in. @default ['US', 'GB', 'EU'] */
  readonly channels?: readonly CatalogChannel[];
  /** Number of the first product (ids are zero-padded numbers), to generate disjoint batches. @default 0 */
  readonly firstId?: number;
}

/** The id of product number `n`: `0000042`. */
export function productId(n: number): string {
  return String(n).padStart(7, '0');
}

/**
 * v1 items, product by product: one item per channel with identical shared fields (title, artist,
 * format, releaseYear, description) and channel-specific sku, price, currency, stock and published.
 * Roughly 300 bytes per item (DynamoDB's item size, lib/item/item-size.ts).
 */
export function* generateV1Products(options: GenerateV1ProductsOptions): Generator<Item, void, undefined> {
  const channels = options.channels ?? CATALOG_CHANNELS;
  const seed = options.seed ?? 1;
  const first = options.firstId ?? 0;
  for (let n = first; n < first + options.products; n++) {
    // One stream per product: product n's content does not depend on how many came before.
    const random = mulberry32(hash32(seed, n));
    const id = productId(n);
    const shared = sharedFields(random);
    const basePrice = 999 + Math.floor(random() * 40) * 100; // 9.99 .. 48.99
    for (const channel of channels) {
      yield {
        pk: `PRODUCT#${id}`,
        sk: `CHANNEL#${channel}`,
        sku: `${id}-${channel}`,
        ...shared,
        price: Math.round((basePrice * PRICE_PERCENT[channel]) / 100),
        currency: CURRENCY[channel],
        stock: Math.floor(random() * 500),
        published: random() < 0.9,
      };
    }
  }
}

/**
 * A product whose channel copies have drifted apart: the GB title differs from the US and EU ones.
 * Migrated to v2 the copies disagree on the shared product item, so they become dead letters.
 */
export function conflictingProduct(id: string, options: { readonly seed?: number } = {}): Item[] {
  const random = mulberry32(hash32(options.seed ?? 1, Number.parseInt(id, 10) || id.length));
  const shared = sharedFields(random);
  return CATALOG_CHANNELS.map((channel) => ({
    pk: `PRODUCT#${id}`,
    sk: `CHANNEL#${channel}`,
    sku: `${id}-${channel}`,
    ...shared,
    title: channel === 'GB' ? `${shared.title} (UK edition)` : shared.title,
    price: Math.round((1999 * PRICE_PERCENT[channel]) / 100),
    currency: CURRENCY[channel],
    stock: 10,
    published: true,
  }));
}

const ADJECTIVES = ['Electric', 'Silent', 'Broken', 'Golden', 'Midnight', 'Velvet', 'Crimson', 'Hollow', 'Restless', 'Distant', 'Frozen', 'Wild'];
const NOUNS = ['Lightning', 'Horizon', 'Machine', 'River', 'Cathedral', 'Engine', 'Garden', 'Signal', 'Empire', 'Tide', 'Mirror', 'Harvest'];
const ARTISTS = ['The Static Hours', 'Mara Vellum', 'Northbound Choir', 'Iron Lantern', 'Kite & Compass', 'Dusty Arcade', 'Lena Okafor', 'Orbit Society'];
const WORDS = [
  'remastered', 'from', 'the', 'original', 'tapes', 'with', 'gatefold', 'sleeve', 'and', 'liner', 'notes', 'a', 'landmark',
  'record', 'of', 'its', 'decade', 'heavy', 'riffs', 'quiet', 'ballads', 'live', 'bonus', 'tracks', 'pressed', 'on', '180g', 'vinyl',
];
const DESCRIPTION_LENGTH = 150;

function sharedFields(random: () => number): { title: string; artist: string; format: 'LP' | 'CD'; releaseYear: number; description: string } {
  const title = `${pick(random, ['Ride the', 'Into the', 'Under the', 'Beyond the'])} ${pick(random, ADJECTIVES)} ${pick(random, NOUNS)}`;
  const words: string[] = [];
  let length = 0;
  while (length < DESCRIPTION_LENGTH) {
    const w = pick(random, WORDS);
    words.push(w);
    length += w.length + 1;
  }
  const description = words.join(' ').slice(0, DESCRIPTION_LENGTH);
  return {
    title,
    artist: pick(random, ARTISTS),
    format: random() < 0.6 ? 'LP' : 'CD',
    releaseYear: 1960 + Math.floor(random() * 65),
    description: description.charAt(0).toUpperCase() + description.slice(1),
  };
}

function pick<T>(random: () => number, from: readonly T[]): T {
  return from[Math.floor(random() * from.length)];
}

/** A seeded pseudo-random number generator in [0, 1): the same seed gives the same sequence (traffic runs, demos). */
export function seededRandom(seed: number): () => number {
  return mulberry32(hash32(seed, 0x5eed));
}

/** mulberry32: a small, fast, seedable PRNG (deterministic across platforms). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
