import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { toolError, userError } from '../errors';
import type { IoHost } from '../io';
import { BAKE_IO } from './bake-messages';
import { entryTypeAt, resolveSha, spawnGit, treeish } from './git';

export const APP_DIR_MISSING = 'APP_DIR_MISSING';
export const APP_DIR_INVALID = 'APP_DIR_INVALID';
export const DOCKER_BUILD_FAILED = 'DOCKER_BUILD_FAILED';
export const TAR_FAILED = 'TAR_FAILED';

export type ArtifactKind = 'docker-image' | 'tarball';

export interface BuildArtifactOptions {
  /** The app's git checkout. */
  readonly repoDir: string;
  /** The commit to build: a full sha (or any ref; it is resolved). */
  readonly sha: string;
  /** The app's directory, relative to the repository root; '.' is the whole tree. */
  readonly appDir: string;
  /** Where tarballs are kept, content-addressed. */
  readonly storeDir: string;
  readonly ioHost: IoHost;
  /** Build a Docker image when an engine answers and appDir has a Dockerfile. @default 'auto' */
  readonly docker?: 'auto' | 'never';
  /** A Docker-compatible CLI (e.g. podman). @default 'docker' */
  readonly dockerCommand?: string;
  /** Repository part of the image reference. @default - `stackshift/<last segment of appDir, or of repoDir for '.'>` */
  readonly imageRepository?: string;
}

export interface Artifact {
  /** `sha256:<hex>`: of the normalized tarball, or the Docker image id. */
  readonly artifactId: string;
  readonly kind: ArtifactKind;
  /** Tarball: the extracted tree, `<storeDir>/<hex>` (it contains `<appDir>/...`). */
  readonly path?: string;
  /** Tarball: the archive itself, `<storeDir>/<hex>.tar` (what is published for the AMI builder). */
  readonly tarPath?: string;
  /** Docker image: `<repository>:<sha>`. */
  readonly imageRef?: string;
}

/**
 * The release's image. A Docker image when there is an engine and a Dockerfile in the app at that
 * sha; otherwise a content-addressed tarball of the app's tree at that sha. Both come from the
 * commit, never from the working tree, so an artifact is the same whatever is checked out.
 */
export async function buildArtifact(options: BuildArtifactOptions): Promise<Artifact> {
  const started = Date.now();
  const appDir = normalizeAppDir(options.appDir);
  const sha = await resolveSha(options.repoDir, options.sha);
  if ((await entryTypeAt(options.repoDir, sha, appDir)) !== 'tree') {
    throw userError(APP_DIR_MISSING, `app directory "${options.appDir}" does not exist at commit ${sha.slice(0, 12)} of ${options.repoDir}`, {
      fix: 'check appDir (relative to the repository root) and that the commit contains it',
    });
  }
  const docker = options.docker ?? 'auto';
  const whyNotDocker = docker === 'never' ? 'docker: never was asked' : await whyNoDockerBuild(options, sha, appDir);
  let artifact: Artifact & { reused: boolean };
  if (whyNotDocker === undefined) {
    artifact = await dockerImage(options, sha, appDir);
  } else {
    BAKE_IO.ARTIFACT_D8102.emit(options.ioHost, `building a tarball: ${whyNotDocker}`, { reason: whyNotDocker });
    artifact = await tarball(options, sha, appDir);
  }
  const { reused, ...result } = artifact;
  const data = { ...result, sha };
  if (reused) BAKE_IO.ARTIFACT_I8101.emit(options.ioHost, `reusing ${result.kind} ${result.artifactId}`, data);
  else BAKE_IO.ARTIFACT_I8100.emit(options.ioHost, `built ${result.kind} ${result.artifactId}`, { ...data, seconds: (Date.now() - started) / 1000 });
  return result;
}

/** The sha256 hex of a tarball's artifact id (`sha256:<hex>`); undefined for any other id. */
export function tarballHex(artifactId: string): string | undefined {
  return /^sha256:([0-9a-f]{64})$/.exec(artifactId)?.[1];
}

/** `./services/api/` → `services/api`; '.' or '' → '.'. Absolute paths and `..` are refused. */
export function normalizeAppDir(appDir: string): string {
  const normalized = posix.normalize(appDir.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../')) {
    throw userError(APP_DIR_INVALID, `app directory "${appDir}" is outside the repository`, { fix: "give it relative to the repository root, e.g. 'app' or '.'" });
  }
  return normalized === '' ? '.' : normalized;
}

// ---------------------------------------------------------------------------------------------
// Tarball

async function tarball(options: BuildArtifactOptions, sha: string, appDir: string): Promise<Artifact & { reused: boolean }> {
  const storeDir = resolve(options.storeDir);
  await mkdir(storeDir, { recursive: true });
  const temp = join(storeDir, `.tmp-${randomBytes(6).toString('hex')}.tar`);
  let hex: string;
  try {
    hex = await archiveTo(options.repoDir, sha, appDir, temp);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const tarPath = join(storeDir, `${hex}.tar`);
  const treePath = join(storeDir, hex);
  // Same bytes, same name: whichever copy lands last is identical, so a plain rename is safe.
  await rename(temp, tarPath);
  const reused = existsSync(treePath);
  if (!reused) await extractAtomically(tarPath, treePath);
  return { artifactId: `sha256:${hex}`, kind: 'tarball', path: treePath, tarPath, reused };
}

/** Write the normalized archive of the app's tree at `sha` to `file`; returns its sha256 hex. */
async function archiveTo(repoDir: string, sha: string, appDir: string, file: string): Promise<string> {
  const archive = spawnGit(repoDir, ['archive', '--format=tar', sha, '--', appDir]);
  const hash = createHash('sha256');
  await firstFailure([
    archive.exited,
    pipeline(
      archive.stdout,
      new TarNormalizer(),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(file),
    ),
  ]);
  return hash.digest('hex');
}

/** Extract into a temporary directory and rename it into place: a reader never sees half a tree. */
async function extractAtomically(tarPath: string, treePath: string): Promise<void> {
  const temp = await mkdtemp(`${treePath}.tmp-`);
  try {
    await run('tar', ['-xf', tarPath, '-C', temp], TAR_FAILED);
    await rename(temp, treePath);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    // Another process extracted the same tree first: theirs is as good as ours.
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(treePath)) return;
    throw err;
  }
}

const BLOCK = 512;
const TYPE_PAX_GLOBAL = 'g'.charCodeAt(0);

/**
 * Makes `git archive` output depend on the tree only. Given a commit, git stamps every entry with
 * the commit's time and adds a pax global header holding the commit id, so the same tree at two
 * commits would give two artifacts. This drops the global header and sets every mtime to 0 (fixing
 * the header checksum); the rest of git's output (modes, owners, order) is already a function of
 * the tree. Streams block by block, so memory stays small whatever the app's size.
 */
export class TarNormalizer extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private dataBlocksToSkip = 0;
  private dataBlocksToCopy = 0;

  public override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const whole = this.pending.length - (this.pending.length % BLOCK);
    const out: Buffer[] = [];
    for (let offset = 0; offset < whole; offset += BLOCK) {
      const block = this.pending.subarray(offset, offset + BLOCK);
      if (this.dataBlocksToSkip > 0) {
        this.dataBlocksToSkip--;
      } else if (this.dataBlocksToCopy > 0) {
        this.dataBlocksToCopy--;
        out.push(block);
      } else if (block.every((b) => b === 0)) {
        out.push(block); // end-of-archive marker and padding
      } else {
        const dataBlocks = Math.ceil(entrySize(block) / BLOCK);
        if (block[156] === TYPE_PAX_GLOBAL) {
          this.dataBlocksToSkip = dataBlocks;
        } else {
          out.push(withZeroMtime(block));
          this.dataBlocksToCopy = dataBlocks;
        }
      }
    }
    if (out.length > 0) this.push(Buffer.concat(out));
    this.pending = Buffer.from(this.pending.subarray(whole));
    callback();
  }

  public override _flush(callback: TransformCallback): void {
    callback(this.pending.length === 0 ? null : toolError(TAR_FAILED, `the archive ended inside a ${BLOCK}-byte block (${this.pending.length} bytes left)`));
  }
}

function entrySize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (field[0] & 0x80) {
    // base-256 (GNU) for sizes of 8 GiB and more
    let size = 0;
    for (let i = 1; i < field.length; i++) size = size * 256 + field[i];
    return size;
  }
  return parseInt(field.toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
}

function withZeroMtime(header: Buffer): Buffer {
  const out = Buffer.from(header);
  out.write('00000000000\0', 136, 12, 'latin1');
  out.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const b of out) sum += b;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Docker image

/** Why this build cannot be a Docker image, or undefined when it can. */
async function whyNoDockerBuild(options: BuildArtifactOptions, sha: string, appDir: string): Promise<string | undefined> {
  const dockerfile = appDir === '.' ? 'Dockerfile' : `${appDir}/Dockerfile`;
  if ((await entryTypeAt(options.repoDir, sha, dockerfile)) !== 'blob') return `no ${dockerfile} at ${sha.slice(0, 12)}`;
  const info = await capture(options.dockerCommand ?? 'docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 });
  if (info.code !== 0) return `no working Docker engine (${info.stderr.trim().split('\n').at(-1) || `exit ${info.code}`})`;
  return undefined;
}

async function dockerImage(options: BuildArtifactOptions, sha: string, appDir: string): Promise<Artifact & { reused: boolean }> {
  const docker = options.dockerCommand ?? 'docker';
  const imageRef = `${options.imageRepository ?? defaultImageRepository(options.repoDir, appDir)}:${sha}`;
  const existing = await capture(docker, ['image', 'inspect', '--format', '{{.Id}}', imageRef]);
  if (existing.code === 0 && existing.stdout.trim()) {
    return { artifactId: existing.stdout.trim(), kind: 'docker-image', imageRef, reused: true };
  }
  // The build context is the app's tree at the sha (rooted at appDir), streamed from git: never the working tree.
  await mkdir(options.storeDir, { recursive: true });
  const iidFile = join(resolve(options.storeDir), `.iid-${randomBytes(6).toString('hex')}`);
  try {
    const context = spawnGit(options.repoDir, ['archive', '--format=tar', treeish(sha, appDir)]);
    const build = spawn(docker, ['build', '--tag', imageRef, '--label', `stackshift.sha=${sha}`, '--iidfile', iidFile, '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    build.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const built = new Promise<void>((ok, fail) => {
      build.on('error', fail);
      build.on('close', (code) =>
        code === 0
          ? ok()
          : fail(toolError(DOCKER_BUILD_FAILED, `${docker} build of ${imageRef} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`, {
              fix: `build it by hand to see the whole output: git archive ${sha.slice(0, 12)}:${appDir} | ${docker} build -`,
            })),
      );
    });
    await firstFailure([built, context.exited, pipeline(context.stdout, build.stdin)]);
    const imageId = (await readFile(iidFile, 'utf8')).trim();
    return { artifactId: imageId, kind: 'docker-image', imageRef, reused: false };
  } finally {
    await rm(iidFile, { force: true });
  }
}

function defaultImageRepository(repoDir: string, appDir: string): string {
  const name = basename(appDir === '.' ? resolve(repoDir) : appDir)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return `stackshift/${name || 'app'}`;
}

// ---------------------------------------------------------------------------------------------

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command and capture its output; a missing command is exit 127, like a shell. */
function capture(command: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<Captured> {
  return new Promise((done) => {
    execFile(command, [...args], { encoding: 'utf8', timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return done({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
      if (e.code === 'ENOENT') return done({ code: 127, stdout, stderr: `${command}: command not found` });
      if (e.killed) return done({ code: 124, stdout, stderr: `${command} ${args[0]} timed out` });
      done({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr });
    });
  });
}

/**
 * Wait for all; throw the first failure in list order (not in time order): when a producer and a
 * consumer of a pipe fail together, the process's own error says more than the broken pipe.
 */
async function firstFailure(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function run(command: string, args: readonly string[], errorCode: string): Promise<void> {
  const result = await capture(command, args);
  if (result.code !== 0) throw toolError(errorCode, `${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim().split('\n')[0]}`);
}
