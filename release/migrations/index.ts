/**
 * The example app's migrations. A release's data version per table is the registry's
 * `latestVersion(table)`; the engine builds chains from the live release's version to it.
 */
import { MigrationRegistry } from '../../lib/data/migrations/registry';
import { productsV2ChannelListings } from './products-v2-channel-listings';

export { productV1Schema, productV2Schema, productsV2ChannelListings } from './products-v2-channel-listings';

export const registry: MigrationRegistry = new MigrationRegistry().register(productsV2ChannelListings);
