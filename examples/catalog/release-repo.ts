/**
 * A scratch git repository holding the example catalog app, for the demo and the tests that
 * release it (the project's own history has one data version per commit): commit
 * `v1` declares products at data version 1, commit `v2` at version 2 (the channel migration).
 * Git identity is passed on each commit: CI machines may have none configured.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/local/paths';

export interface CreateReleaseRepoOptions {
  /** Parent directory of the repository. @default the system temp dir */
  readonly parentDir?: string;
}

export interface ReleaseRepo {
  readonly dir: string;
  readonly v1: string;
  readonly v2: string;
  git(...args: string[]): string;
  /** Commits a change of `release.json`'s data versions (or any file) and returns the sha. */
  commit(message: string, files?: Record<string, string>): string;
}

const APP_DIR = 'examples/catalog';
const APP_EXCLUDED = new Set(['release-repo.ts', 'traffic.ts', 'data.ts']);

export function createReleaseRepo(options: CreateReleaseRepoOptions = {}): ReleaseRepo {
  const parent = options.parentDir ?? os.tmpdir();
  fs.mkdirSync(parent, { recursive: true });
  const dir = fs.mkdtempSync(path.join(parent, 'stackshift-repo-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=stackshift-test', '-c', 'user.email=test@stackshift.invalid', '-c', 'init.defaultBranch=main', ...args], {
      cwd: dir,
      encoding: 'utf8',
    }).trim();
  git('init', '-q');
  const appDir = path.join(dir, APP_DIR);
  fs.mkdirSync(appDir, { recursive: true });
  for (const f of fs.readdirSync(path.join(PACKAGE_ROOT, APP_DIR))) {
    // The app only: the demo and test helpers of this directory are not part of it.
    if ((f.endsWith('.ts') || f.endsWith('.json')) && !APP_EXCLUDED.has(f)) fs.copyFileSync(path.join(PACKAGE_ROOT, APP_DIR, f), path.join(appDir, f));
  }
  const commit = (message: string, files: Record<string, string> = {}) => {
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    }
    git('add', '-A');
    git('commit', '-q', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  const descriptor = (products: number) => JSON.stringify({ dataVersions: { products, orders: 1 } }) + '\n';
  // A nonce outside the app: two repositories made in the same second (parallel tests) get different
  // shas, hence different release ids, while their app trees (the artifacts) stay identical.
  const v1 = commit('catalog v1', { [`${APP_DIR}/release.json`]: descriptor(1), 'REPO_ID': `${randomBytes(8).toString('hex')}\n` });
  const v2 = commit('catalog v2: one product, per-channel listings', { [`${APP_DIR}/release.json`]: descriptor(2) });
  return { dir, v1, v2, git, commit };
}
