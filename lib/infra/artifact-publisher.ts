/**
 * Ships a release's tarball to where its AMI builder fetches it: one S3 object per artifact in the
 * app's artifact bucket (EdgeStack), named by the tarball's sha256. The name is the content, so a
 * re-run, or another release of the same tree, uploads nothing. The sha256 is checked here before
 * the upload, by S3 on receipt, and by the builder after its download (through a presigned GET
 * URL, so it needs no instance role and cannot run a tarball other than the one recorded).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, paginateListObjectsV2, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { toolError } from '../errors';
import type { IoHost } from '../io';
import { tarballHex } from './artifact-builder';
import { BAKE_IO } from './bake-messages';

export interface PublishArtifactOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The app name: the key prefix. */
  readonly app: string;
  /** `sha256:<hex>` of the tarball (see artifact-builder). */
  readonly artifactId: string;
  /** The tarball on this machine. */
  readonly tarPath: string;
  readonly ioHost: IoHost;
}

export interface PublishedArtifact {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
  /** True when the object was there already. */
  readonly reused: boolean;
}

/** Uploads the tarball unless its object exists; idempotent. */
export async function publishArtifact(options: PublishArtifactOptions): Promise<PublishedArtifact> {
  const hex = hexOf(options.artifactId);
  const key = `${artifactPrefix(options.app)}${hex}.tar`;
  const existing = await options.s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key })).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (existing) {
    BAKE_IO.ARTIFACT_I8104.emit(options.ioHost, `artifact ${options.artifactId} is in s3://${options.bucket}/${key} already`, { bucket: options.bucket, key, bytes: existing.ContentLength ?? 0 });
    return { bucket: options.bucket, key, bytes: existing.ContentLength ?? 0, reused: true };
  }
  // App trees are small (sources, no node_modules): one PutObject, the body held in memory.
  const body = await readFile(options.tarPath);
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== hex) {
    throw toolError('ARTIFACT_MISMATCH', `${options.tarPath} has sha256 ${actual}, not the artifact id ${options.artifactId}`, {
      fix: 'run the release again: the artifact step rebuilds the tarball from the commit',
    });
  }
  await options.s3.send(
    new PutObjectCommand({
      Bucket: options.bucket,
      Key: key,
      Body: body,
      ContentType: 'application/x-tar',
      ChecksumSHA256: Buffer.from(hex, 'hex').toString('base64'),
      Metadata: { 'artifact-id': options.artifactId },
    }),
  );
  BAKE_IO.ARTIFACT_I8103.emit(options.ioHost, `uploaded artifact ${options.artifactId} to s3://${options.bucket}/${key} (${body.length} bytes)`, { bucket: options.bucket, key, bytes: body.length });
  return { bucket: options.bucket, key, bytes: body.length, reused: false };
}

/** A GET URL of the published tarball, valid for `expiresInSeconds` (the bake's whole run). */
export async function artifactDownloadUrl(s3: S3Client, published: Pick<PublishedArtifact, 'bucket' | 'key'>, expiresInSeconds = 3600): Promise<string> {
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: published.bucket, Key: published.key }), { expiresIn: expiresInSeconds });
}

export interface DeleteUnusedArtifactsProps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly app: string;
  /** Keys that a release still standing refers to: kept. */
  readonly inUse: ReadonlySet<string>;
  readonly ioHost: IoHost;
}

/** Deletes the app's published tarballs that are not in use; returns their keys. */
export async function deleteUnusedArtifacts(props: DeleteUnusedArtifactsProps): Promise<string[]> {
  const unused: string[] = [];
  for await (const page of paginateListObjectsV2({ client: props.s3 }, { Bucket: props.bucket, Prefix: artifactPrefix(props.app) })) {
    for (const o of page.Contents ?? []) if (o.Key && !props.inUse.has(o.Key)) unused.push(o.Key);
  }
  for (let i = 0; i < unused.length; i += 1000) {
    const out = await props.s3.send(new DeleteObjectsCommand({ Bucket: props.bucket, Delete: { Objects: unused.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    const failed = out.Errors ?? [];
    if (failed.length > 0) throw toolError('ARTIFACT_DELETE_FAILED', `${failed.length} artifact(s) were not deleted from s3://${props.bucket}: ${failed[0].Key}: ${failed[0].Message}`, { fix: 'run gc again' });
  }
  if (unused.length > 0) BAKE_IO.ARTIFACT_I8105.emit(props.ioHost, `deleted ${unused.length} unused artifact(s) from s3://${props.bucket}`, { bucket: props.bucket, keys: unused });
  return unused;
}

function artifactPrefix(app: string): string {
  return `${app}/artifacts/`;
}

function hexOf(artifactId: string): string {
  const hex = tarballHex(artifactId);
  if (!hex) throw toolError('ARTIFACT_ID_INVALID', `artifact id "${artifactId}" is not sha256:<64 hex>; only tarball artifacts are published`);
  return hex;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}
