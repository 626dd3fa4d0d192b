/**
 * The CDK app (`cdk.json`: `npx tsx bin/app.ts`). Releases come from the `releases` context, a JSON
 * array of `{ sha | branch, amiId, releaseId? }` (releaseId is derived when absent), e.g.
 *   npx cdk synth -c releases='[{"sha":"0123456789abcdef","amiId":"ami-12345678"}]'
 * Without it, one example release is synthesized. The app and its tables come from the stackshift config.
 */
import * as cdk from 'aws-cdk-lib';
import { z } from 'zod';
import { exitCodeFor, messageOf, ReleaseError } from '../lib/errors';
import { releaseId, zodUserError } from '../lib/manifest/table-manifest';
import { findConfigFile, loadConfig } from '../lib/config/load-config';
import { buildApp, type ReleaseSpec } from '../stacks/app-builder';

const EXAMPLE_RELEASES = [{ sha: '0123456789abcdef0123456789abcdef01234567', amiId: 'ami-12345678' }];

const releasesSchema = z.array(
  z.strictObject({
    sha: z.string().optional(),
    branch: z.string().optional(),
    releaseId: z.string().optional(),
    amiId: z.string(),
  }),
);

function releasesFromContext(app: cdk.App): ReleaseSpec[] {
  const raw: unknown = app.node.tryGetContext('releases');
  let value: unknown = raw ?? EXAMPLE_RELEASES;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw zodUserError('CONTEXT_INVALID', 'releases context', new z.ZodError([{ code: 'custom', path: [], message: `is not JSON (${messageOf(err)})`, input: raw }]), 'pass -c releases=\'[{"sha":"…","amiId":"ami-…"}]\'');
    }
  }
  const parsed = releasesSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    throw zodUserError('CONTEXT_INVALID', 'releases context', parsed.error, 'pass -c releases=\'[{"sha":"…","amiId":"ami-…"}]\'');
  }
  return parsed.data.map((r) => ({
    ...r,
    releaseId: r.releaseId ?? releaseId({ sha: r.sha, branch: r.branch }),
  }));
}

try {
  // The team's config, found as the CLI finds it (STACKSHIFT_CONFIG, or the repository root, then release/).
  const definition = await loadConfig(findConfigFile(process.cwd(), process.env.STACKSHIFT_CONFIG));
  // autoSynth off: a failed synth must not run again on process exit.
  const app = new cdk.App({ autoSynth: false });
  buildApp({ app, config: definition.config, tables: definition.tables, releases: releasesFromContext(app), extendReleaseStack: definition.extendReleaseStack });
  app.synth();
} catch (err) {
  // A user error is one line; anything else keeps its stack trace.
  process.stderr.write(`${ReleaseError.isUserError(err) ? messageOf(err) : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = exitCodeFor(err);
}
