/**
 * `stackshift init`: what a team adds to its repository to adopt stackshift. Idempotent, and it
 * never overwrites a file: each one that exists is left alone and reported so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { userError } from '../errors';
import { RELEASE_DESCRIPTOR } from './definition';
import { STATE_FOLDER } from '../local/paths';

export interface InitTable {
  readonly name: string;
  readonly partitionKey: string;
  /** @default - no sort key */
  readonly sortKey?: string;
}

export interface InitProjectOptions {
  /** The repository root. */
  readonly projectDir: string;
  /** @default - package.json's name, else the folder's name, as [a-z0-9-] */
  readonly app?: string;
  /** @default `<app>.example.test` (a placeholder: set your zone) */
  readonly zoneName?: string;
  /** @default `app` when that folder exists, else `.` */
  readonly appDir?: string;
  /** @default package.json's `main` in appDir, else the first of server.mjs, server.js, index.mjs, index.js found, else server.js */
  readonly appEntry?: string;
  /** @default one table `items` keyed by `id` */
  readonly tables?: readonly InitTable[];
}

export interface InitResult {
  readonly written: readonly string[];
  /** Files that existed: left as they were. */
  readonly leftAlone: readonly string[];
  /** True when `.stackshift/` was added to .gitignore. */
  readonly gitignoreUpdated: boolean;
}

export const CONFIG_FILE = 'stackshift.config.ts';

export function initProject(options: InitProjectOptions): InitResult {
  const dir = path.resolve(options.projectDir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw userError('INIT_INVALID', `${dir} is not a folder`, { fix: 'run init in your repository' });
  const app = options.app ?? slug(packageName(dir) ?? path.basename(dir));
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(app)) {
    throw userError('INIT_INVALID', `the app name "${app}" is not 2-31 characters of [a-z0-9-] starting with a letter`, { fix: 'pass --app <name>' });
  }
  const appDir = options.appDir ?? (fs.existsSync(path.join(dir, 'app')) ? 'app' : '.');
  const appEntry = options.appEntry ?? guessEntry(path.join(dir, appDir));
  const tables = options.tables?.length ? options.tables : [{ name: 'items', partitionKey: 'id' }];

  const written: string[] = [];
  const leftAlone: string[] = [];
  const write = (rel: string, text: string) => {
    const file = path.join(dir, rel);
    if (fs.existsSync(file)) {
      leftAlone.push(rel);
      return;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // 'wx': never replace a file that appeared meanwhile
    fs.writeFileSync(file, text, { flag: 'wx' });
    written.push(rel);
  };
  write(CONFIG_FILE, configText({ app, zoneName: options.zoneName ?? `${app}.example.test`, appDir, appEntry, tables }));
  write(path.join('migrations', 'index.ts'), MIGRATIONS_INDEX);
  write(path.join(appDir, RELEASE_DESCRIPTOR), `${JSON.stringify({ dataVersions: Object.fromEntries(tables.map((t) => [t.name, 1])) }, null, 2)}\n`);
  return { written, leftAlone, gitignoreUpdated: ignoreStateFolder(dir) };
}

function configText(c: { app: string; zoneName: string; appDir: string; appEntry: string; tables: readonly InitTable[] }): string {
  const tables = c.tables
    .map((t) => {
      const sort = t.sortKey ? ` sortKey: { name: '${t.sortKey}', type: 'S' },` : '';
      return `    { name: '${t.name}', partitionKey: { name: '${t.partitionKey}', type: 'S' },${sort} stream: true },`;
    })
    .join('\n');
  return `// stackshift: every release of this app is a new stack with a migrated, synced copy of its data.
// The app reads each table's name from <NAME>_TABLE (e.g. ITEMS_TABLE), its port from PORT and host
// from HOST, and answers GET /health. <appDir>/release.json names each table's data version at a commit.
import { defineConfig } from 'stackshift';
import { migrations } from './migrations';

export default defineConfig({
  app: '${c.app}',
  // the public hosted zone the release record lives in (a placeholder until you set yours)
  zoneName: '${c.zoneName}',
  appDir: '${c.appDir}',
  appEntry: '${c.appEntry}',
  tables: [
${tables}
  ],
  migrations,
  // checks: [{ name: 'home page', run: async ({ baseUrl }) => { /* throw to fail the release */ } }],
  // extendReleaseStack: (stack, { tables, instanceRole }) => { /* your own constructs */ },
});
`;
}

const MIGRATIONS_INDEX = `// Every migration of every table: version N turns version N-1 items into version N items.
// Give each a down (the inverse) so a rollback loses no write.
import type { Migration } from 'stackshift';

export const migrations: Migration[] = [];
`;

function ignoreStateFolder(dir: string): boolean {
  const file = path.join(dir, '.gitignore');
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.includes(`${STATE_FOLDER}/`) || lines.includes(STATE_FOLDER) || lines.includes(`/${STATE_FOLDER}/`)) return false;
  fs.writeFileSync(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${STATE_FOLDER}/\n`);
  return true;
}

function packageName(dir: string): string | undefined {
  try {
    const name = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name.replace(/^@[^/]+\//, '') : undefined;
  } catch {
    return undefined;
  }
}

function guessEntry(appDir: string): string {
  try {
    const main = (JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8')) as { main?: unknown }).main;
    if (typeof main === 'string') return main.replace(/^\.\//, '');
  } catch {
    // no package.json of the app's own
  }
  return ['server.mjs', 'server.js', 'index.mjs', 'index.js', 'server.ts'].find((f) => fs.existsSync(path.join(appDir, f))) ?? 'server.js';
}

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 31);
  return s.length >= 2 ? s : `app-${s}`.slice(0, 31);
}
