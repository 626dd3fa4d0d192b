import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findConfigFile, loadConfig } from '../../lib/config/load-config';
import { rejection } from '../_helpers/rejection';
import { CATALOG_CONFIG_FILE } from '../_helpers/catalog';
import { useTempDirs } from '../_helpers/temp-dirs';

/** A repository of its own outside this one: `stackshift` can only resolve through the loader. */
const repoWith = useTempDirs('stackshift-config-');

const GOOD = `import { defineConfig, type Migration } from 'stackshift';
const split: Migration = { table: 'notes', version: 2, description: 'split name', up: (i) => ({ ...i, first: String(i.name).split(' ')[0] }), down: (i) => i };
export default defineConfig({
  app: 'notes', zoneName: 'notes.example.test', appDir: 'app', appEntry: 'server.js',
  tables: [{ name: 'notes', partitionKey: { name: 'id', type: 'S' }, stream: true }],
  migrations: [split],
  checks: [{ name: 'health', run: async () => undefined }],
  extendReleaseStack: () => undefined,
});
`;

describe('loadConfig', () => {
  it('loads a TypeScript config from a repository outside this one, its `stackshift` import resolved to this package, defaults applied', async () => {
    const dir = repoWith({ 'stackshift.config.ts': GOOD });

    const def = await loadConfig(findConfigFile(dir));

    expect(def.config).toMatchObject({ app: 'notes', recordName: 'www.notes.example.test', desiredCapacity: 2 });
    expect(def.tables.tables.map((t) => t.name)).toEqual(['notes']);
    expect(def.migrations.latestVersion('notes')).toBe(2);
    expect(def.checks?.map((c) => c.name)).toEqual(['health']);
    expect(typeof def.extendReleaseStack).toBe('function');
    expect(def).toMatchObject({ appDir: 'app', appEntry: 'server.js', configFile: path.join(dir, 'stackshift.config.ts') });
  });

  it('finds the config at the repository root first, then in release/', async () => {
    const both = repoWith({ 'stackshift.config.ts': GOOD, 'release/stackshift.config.ts': GOOD });
    const nested = repoWith({ 'release/stackshift.config.mjs': 'export default {}' });
    expect(findConfigFile(both)).toBe(path.join(both, 'stackshift.config.ts'));
    expect(findConfigFile(nested)).toBe(path.join(nested, 'release', 'stackshift.config.mjs'));
  });

  it('loads the example catalog from release/stackshift.config.ts', async () => {
    const def = await loadConfig(CATALOG_CONFIG_FILE);
    expect(def.config.app).toBe('catalog');
    expect(def.migrations.latestVersion('products')).toBe(2);
    expect(def.checks?.length).toBeGreaterThan(0);
  });

  it.each([
    ['no config at all', {}, /CONFIG_NOT_FOUND: no stackshift.config.ts in .* or its release\/ folder: run `npx stackshift init`/],
    ['no default export', { 'stackshift.config.ts': 'export const x = 1;' }, /CONFIG_INVALID: .*stackshift.config.ts has no default export/],
    ['a syntax error', { 'stackshift.config.ts': 'export default {' }, /CONFIG_INVALID: .*stackshift.config.ts does not load: /],
    ['a bad app name', { 'stackshift.config.ts': GOOD.replace("app: 'notes'", "app: 'Notes!'") }, /CONFIG_INVALID: invalid .*stackshift.config.ts: app "Notes!" must be 2-31 characters/],
    ['an unknown field', { 'stackshift.config.ts': GOOD.replace("appDir: 'app'", "appDir: 'app', colour: 'red'") }, /CONFIG_INVALID: .*unrecognized key.*colour/i],
    ['an appDir outside the repository', { 'stackshift.config.ts': GOOD.replace("appDir: 'app'", "appDir: '../app'") }, /CONFIG_INVALID: invalid .*: appDir "..\/app" must be inside the repository/],
    ['a migration of an undeclared table', { 'stackshift.config.ts': GOOD.replace("table: 'notes', version: 2", "table: 'todos', version: 2") }, /CONFIG_INVALID: .*migration "split name" is for table "todos", which tables does not declare: use one of: notes/],
    ['a bad table', { 'stackshift.config.ts': GOOD.replace("type: 'S' }, stream", "type: 'X' }, stream") }, /CONFIG_INVALID: .*stackshift.config.ts: invalid table manifest: tables\[0\].partitionKey.type "X"/],
    ['a check without run', { 'stackshift.config.ts': GOOD.replace("run: async () => undefined", "go: 1") }, /CONFIG_INVALID: .*checks must be an array of \{ name, run\(ctx\) \}/],
  ])('%s: one line naming the file, the bad value and the fix', async (_what, files, message) => {
    const dir = repoWith(files as Record<string, string>);
    const err = await rejection(Promise.resolve().then(() => loadConfig(findConfigFile(dir))));
    expect(err.message.split('\n')).toHaveLength(1);
    expect(`${err.code}: ${err.message}`).toMatch(message);
  });
});
