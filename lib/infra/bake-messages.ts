import { make } from '../io/messages';

const info = <T = undefined>(code: string, d: string) => make<T>('info')(code, d);
const warn = <T = undefined>(code: string, d: string) => make<T>('warn')(code, d);
const debug = <T = undefined>(code: string, d: string) => make<T>('debug')(code, d);

/**
 * Codes of the release's image and AMI (lib/infra/artifact-builder.ts, lib/infra/ami-baker.ts).
 * Same scheme as lib/io/messages.ts: `<AREA>_<L><NNNN>`, a code never changes meaning.
 */
export const BAKE_IO = {
  BAKE_I8000: info<{ app: string; sha: string; amiId: string; seconds: number }>('BAKE_I8000', 'an AMI was baked for a release'),
  BAKE_I8001: info<{ app: string; sha: string; amiId: string }>('BAKE_I8001', 'the AMI of this sha exists and was reused'),
  BAKE_I8002: info<{ instanceId: string; baseAmiId: string; instanceType: string }>('BAKE_I8002', 'a builder instance was launched'),
  BAKE_I8003: info<{ instanceId: string; state: string }>('BAKE_I8003', 'a builder instance of an earlier run was found and is used'),
  BAKE_I8004: info<{ amiId: string; name: string; instanceId: string }>('BAKE_I8004', 'image creation started from the builder'),
  BAKE_I8005: info<{ amiId: string; name: string; state: string }>('BAKE_I8005', 'an image of this release being created by an earlier run was found and is used'),
  BAKE_I8006: info<{ instanceId: string }>('BAKE_I8006', 'a builder instance was terminated'),
  BAKE_W8007: warn<{ instanceId: string; kept: string }>('BAKE_W8007', 'more than one builder of the release was running; the extra one is terminated'),
  BAKE_W8008: warn<{ amiId: string; state: string }>('BAKE_W8008', 'a failed image of the release was deregistered before baking again'),
  BAKE_D8009: debug<{ amiId: string; source: 'given' | 'ssm' | 'describe-images' }>('BAKE_D8009', 'the base image of the builder was chosen'),
  BAKE_I8010: info<{ amiId: string; snapshots: string[]; imageFound: boolean }>('BAKE_I8010', 'an AMI and its snapshots were deleted (or were gone already)'),

  ARTIFACT_I8100: info<{ artifactId: string; kind: 'docker-image' | 'tarball'; sha: string; path?: string; imageRef?: string; seconds: number }>('ARTIFACT_I8100', 'the release artifact was built'),
  ARTIFACT_I8101: info<{ artifactId: string; kind: 'docker-image' | 'tarball'; sha: string; path?: string; imageRef?: string }>('ARTIFACT_I8101', 'the release artifact exists and was reused'),
  ARTIFACT_I8103: info<{ bucket: string; key: string; bytes: number }>('ARTIFACT_I8103', 'the release tarball was uploaded to the artifact bucket'),
  ARTIFACT_I8104: info<{ bucket: string; key: string; bytes: number }>('ARTIFACT_I8104', 'the release tarball was in the artifact bucket already'),
  ARTIFACT_I8105: info<{ bucket: string; keys: string[] }>('ARTIFACT_I8105', 'published tarballs no standing release uses were deleted'),
  ARTIFACT_D8102: debug<{ reason: string }>('ARTIFACT_D8102', 'the artifact is a tarball, not a Docker image, and why'),
} as const;
