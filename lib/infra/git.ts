import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { toolError, userError } from '../errors';

export const SHA_UNKNOWN = 'SHA_UNKNOWN';
export const GIT_REPO_MISSING = 'GIT_REPO_MISSING';
export const GIT_MISSING = 'GIT_MISSING';
export const GIT_FAILED = 'GIT_FAILED';

export interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run git in `repoDir` and return its exit code and output; only a missing git or repository
 * throws. Callers decide what a non-zero exit means (an unknown ref is the user's, not a failure).
 */
export async function runGit(repoDir: string, args: readonly string[]): Promise<GitResult> {
  assertRepoDir(repoDir);
  return new Promise((resolve, reject) => {
    execFile('git', [...args], { cwd: repoDir, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(gitMissing(err));
      if (/not a git repository/i.test(stderr)) {
        return reject(userError(GIT_REPO_MISSING, `${repoDir} is not a git repository`, { fix: 'run the command in the repository of the app, or point repoDir at it' }));
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run git and return its stdout; a non-zero exit is a tool error. */
export async function git(repoDir: string, args: readonly string[]): Promise<string> {
  const result = await runGit(repoDir, args);
  if (result.code !== 0) {
    throw toolError(GIT_FAILED, `git ${args.join(' ')} failed in ${repoDir} (exit ${result.code}): ${result.stderr.trim().split('\n')[0]}`);
  }
  return result.stdout;
}

/** Start git with its stdout as a stream (for archives); `exited` rejects on a non-zero exit. */
export function spawnGit(repoDir: string, args: readonly string[]): { readonly stdout: Readable; readonly exited: Promise<void> } {
  assertRepoDir(repoDir);
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn('git', [...args], { cwd: repoDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? gitMissing(err) : err));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(toolError(GIT_FAILED, `git ${args.join(' ')} failed in ${repoDir} (exit ${code}): ${stderr.trim().split('\n')[0]}`));
    });
  });
  return { stdout: child.stdout, exited };
}

/** The full 40-hex sha of the commit `ref` names (a sha, short sha, branch, tag, HEAD...). */
export async function resolveSha(repoDir: string, ref: string): Promise<string> {
  // A ref starting with "-" would be read as an option.
  if (!ref || ref.startsWith('-') || /\s/.test(ref)) {
    throw userError(SHA_UNKNOWN, `invalid git ref "${ref}"`, { fix: 'pass a commit sha, a branch or a tag' });
  }
  const result = await runGit(repoDir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  const sha = result.stdout.trim();
  if (result.code !== 0 || !/^[0-9a-f]{40}$/.test(sha)) {
    throw userError(SHA_UNKNOWN, `unknown commit "${ref}" in ${repoDir}`, { fix: 'pass a commit sha, branch or tag of this repository (fetch it first if it is only on a remote)' });
  }
  return sha;
}

/**
 * Whether the working tree differs from HEAD: modified, staged or untracked (not ignored) files.
 * Untracked files count because the release definition is read from the working tree.
 */
export async function isDirty(repoDir: string): Promise<boolean> {
  const status = await git(repoDir, ['status', '--porcelain']);
  return status.trim().length > 0;
}

/** What `path` is in the tree of commit `sha`: a directory (`tree`), a file (`blob`), or absent. */
export async function entryTypeAt(repoDir: string, sha: string, path: string): Promise<'tree' | 'blob' | 'commit' | undefined> {
  const result = await runGit(repoDir, ['cat-file', '-t', treeish(sha, path)]);
  const type = result.stdout.trim();
  return result.code === 0 && (type === 'tree' || type === 'blob' || type === 'commit') ? type : undefined;
}

/** `<sha>:<path>` for git, where path '.' is the commit's root tree. */
export function treeish(sha: string, path: string): string {
  return path === '.' ? `${sha}^{tree}` : `${sha}:${path}`;
}

function assertRepoDir(repoDir: string): void {
  if (!existsSync(repoDir)) {
    throw userError(GIT_REPO_MISSING, `repository directory ${repoDir} does not exist`, { fix: 'point repoDir at the checkout of the app' });
  }
}

function gitMissing(cause: unknown) {
  return toolError(GIT_MISSING, 'git is not installed or not on PATH', { fix: 'install git', cause });
}
