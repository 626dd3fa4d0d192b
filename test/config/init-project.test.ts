import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject } from '../../lib/config/init-project';
import { findConfigFile, loadConfig } from '../../lib/config/load-config';
import { useTempDirs } from '../_helpers/temp-dirs';

const project = useTempDirs('stackshift-init-');

describe('stackshift init', () => {
  it('writes a config that loads, an empty migrations list, the release descriptor, and ignores .stackshift/', async () => {
    // GIVEN a repository with an app folder and a package.json
    const dir = project({ 'package.json': '{"name":"@acme/Shop Front"}', 'app/server.mjs': '', '.gitignore': 'node_modules/' });

    // WHEN init runs with two tables
    const result = initProject({ projectDir: dir, tables: [{ name: 'orders', partitionKey: 'customerId', sortKey: 'orderId' }, { name: 'carts', partitionKey: 'id' }] });

    // THEN the files are there, and the config is valid as written
    expect(result).toEqual({ written: ['stackshift.config.ts', path.join('migrations', 'index.ts'), path.join('app', 'release.json')], leftAlone: [], gitignoreUpdated: true });
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\n.stackshift/\n');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'app', 'release.json'), 'utf8'))).toEqual({ dataVersions: { orders: 1, carts: 1 } });
    const def = await loadConfig(findConfigFile(dir));
    expect(def.config).toMatchObject({ app: 'shop-front', zoneName: 'shop-front.example.test' });
    expect(def).toMatchObject({ appDir: 'app', appEntry: 'server.mjs' });
    expect(def.tables.tables.map((t) => [t.name, t.partitionKey.name, t.sortKey?.name, t.stream])).toEqual([
      ['orders', 'customerId', 'orderId', true],
      ['carts', 'id', undefined, true],
    ]);
  });

  it('run again, changes nothing and says which files it left alone', () => {
    // GIVEN an initialized repository whose config the team edited
    const dir = project({ 'server.js': '' });
    initProject({ projectDir: dir });
    fs.writeFileSync(path.join(dir, 'stackshift.config.ts'), '// edited');

    // WHEN init runs again
    const again = initProject({ projectDir: dir, app: 'other' });

    // THEN nothing is written or appended
    expect(again).toEqual({ written: [], leftAlone: ['stackshift.config.ts', path.join('migrations', 'index.ts'), 'release.json'], gitignoreUpdated: false });
    expect(fs.readFileSync(path.join(dir, 'stackshift.config.ts'), 'utf8')).toBe('// edited');
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('.stackshift/\n');
  });

  it('refuses an app name it cannot use, writing nothing', () => {
    const dir = project();
    expect(() => initProject({ projectDir: dir, app: 'A' })).toThrow(/app name "A" is not 2-31 characters.*--app <name>/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
