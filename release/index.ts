/** The example app's release definition: what `npm run release|promote|…` works with. */
import type { ReleaseDefinition } from '../lib/release/definition';
import { checks } from '../examples/catalog/checks';
import { appConfig } from './app';
import { registry } from './migrations';
import { tables } from './tables';

export const definition: ReleaseDefinition = {
  config: appConfig,
  tables,
  migrations: registry,
  appDir: 'examples/catalog',
  appEntry: 'server.ts',
  checks,
};
