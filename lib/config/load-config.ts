/**
 * Finds and loads a team's `stackshift.config.ts` (TypeScript or JavaScript, loaded at run time) and
 * turns it into the ReleaseDefinition the engine works with. Every problem is one user error line:
 * which file, what is wrong, the fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { register, registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
import { register as registerTsxCjs } from 'tsx/cjs/api';
import { register as registerTsx } from 'tsx/esm/api';
import { messageOf, ReleaseError, userError } from '../errors';
import { MigrationRegistry } from '../data/migrations/registry';
import type { Migration } from '../data/migrations/migration';
import { appConfigSchema, type AppConfig } from '../manifest/app-config';
import { parseTableManifest, zodUserError } from '../manifest/table-manifest';
import type { ReleaseCheck, ReleaseDefinition } from './definition';
import type { ExtendReleaseStack, StackshiftConfig } from './define-config';
import { FROM_SOURCE, publicApiFile } from '../local/paths';

export const CONFIG_NOT_FOUND = 'CONFIG_NOT_FOUND';
export const CONFIG_INVALID = 'CONFIG_INVALID';

/** File names looked for, in order, at the repository root and then in `release/`. */
export const CONFIG_FILE_NAMES = ['stackshift.config.ts', 'stackshift.config.mts', 'stackshift.config.js', 'stackshift.config.mjs'] as const;
const CONFIG_DIRS = ['.', 'release'] as const;

/** The config file: `explicit` when given (it must exist), else the first found under `repoDir`. */
export function findConfigFile(repoDir: string, explicit?: string): string {
  if (explicit !== undefined) {
    const file = path.resolve(explicit);
    if (!fs.existsSync(file)) throw userError(CONFIG_NOT_FOUND, `--config ${explicit}: no such file`, { fix: 'pass the path of your stackshift.config.ts' });
    return file;
  }
  for (const dir of CONFIG_DIRS) {
    for (const name of CONFIG_FILE_NAMES) {
      const file = path.resolve(repoDir, dir, name);
      if (fs.existsSync(file)) return file;
    }
  }
  throw userError(CONFIG_NOT_FOUND, `no stackshift.config.ts in ${repoDir} or its release/ folder`, {
    fix: 'run `npx stackshift init` in your repository, or pass --config <file>',
  });
}

/** Each load reads the file anew (a query of its own), while what it imports stays shared. */
let loads = 0;

/** Loads and validates a config file. */
export async function loadConfig(file: string): Promise<ReleaseDefinition> {
  loaderHooks();
  let mod: { default?: unknown };
  try {
    mod = (await import(`${pathToFileURL(file).href}?stackshift-config=${++loads}`)) as { default?: unknown };
  } catch (e) {
    if (e instanceof ReleaseError) throw e;
    throw userError(CONFIG_INVALID, `${displayName(file)} does not load: ${firstLine(messageOf(e))}`, { fix: 'fix the error in the file (run it with `npx tsx` to see the whole trace)' });
  }
  // tsx may hand a CommonJS default export over wrapped once more
  let raw = mod.default;
  if (raw && typeof raw === 'object' && 'default' in raw && !('app' in raw)) raw = (raw as { default: unknown }).default;
  return definitionOf(raw, file);
}

/** Validates a config object (what `defineConfig` returned) into a ReleaseDefinition. */
export function definitionOf(raw: unknown, file: string): ReleaseDefinition {
  const where = displayName(file);
  // (a module without a default export can reach here as its exports object, through CommonJS interop)
  if (!raw || typeof raw !== 'object' || !('app' in raw || 'tables' in raw)) {
    throw userError(CONFIG_INVALID, `${where} has no default export`, { fix: 'end it with `export default defineConfig({ ... })`' });
  }
  const { appDir, appEntry, tables, migrations, checks, extendReleaseStack, ...app } = raw as Partial<StackshiftConfig> & Record<string, unknown>;
  const fix = `fix ${where}`;
  const parsedApp = appConfigSchema.safeParse(app, { reportInput: true });
  if (!parsedApp.success) throw zodUserError(CONFIG_INVALID, where, parsedApp.error, fix);
  const config: AppConfig = parsedApp.data;
  const relative = (name: string, v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '') throw userError(CONFIG_INVALID, `invalid ${where}: ${name} ${JSON.stringify(v)} must be a path`, { fix: `set ${name}, e.g. ${name === 'appDir' ? "'app'" : "'server.js'"}` });
    if (path.isAbsolute(v) || v.split(/[\\/]/).includes('..')) {
      throw userError(CONFIG_INVALID, `invalid ${where}: ${name} ${JSON.stringify(v)} must be inside the repository`, { fix: `make ${name} relative to the repository root, without ".."` });
    }
    return v.replace(/\/$/, '');
  };
  const manifest = withConfigFix(() => parseTableManifest({ tables }), where);
  if (migrations !== undefined && !Array.isArray(migrations)) {
    throw userError(CONFIG_INVALID, `invalid ${where}: migrations must be an array of migrations`, { fix: 'e.g. migrations: [productsV2]' });
  }
  const registry = withConfigFix(() => new MigrationRegistry().register(...((migrations ?? []) as Migration[])), where);
  for (const m of (migrations ?? []) as Migration[]) {
    if (!manifest.tables.some((t) => t.name === m.table)) {
      throw userError(CONFIG_INVALID, `invalid ${where}: migration "${m.description}" is for table "${m.table}", which tables does not declare`, {
        fix: `use one of: ${manifest.tables.map((t) => t.name).join(', ')}`,
      });
    }
  }
  if (checks !== undefined && (!Array.isArray(checks) || checks.some((c) => typeof c?.name !== 'string' || typeof c?.run !== 'function'))) {
    throw userError(CONFIG_INVALID, `invalid ${where}: checks must be an array of { name, run(ctx) }`, { fix: "e.g. checks: [{ name: 'home page', run: async ({ baseUrl }) => { ... } }]" });
  }
  if (extendReleaseStack !== undefined && typeof extendReleaseStack !== 'function') {
    throw userError(CONFIG_INVALID, `invalid ${where}: extendReleaseStack is ${typeof extendReleaseStack}, not a function`, { fix: 'make it (stack, { tables, instanceRole }) => { ... } or leave it out' });
  }
  return {
    config,
    tables: manifest,
    migrations: registry,
    appDir: relative('appDir', appDir),
    appEntry: relative('appEntry', appEntry),
    ...(checks ? { checks: checks as readonly ReleaseCheck[] } : {}),
    ...(extendReleaseStack ? { extendReleaseStack: extendReleaseStack as ExtendReleaseStack } : {}),
    configFile: file,
  };
}

let hooked = false;

/**
 * TypeScript configs load through tsx, and `import … from 'stackshift'` in a config resolves to
 * this very copy of the package: the config's `defineConfig` and migrations then share the
 * engine's modules, wherever the config lives (an adopter's repository, or this one's release/
 * folder, which no node_modules holds). Not tsx's `tsImport`: its namespace would load a second
 * copy of the whole engine under the config (seconds of every command's start).
 */
function loaderHooks(): void {
  if (hooked) return;
  hooked = true;
  // Running the sources, TypeScript already loads (tsx, or the test runner); the built package
  // registers tsx once (a config in a CommonJS package is required), before the hook below (the
  // last registered resolves first).
  if (!FROM_SOURCE) {
    registerTsx();
    registerTsxCjs();
  }
  const index = pathToFileURL(publicApiFile()).href;
  // In-thread where Node has it (22.15+): an off-thread hook makes every later import a round trip
  // to the loader thread (a fifth of a built CLI's start-up, measured on `status`).
  if (registerHooks) {
    registerHooks({ resolve: (specifier, context, next) => (specifier === 'stackshift' ? { url: index, shortCircuit: true } : next(specifier, context)) });
    return;
  }
  const hooks = `export async function resolve(specifier, context, next) {
    return specifier === 'stackshift' ? { url: ${JSON.stringify(index)}, shortCircuit: true } : next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

/** Re-words a manifest or migration error so that its fix points at the config file. */
function withConfigFix<T>(fn: () => T, where: string): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof ReleaseError) || !ReleaseError.isUserError(e)) throw e;
    // the message without its fix, which names the file layout before configs
    const what = e.fix ? e.message.slice(0, e.message.length - e.fix.length - 2) : e.message;
    throw userError(CONFIG_INVALID, `${where}: ${what}`, { fix: `fix ${where}` });
  }
}

function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
