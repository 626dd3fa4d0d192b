import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ReleaseError } from '../../lib/errors';
import { RecordingIoHost } from '../../lib/io';
import { APP_DIR_INVALID, APP_DIR_MISSING, buildArtifact, DOCKER_BUILD_FAILED, normalizeAppDir, TarNormalizer } from '../../lib/infra/artifact-builder';
import { BAKE_IO } from '../../lib/infra/bake-messages';
import { GIT_REPO_MISSING, isDirty, resolveSha, SHA_UNKNOWN } from '../../lib/infra/git';
import { rejection } from '../_helpers/rejection';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `stackshift-${prefix}-`));
  roots.push(dir);
  return dir;
}

function git(repo: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  }).trim();
}

/** A git repository of its own; git config may be missing in CI, so identity is passed per command. */
function makeRepo(): string {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  return repo;
}

let commitSeconds = 1_700_000_000;
/** Write (or with null, delete) files and commit them at a distinct time; returns the sha. */
function commit(repo: string, files: Record<string, string | null>, message = 'change'): string {
  for (const [file, content] of Object.entries(files)) {
    const path = join(repo, file);
    if (content === null) rmSync(path, { force: true });
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    }
  }
  git(repo, ['add', '-A']);
  commitSeconds += 3600;
  const date = `${commitSeconds} +0000`;
  git(repo, ['commit', '-q', '--allow-empty', '-m', message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
  return git(repo, ['rev-parse', 'HEAD']);
}

/**
 * A stand-in for the Docker CLI: `info` answers (or not), `image inspect` knows the images this
 * script built, `build` keeps the context it was given and writes an image id.
 */
function fakeDocker(options: { engine: boolean; buildFails?: boolean }): { command: string; log: string; contexts: string } {
  const dir = tempDir('docker');
  const log = join(dir, 'calls.log');
  const contexts = join(dir, 'contexts');
  mkdirSync(contexts);
  const command = join(dir, 'docker');
  writeFileSync(
    command,
    `#!/bin/sh
echo "$*" >> "${log}"
case "$1" in
  info)
    ${options.engine ? 'echo 27.0.0; exit 0' : 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1'} ;;
  image)
    ref="$5"; f="${dir}/images/$(echo "$ref" | tr '/:' '__')"
    if [ -f "$f" ]; then cat "$f"; exit 0; fi
    echo "Error: No such image: $ref" >&2; exit 1 ;;
  build)
    shift; tag=""; iid=""
    while [ $# -gt 0 ]; do
      case "$1" in --tag) tag="$2"; shift 2 ;; --iidfile) iid="$2"; shift 2 ;; --label) shift 2 ;; *) shift ;; esac
    done
    n=$(ls "${contexts}" | wc -l); cat > "${contexts}/$n.tar"
    ${options.buildFails ? 'echo "step 2/3: RUN make: exit code 2" >&2; exit 1' : ''}
    mkdir -p "${dir}/images"; id="sha256:$(printf %064d $n)"
    printf %s "$id" > "$iid"; printf %s "$id" > "${dir}/images/$(echo "$tag" | tr '/:' '__')"; exit 0 ;;
esac
exit 2
`,
  );
  chmodSync(command, 0o755);
  return { command, log, contexts };
}

const tarList = (file: string) => execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n').sort();

describe('git helpers', () => {
  let repo: string;
  let first: string;
  beforeEach(() => {
    repo = makeRepo();
    first = commit(repo, { 'app/index.js': 'v1', '.gitignore': 'ignored/\n' });
  });

  it('resolveSha gives the full sha of HEAD, a short sha, a branch and a tag', async () => {
    git(repo, ['tag', 'v1']);
    const second = commit(repo, { 'app/index.js': 'v2' });
    const branch = git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']);

    expect(await resolveSha(repo, 'HEAD')).toBe(second);
    expect(await resolveSha(repo, first.slice(0, 8))).toBe(first);
    expect(await resolveSha(repo, branch)).toBe(second);
    expect(await resolveSha(repo, 'v1')).toBe(first);
  });

  it.each(['0123456789abcdef0123456789abcdef01234567', 'no-such-branch', '-h', '', 'HEAD x'])('resolveSha refuses %j with SHA_UNKNOWN', async (ref) => {
    const err = await rejection(resolveSha(repo, ref));
    expect(err.code).toBe(SHA_UNKNOWN);
    expect(err.source).toBe('user');
    expect(err.message).toContain(`"${ref}"`);
  });

  it('resolveSha outside a repository is GIT_REPO_MISSING', async () => {
    expect((await rejection(resolveSha(tempDir('plain'), 'HEAD'))).code).toBe(GIT_REPO_MISSING);
    expect((await rejection(resolveSha(join(tmpdir(), 'stackshift-does-not-exist'), 'HEAD'))).code).toBe(GIT_REPO_MISSING);
  });

  it('isDirty sees modified, staged and untracked files but not ignored ones', async () => {
    expect(await isDirty(repo)).toBe(false);
    mkdirSync(join(repo, 'ignored'));
    writeFileSync(join(repo, 'ignored/x'), 'x');
    expect(await isDirty(repo)).toBe(false);
    writeFileSync(join(repo, 'new.txt'), 'x');
    expect(await isDirty(repo)).toBe(true);
    rmSync(join(repo, 'new.txt'));
    writeFileSync(join(repo, 'app/index.js'), 'edited');
    expect(await isDirty(repo)).toBe(true);
  });
});

describe('buildArtifact: tarball', () => {
  let repo: string;
  let storeDir: string;
  let io: RecordingIoHost;
  beforeEach(() => {
    repo = makeRepo();
    storeDir = join(tempDir('store'), 'artifacts');
    io = new RecordingIoHost();
  });

  it('GIVEN a commit WHEN built THEN the tar and its extracted tree are stored under the hex of the tar bytes', async () => {
    const sha = commit(repo, { 'app/index.js': 'console.log(1)', 'app/lib/a.js': 'a', 'docs/readme.md': 'docs' });
    writeFileSync(join(repo, 'app/index.js'), 'uncommitted edit');

    const artifact = await buildArtifact({ repoDir: repo, sha, appDir: 'app', storeDir, ioHost: io, docker: 'never' });

    expect(artifact.kind).toBe('tarball');
    expect(artifact.artifactId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const hex = artifact.artifactId.slice('sha256:'.length);
    const tarPath = join(storeDir, `${hex}.tar`);
    const bytes = readFileSync(tarPath);
    expect(execFileSync('sha256sum', [tarPath], { encoding: 'utf8' }).split(' ')[0]).toBe(hex);
    expect(bytes.length).toBeGreaterThan(0);
    expect(artifact.path).toBe(join(storeDir, hex));
    // the commit's content, not the working tree's
    expect(readFileSync(join(artifact.path!, 'app/index.js'), 'utf8')).toBe('console.log(1)');
    expect(existsSync(join(artifact.path!, 'docs'))).toBe(false);
    expect(tarList(tarPath)).toEqual(['app/', 'app/index.js', 'app/lib/', 'app/lib/a.js']);
    expect(readdirSync(storeDir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(io.codes()).toEqual([BAKE_IO.ARTIFACT_D8102.code, BAKE_IO.ARTIFACT_I8100.code]);
  });

  it('GIVEN the same app tree at two commits WHEN built THEN the artifact id is the same and the second build reuses the tree', async () => {
    const first = commit(repo, { 'app/index.js': 'v1', 'docs/a.md': 'a' });
    const second = commit(repo, { 'docs/a.md': 'changed outside the app' });
    const marker = 'left by the first build';

    const a = await buildArtifact({ repoDir: repo, sha: first, appDir: 'app', storeDir, ioHost: io, docker: 'never' });
    writeFileSync(join(a.path!, 'marker'), marker);
    const b = await buildArtifact({ repoDir: repo, sha: second, appDir: './app/', storeDir, ioHost: io, docker: 'never' });

    expect(b.artifactId).toBe(a.artifactId);
    expect(readFileSync(join(b.path!, 'marker'), 'utf8')).toBe(marker);
    expect(io.codes().filter((c) => c.startsWith('ARTIFACT_I'))).toEqual([BAKE_IO.ARTIFACT_I8100.code, BAKE_IO.ARTIFACT_I8101.code]);
    // no commit id and no commit time in the stored tar
    const tarPath = join(storeDir, `${a.artifactId.slice(7)}.tar`);
    expect(readFileSync(tarPath).includes(Buffer.from(first))).toBe(false);
    expect(execFileSync('tar', ['--utc', '-tvf', tarPath], { encoding: 'utf8' })).toContain('1970-01-01');
  });

  it('GIVEN a change inside the app WHEN built THEN the artifact id differs', async () => {
    const first = commit(repo, { 'app/index.js': 'v1' });
    const second = commit(repo, { 'app/index.js': 'v2' });

    const a = await buildArtifact({ repoDir: repo, sha: first, appDir: 'app', storeDir, ioHost: io, docker: 'never' });
    const b = await buildArtifact({ repoDir: repo, sha: second, appDir: 'app', storeDir, ioHost: io, docker: 'never' });

    expect(b.artifactId).not.toBe(a.artifactId);
    expect(readFileSync(join(b.path!, 'app/index.js'), 'utf8')).toBe('v2');
  });

  it("GIVEN appDir '.' WHEN built THEN the whole tree is in the artifact", async () => {
    const sha = commit(repo, { 'app/index.js': 'v1', 'docs/a.md': 'a', 'package.json': '{}' });

    const a = await buildArtifact({ repoDir: repo, sha, appDir: '.', storeDir, ioHost: io, docker: 'never' });

    expect(readdirSync(a.path!).sort()).toEqual(['app', 'docs', 'package.json']);
  });

  it('GIVEN a ref instead of a sha WHEN built THEN it is resolved to the commit', async () => {
    const sha = commit(repo, { 'app/index.js': 'v1' });
    const a = await buildArtifact({ repoDir: repo, sha: 'HEAD', appDir: 'app', storeDir, ioHost: io, docker: 'never' });
    expect(io.withCode<{ sha: string }>(BAKE_IO.ARTIFACT_I8100.code)[0].data!.sha).toBe(sha);
    expect(a.kind).toBe('tarball');
  });

  it('GIVEN an unknown sha THEN SHA_UNKNOWN, and nothing is stored', async () => {
    commit(repo, { 'app/index.js': 'v1' });
    const err = await rejection(buildArtifact({ repoDir: repo, sha: 'f'.repeat(40), appDir: 'app', storeDir, ioHost: io }));
    expect(err.code).toBe(SHA_UNKNOWN);
    expect(existsSync(storeDir)).toBe(false);
  });

  it('GIVEN an app directory that is not in the commit (only in the working tree) THEN APP_DIR_MISSING', async () => {
    const sha = commit(repo, { 'app/index.js': 'v1' });
    mkdirSync(join(repo, 'api'));
    writeFileSync(join(repo, 'api/x.js'), 'x');

    const err = await rejection(buildArtifact({ repoDir: repo, sha, appDir: 'api', storeDir, ioHost: io }));

    expect(err.code).toBe(APP_DIR_MISSING);
    expect(err.source).toBe('user');
    expect(err.message).toContain('"api"');
    expect(err.message).toContain(sha.slice(0, 12));
  });

  it('GIVEN a file as app directory THEN APP_DIR_MISSING', async () => {
    const sha = commit(repo, { 'app/index.js': 'v1' });
    expect((await rejection(buildArtifact({ repoDir: repo, sha, appDir: 'app/index.js', storeDir, ioHost: io }))).code).toBe(APP_DIR_MISSING);
  });

  it('normalizeAppDir keeps paths inside the repository', () => {
    expect(normalizeAppDir('./services/api/')).toBe('services/api');
    expect(normalizeAppDir('')).toBe('.');
    expect(normalizeAppDir('./')).toBe('.');
    for (const bad of ['../other', '/abs/app', 'app/../../x']) {
      let code: string | undefined;
      try {
        normalizeAppDir(bad);
      } catch (err) {
        code = ReleaseError.isReleaseError(err) ? err.code : undefined;
      }
      expect(code).toBe(APP_DIR_INVALID);
    }
  });
});

describe('TarNormalizer', () => {
  async function normalize(chunks: Buffer[]): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const c of Readable.from(chunks).pipe(new TarNormalizer())) out.push(c as Buffer);
    return Buffer.concat(out);
  }

  it('gives the same bytes whatever the chunking, and a tar that lists the same entries', async () => {
    const repo = makeRepo();
    commit(repo, { 'app/a.js': 'a'.repeat(1500), 'app/b.js': '', [`app/${'long-name-'.repeat(12)}.js`]: 'long path: pax header' });
    const raw = execFileSync('git', ['archive', '--format=tar', 'HEAD'], { cwd: repo });
    const sizes = [1, 7, 511, 512, 513, 4096];
    const odd: Buffer[] = [];
    for (let offset = 0, i = 0; offset < raw.length; offset += sizes[i++ % sizes.length]) odd.push(raw.subarray(offset, offset + sizes[i % sizes.length]));

    const whole = await normalize([raw]);
    const chunked = await normalize(odd);

    expect(chunked.equals(whole)).toBe(true);
    expect(whole.length).toBe(raw.length - 1024); // the pax global header and its one data block
    const dir = tempDir('tar');
    writeFileSync(join(dir, 'raw.tar'), raw);
    writeFileSync(join(dir, 'normalized.tar'), whole);
    expect(tarList(join(dir, 'normalized.tar'))).toEqual(tarList(join(dir, 'raw.tar')));
  });

  it('refuses an archive that ends inside a block', async () => {
    await expect(normalize([Buffer.alloc(700)])).rejects.toThrow(/ended inside a 512-byte block/);
  });
});

describe('buildArtifact: Docker image (a stand-in Docker CLI)', () => {
  let repo: string;
  let storeDir: string;
  let io: RecordingIoHost;
  beforeEach(() => {
    repo = makeRepo();
    storeDir = join(tempDir('store'), 'artifacts');
    io = new RecordingIoHost();
  });

  it('GIVEN an engine and a Dockerfile in the app at the sha WHEN built THEN docker build gets the tree at the sha, tagged with the sha', async () => {
    const sha = commit(repo, { 'app/Dockerfile': 'FROM scratch\nCOPY . /app\n', 'app/index.js': 'v1', 'docs/a.md': 'a' });
    writeFileSync(join(repo, 'app/index.js'), 'uncommitted');
    const docker = fakeDocker({ engine: true });

    const artifact = await buildArtifact({ repoDir: repo, sha, appDir: 'app', storeDir, ioHost: io, dockerCommand: docker.command });

    expect(artifact).toEqual({ artifactId: `sha256:${'0'.repeat(64)}`, kind: 'docker-image', imageRef: `stackshift/app:${sha}` });
    const context = join(docker.contexts, '0.tar');
    expect(tarList(context)).toEqual(['Dockerfile', 'index.js']);
    expect(execFileSync('tar', ['-xOf', context, 'index.js'], { encoding: 'utf8' })).toBe('v1');
    expect(readFileSync(docker.log, 'utf8')).toContain(`--label stackshift.sha=${sha}`);
    expect(io.codes()).toEqual([BAKE_IO.ARTIFACT_I8100.code]);
  });

  it('GIVEN the image of the sha exists WHEN built again THEN it is reused without a build', async () => {
    const sha = commit(repo, { 'Dockerfile': 'FROM scratch\n' });
    const docker = fakeDocker({ engine: true });
    const first = await buildArtifact({ repoDir: repo, sha, appDir: '.', storeDir, ioHost: io, dockerCommand: docker.command, imageRepository: 'example/catalog' });

    const second = await buildArtifact({ repoDir: repo, sha, appDir: '.', storeDir, ioHost: io, dockerCommand: docker.command, imageRepository: 'example/catalog' });

    expect(second).toEqual(first);
    expect(second.imageRef).toBe(`example/catalog:${sha}`);
    expect(readFileSync(docker.log, 'utf8').split('\n').filter((l) => l.startsWith('build'))).toHaveLength(1);
    expect(io.codes().filter((c) => c.startsWith('ARTIFACT_I'))).toEqual([BAKE_IO.ARTIFACT_I8100.code, BAKE_IO.ARTIFACT_I8101.code]);
  });

  it.each<[string, () => { command: string }, Record<string, string>, string]>([
    ['the engine does not answer', () => fakeDocker({ engine: false }), { 'app/Dockerfile': 'FROM scratch\n' }, 'no working Docker engine (Cannot connect to the Docker daemon'],
    ['there is no Docker CLI', () => ({ command: join(tmpdir(), 'stackshift-no-such-docker') }), { 'app/Dockerfile': 'FROM scratch\n' }, 'command not found'],
    ['the app has no Dockerfile at the sha', () => fakeDocker({ engine: true }), { 'app/index.js': 'v1' }, 'no app/Dockerfile'],
  ])('GIVEN %s WHEN built with docker auto THEN it falls back to a tarball and says why', async (_name, docker, files, reason) => {
    const sha = commit(repo, { 'app/index.js': 'v1', ...files });

    const artifact = await buildArtifact({ repoDir: repo, sha, appDir: 'app', storeDir, ioHost: io, dockerCommand: docker().command });

    expect(artifact.kind).toBe('tarball');
    expect(io.withCode<{ reason: string }>(BAKE_IO.ARTIFACT_D8102.code)[0].data!.reason).toContain(reason);
  });

  it('GIVEN a failing docker build THEN DOCKER_BUILD_FAILED with the end of its output', async () => {
    const sha = commit(repo, { 'app/Dockerfile': 'FROM scratch\n' });
    const docker = fakeDocker({ engine: true, buildFails: true });

    const err = await rejection(buildArtifact({ repoDir: repo, sha, appDir: 'app', storeDir, ioHost: io, dockerCommand: docker.command }));

    expect(err.code).toBe(DOCKER_BUILD_FAILED);
    expect(err.source).toBe('tool');
    expect(err.message).toContain('RUN make: exit code 2');
  });
});
