/**
 * Publishing a release's tarball to the artifact bucket (moto's S3) and fetching it back the way
 * the AMI builder does: through the presigned URL, checked against its sha256.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingIoHost } from '../../lib/io';
import { artifactDownloadUrl, deleteUnusedArtifacts, publishArtifact } from '../../lib/infra/artifact-publisher';
import { BAKE_IO } from '../../lib/infra/bake-messages';
import { rejection } from '../_helpers/rejection';

const s3 = new S3Client({});
const bucket = `artifacts-${randomBytes(4).toString('hex')}`;
/** The tarballs' directory, removed after the file. */
const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-'));

/** A tarball-like file and its artifact id. */
function tarball(bytes: number): { tarPath: string; artifactId: string; content: Buffer } {
  const content = randomBytes(bytes);
  const tarPath = path.join(fs.mkdtempSync(path.join(tempRoot, 't-')), 'app.tar');
  fs.writeFileSync(tarPath, content);
  return { tarPath, content, artifactId: `sha256:${createHash('sha256').update(content).digest('hex')}` };
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => fs.rmSync(tempRoot, { recursive: true, force: true }));

describe('publishArtifact', () => {
  it('uploads once by content, and the presigned URL serves the same bytes', async () => {
    // GIVEN a 200 KB tarball
    const t = tarball(200_000);
    const io = new RecordingIoHost();

    // WHEN it is published twice (a re-run of the release)
    const first = await publishArtifact({ s3, bucket, app: 'catalog', ...t, ioHost: io });
    const second = await publishArtifact({ s3, bucket, app: 'catalog', ...t, ioHost: io });

    // THEN one upload, under a key named by its sha256, and the second run reuses it
    const hex = t.artifactId.slice('sha256:'.length);
    expect(first).toEqual({ bucket, key: `catalog/artifacts/${hex}.tar`, bytes: 200_000, reused: false });
    expect(second).toEqual({ ...first, reused: true });
    expect(io.withCode(BAKE_IO.ARTIFACT_I8103.code)).toHaveLength(1);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: first.key }));
    expect(head.Metadata).toEqual({ 'artifact-id': t.artifactId });

    // AND what the builder downloads through the presigned URL has that sha256
    const url = await artifactDownloadUrl(s3, first, 600);
    expect(url).toContain('X-Amz-Expires=600');
    const got = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(createHash('sha256').update(got).digest('hex')).toBe(hex);
  });

  it('refuses an upload whose bytes are not the artifact id it claims', async () => {
    // GIVEN a file and the id of other bytes
    const t = tarball(1000);
    const other = tarball(1000);

    // WHEN it is published under the wrong id, THEN it is refused and nothing is stored
    const err = await rejection(publishArtifact({ s3, bucket, app: 'catalog', tarPath: t.tarPath, artifactId: other.artifactId, ioHost: new RecordingIoHost() }));
    expect(err).toMatchObject({ code: 'ARTIFACT_MISMATCH' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `catalog/artifacts/${other.artifactId.slice(7)}.tar` })).catch((e: { name?: string }) => e.name);
    expect(head).toBe('NotFound');
  });

  it('deletes the tarballs not in use, and only the app\'s own', async () => {
    // GIVEN three tarballs of one app and one of another
    const io = new RecordingIoHost();
    const [a, b, c] = await Promise.all([tarball(10), tarball(10), tarball(10)].map((t) => publishArtifact({ s3, bucket, app: 'gcapp', ...t, ioHost: io })));
    const other = await publishArtifact({ s3, bucket, app: 'gcother', ...tarball(10), ioHost: io });

    // WHEN the unused ones of the first app are deleted, b being in use
    const deleted = await deleteUnusedArtifacts({ s3, bucket, app: 'gcapp', inUse: new Set([b.key]), ioHost: io });

    // THEN a and c are gone, b and the other app's stay
    expect(deleted.sort()).toEqual([a.key, c.key].sort());
    const exists = (key: string) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(() => true, () => false);
    expect(await Promise.all([a, b, c, other].map((p) => exists(p.key)))).toEqual([false, true, false, true]);
    // AND a second run has nothing to delete
    expect(await deleteUnusedArtifacts({ s3, bucket, app: 'gcapp', inUse: new Set([b.key]), ioHost: io })).toEqual([]);
  });

  it('refuses an artifact id that is not a tarball hash', async () => {
    const err = await rejection(publishArtifact({ s3, bucket, app: 'catalog', tarPath: '/nonexistent', artifactId: 'sha256:deadbeef', ioHost: new RecordingIoHost() }));
    expect(err).toMatchObject({ code: 'ARTIFACT_ID_INVALID' });
  });
});
