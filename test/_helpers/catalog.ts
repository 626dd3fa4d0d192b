/**
 * The example catalog's release definition, loaded from release/stackshift.config.ts the way the CLI
 * loads a team's config, for tests that need its tables, migrations or app config.
 */
import { fileURLToPath } from 'node:url';
import { definitionOf } from '../../lib/config/load-config';
import config from '../../release/stackshift.config';

export const CATALOG_CONFIG_FILE = fileURLToPath(new URL('../../release/stackshift.config.ts', import.meta.url));
export const definition = definitionOf(config, CATALOG_CONFIG_FILE);
export const registry = definition.migrations;
export const tables = definition.tables;
export const appConfig = definition.config;
