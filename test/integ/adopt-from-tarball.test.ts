/**
 * Issue 15: a team adopts stackshift in its own repository. The package is packed (`npm pack`) and
 * installed from the tarball into a fresh git repository holding an app this project's engine has
 * never seen (examples/notes: one table, a v2 migration that renames and splits attributes, with a
 * down); then `stackshift init`, release, promote, rollback, promote again and teardown run through
 * the installed binary on local AWS. Every note a client wrote and saw acknowledged must be served
 * after each flip, in the shape of the API (the storage shape changes underneath).
 *
 * The CLI shares this test run's local AWS (STACKSHIFT_LOCAL_STATE_DIR) under an app name of its own.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { physicalTableName } from '../../lib/manifest/table-manifest';
import { PACKAGE_ROOT } from '../../lib/local/paths';
import { terminate } from '../../lib/local/processes';
import { processesWithEnv } from './lifecycle-model/system-under-test';
import { fleetBaseUrl } from '../_helpers/catalog-http';
import { lastJsonLine } from '../_helpers/cli';

const stateDir = inject('localStateDir');
const app = `ad${randomBytes(3).toString('hex')}`;
let work: string;
let repo: string;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly result: unknown;
}

/** The installed `stackshift` command, run as a team runs it: from its repository root. */
function stackshift(args: readonly string[]): Promise<Run> {
  const bin = path.join(repo, 'node_modules', '.bin', 'stackshift');
  // the Node this test runs on first in PATH: the command's `#!/usr/bin/env node` finds it
  const env: NodeJS.ProcessEnv = { ...process.env, STACKSHIFT_APP: app, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  delete env.STACKSHIFT_CONFIG;
  delete env.STACKSHIFT_REPO;
  const child = spawn(bin, [...args, '--json'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr, result: lastJsonLine(stdout) })),
  );
}

async function ok(args: readonly string[]): Promise<Run> {
  const run = await stackshift(args);
  if (run.code !== 0) throw new Error(`stackshift ${args.join(' ')} exited ${run.code}:\n${run.stderr.slice(-3000)}`);
  return run;
}

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=notes-team', '-c', 'user.email=team@notes.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd: repo, encoding: 'utf8' }).trim();
}

const id = (sha: string) => `sha-${sha.slice(0, 12)}`;

/** What clients were told: id → the note as acknowledged. */
const acknowledged = new Map<string, { title: string; author: string }>();

async function putNote(releaseId: string, noteId: string, note: { title: string; author: string }): Promise<void> {
  const r = await fetch(`${fleetBaseUrl(stateDir, releaseId)}/notes/${noteId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(note) });
  expect(r.status, await r.clone().text()).toBe(200);
  acknowledged.set(noteId, note);
}

/** Every acknowledged note, read back from the release: none lost, none changed. */
async function expectAllServed(releaseId: string): Promise<void> {
  for (const [noteId, note] of acknowledged) {
    const r = await fetch(`${fleetBaseUrl(stateDir, releaseId)}/notes/${noteId}`);
    expect(r.status, `${noteId} on ${releaseId}`).toBe(200);
    expect(await r.json(), `${noteId} on ${releaseId}`).toMatchObject({ id: noteId, ...note });
  }
}

/** A note as the release's table stores it (raw AttributeValues). */
async function stored(releaseId: string, noteId: string): Promise<Record<string, unknown> | undefined> {
  const r = await new DynamoDBClient({}).send(new GetItemCommand({ TableName: physicalTableName(app, releaseId, 'notes'), Key: { id: { S: noteId } }, ConsistentRead: true }));
  return r.Item;
}

interface StatusJson {
  readonly live: string | null;
  readonly previous: string | null;
  readonly releases: readonly { releaseId: string; phase: string; live: boolean; previous: boolean; endpoint: string | null }[];
}

beforeAll(async () => {
  // GIVEN the package packed as it would be published, and a fresh repository that installs it
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stackshift-adopt-'));
  execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = fs.readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  repo = path.join(work, 'notes-team');
  fs.mkdirSync(repo);
  fs.writeFileSync(path.join(repo, 'package.json'), JSON.stringify({ name: 'notes-team', private: true, type: 'module' }, null, 2));
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, tarball)], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  // the team's app, never seen by this project's engine: copied in as its own code
  fs.cpSync(path.join(PACKAGE_ROOT, 'examples', 'notes'), path.join(repo, 'app'), { recursive: true });
  fs.rmSync(path.join(repo, 'app', 'stackshift.config.ts'));
  git('init', '-q');
}, 300_000);

afterAll(async () => {
  // the apps and syncs of this app's releases (they carry its name in their environment), then the repository
  for (const pid of processesWithEnv('STACKSHIFT_APP', app)) await terminate(pid, 5000).catch(() => undefined);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('a team adopts stackshift from the packed tarball', () => {
  it('init, then release v1, promote, release v2 (a migration), promote, rollback, promote, teardown v1: every acknowledged note is served throughout', async () => {
    // WHEN the team runs init
    const init = await ok(['init', '--app', 'notes', '--table', 'notes:id', '--app-dir', 'app', '--app-entry', 'server.mjs', '--no-local-setup']);

    // THEN it writes its files (leaving the app's release.json alone), and is idempotent
    expect(init.result).toMatchObject({ written: ['stackshift.config.ts', path.join('migrations', 'index.ts')], leftAlone: [path.join('app', 'release.json')], gitignoreUpdated: true });
    expect((await ok(['init', '--no-local-setup'])).result).toMatchObject({ written: [], gitignoreUpdated: false });

    // WHEN the team writes its real config (its tables, its v2 migration, its checks) and commits v1
    fs.copyFileSync(path.join(PACKAGE_ROOT, 'examples', 'notes', 'stackshift.config.ts'), path.join(repo, 'stackshift.config.ts'));
    git('add', '-A');
    git('commit', '-qm', 'notes v1');
    const v1 = git('rev-parse', 'HEAD');

    // THEN release and promote v1 through the installed command
    expect((await ok(['release', '--sha', v1])).result).toMatchObject({ releaseId: id(v1), phase: 'Ready' });
    expect((await ok(['promote', '--sha', v1])).result).toMatchObject({ releaseId: id(v1), phase: 'Live' });
    for (let i = 0; i < 5; i++) await putNote(id(v1), `n${i}`, { title: `note ${i}`, author: i % 2 ? 'Ada Lovelace' : 'Plato' });

    // WHEN v2 changes the storage (release.json: notes at data version 2), released and promoted
    const descriptor = path.join(repo, 'app', 'release.json');
    fs.writeFileSync(descriptor, JSON.stringify({ dataVersions: { notes: 2 } }, null, 2) + '\n');
    git('commit', '-qam', 'notes v2: heading, authorFirst/authorLast');
    const v2 = git('rev-parse', 'HEAD');
    expect((await ok(['release', '--sha', v2])).result).toMatchObject({ releaseId: id(v2), phase: 'Ready' });
    await expectAllServed(id(v2));
    // (underneath, v2's table holds the migrated shape)
    expect(await stored(id(v2), 'n1')).toMatchObject({ heading: { S: 'note 1' }, authorFirst: { S: 'Ada' }, authorLast: { S: 'Lovelace' } });
    expect(await stored(id(v2), 'n1')).not.toHaveProperty('title');
    expect((await ok(['promote', '--sha', v2])).result).toMatchObject({ releaseId: id(v2), phase: 'Live' });
    await putNote(id(v2), 'n1', { title: 'edited on v2', author: 'Grace Brewster Hopper' });
    await putNote(id(v2), 'v2-only', { title: 'born on v2', author: 'Turing' });

    // THEN a rollback keeps what was written on v2, served by v1 in v1's storage
    expect((await ok(['rollback'])).result).toMatchObject({ live: id(v1), rolledBack: id(v2) });
    await expectAllServed(id(v1));
    // (the reverse sync wrote v1's shape through the migration's down)
    expect(await stored(id(v1), 'v2-only')).toMatchObject({ title: { S: 'born on v2' }, author: { S: 'Turing' } });
    expect(await stored(id(v1), 'v2-only')).not.toHaveProperty('heading');
    await putNote(id(v1), 'n2', { title: 'edited on v1 after the rollback', author: 'Ada Lovelace' });

    // WHEN v2 is promoted again and v1 torn down
    expect((await ok(['promote', '--sha', v2])).result).toMatchObject({ releaseId: id(v2), phase: 'Live' });
    await expectAllServed(id(v2));
    expect((await ok(['teardown', '--sha', v1, '--force', '--no-backup'])).result).toMatchObject({ releaseId: id(v1), phase: 'TornDown' });

    // THEN status names v2 live with its own endpoint, and every note is still served
    const status = (await ok(['status'])).result as StatusJson;
    expect(status.live).toBe(id(v2));
    expect(status.releases.find((r) => r.releaseId === id(v2))).toMatchObject({ phase: 'Live', live: true, endpoint: expect.stringMatching(/^http/) });
    await expectAllServed(id(v2));
  }, 900_000);
});
