/**
 * What a team writes once per app (in `release/`): the app configuration, the table manifest, every
 * migration, the release checks, and where the app's code lives in the repository. What changes per
 * commit — the data version each table is at — is read from the commit itself (`release.json` in
 * the app directory), so a release is defined by its sha, not by whatever is checked out.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';
import { userError } from '../errors';
import type { MigrationRegistry } from '../data/migrations/registry';
import type { AppConfig } from '../manifest/app-config';
import type { ExtendReleaseStack } from './define-config';
import { zodUserError, type TableManifest } from '../manifest/table-manifest';

const run = promisify(execFile);

export const RELEASE_DESCRIPTOR_INVALID = 'RELEASE_DESCRIPTOR_INVALID';

export interface ReleaseCheckContext {
  /** The new stack's own endpoint, e.g. `http://127.0.0.1:41234`; never the public record. */
  readonly baseUrl: string;
  /** Put this in every record a check writes (test data is marked, and removed after). */
  readonly marker: string;
}

export interface ReleaseCheck {
  readonly name: string;
  run(ctx: ReleaseCheckContext): Promise<void>;
}

export interface ReleaseDefinition {
  readonly config: AppConfig;
  readonly tables: TableManifest;
  readonly migrations: MigrationRegistry;
  /** The app's directory inside the repository (what the image or artifact is built from). */
  readonly appDir: string;
  /** The app's entry point, relative to `appDir`. */
  readonly appEntry: string;
  /** HTTP checks run against a new stack before it is READY. @default - none */
  readonly checks?: readonly ReleaseCheck[];
  /** The team's own constructs in every release stack. @default - none */
  readonly extendReleaseStack?: ExtendReleaseStack;
  /** The config file this definition was loaded from (child processes load it again). @default - none */
  readonly configFile?: string;
}

/** The file in the app directory that names the data versions the app's code at that commit needs. */
export const RELEASE_DESCRIPTOR = 'release.json';

const descriptorSchema = z.strictObject({
  dataVersions: z.record(z.string(), z.number().int('must be a whole number').min(1, 'must be at least 1')),
});

/**
 * The data version of every table for the commit `sha`: from `<appDir>/release.json` at that
 * commit; a table it does not name is at version 1. Each version must be one the registry can
 * reach, or the release could not be copied.
 */
export async function dataVersionsAt(repoDir: string, sha: string, def: ReleaseDefinition): Promise<Record<string, number>> {
  const path = `${def.appDir.replace(/\/$/, '')}/${RELEASE_DESCRIPTOR}`;
  let text: string;
  try {
    text = (await run('git', ['show', `${sha}:${path}`], { cwd: repoDir, maxBuffer: 1 << 20 })).stdout;
  } catch {
    throw userError(RELEASE_DESCRIPTOR_INVALID, `commit ${sha.slice(0, 12)} has no ${path}`, {
      fix: `add ${path} with {"dataVersions": {"<table>": <n>}} and commit it`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw userError(RELEASE_DESCRIPTOR_INVALID, `${path} at ${sha.slice(0, 12)} is not JSON (${(e as Error).message})`, { fix: 'fix the file and commit it' });
  }
  const parsed = descriptorSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) throw zodUserError(RELEASE_DESCRIPTOR_INVALID, `${path} at ${sha.slice(0, 12)}`, parsed.error, 'fix the file and commit it');
  const out: Record<string, number> = {};
  for (const t of def.tables.tables) {
    const v = parsed.data.dataVersions[t.name] ?? 1;
    const latest = def.migrations.latestVersion(t.name);
    if (v > latest) {
      throw userError(RELEASE_DESCRIPTOR_INVALID, `${path} at ${sha.slice(0, 12)} asks for ${t.name} v${v}, but migrations reach v${latest}`, {
        fix: `register the migration to v${v} of "${t.name}" in release/migrations`,
      });
    }
    out[t.name] = v;
  }
  for (const name of Object.keys(parsed.data.dataVersions)) {
    if (!def.tables.tables.some((t) => t.name === name)) {
      throw userError(RELEASE_DESCRIPTOR_INVALID, `${path} at ${sha.slice(0, 12)} names table "${name}", which release/tables.ts does not declare`, {
        fix: `use one of: ${def.tables.tables.map((t) => t.name).join(', ')}`,
      });
    }
  }
  return out;
}
