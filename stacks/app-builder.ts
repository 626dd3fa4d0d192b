/**
 * Assembles one app's stacks into a CDK app: the EdgeStack and one ReleaseStack per release, all
 * checked by cdk-nag's AwsSolutions pack. cdk-nag 3 is a policy-validation plugin: an
 * unacknowledged finding fails `app.synth()` (in-memory) or `cdk synth` (exit code 1).
 */
import type { ExtendReleaseStack } from '../lib/config/define-config';
import * as cdk from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { userError } from '../lib/errors';
import type { AppConfig } from '../lib/manifest/app-config';
import { RELEASE_ID_INVALID, type TableManifest } from '../lib/manifest/table-manifest';
import { EdgeStack, edgeStackName } from './edge-stack';
import { DEFAULT_REGION, ReleaseStack, releaseStackName } from './release-stack';

export interface ReleaseSpec {
  /** `sha-<12 hex>` or `br-<slug>`, derived from `sha` or `branch` (see `releaseId`). */
  readonly releaseId: string;
  /** Exactly one of `sha` and `branch`. @default - none */
  readonly sha?: string;
  /** Exactly one of `sha` and `branch`. @default - none */
  readonly branch?: string;
  /** The baked AMI of this release. */
  readonly amiId: string;
}

export interface BuildAppProps {
  /** The CDK app to add the stacks to. */
  readonly app: cdk.App;
  /** The validated app configuration (`parseAppConfig`). */
  readonly config: AppConfig;
  /** The validated table manifest (`parseTableManifest`). */
  readonly tables: TableManifest;
  /** The releases to synthesize, one ReleaseStack each. */
  readonly releases: readonly ReleaseSpec[];
  /** Account and region of every stack. @default - region us-east-1, account unresolved (offline synth) */
  readonly env?: cdk.Environment;
  /** The team's own constructs in every release stack (its config's hook). @default - none */
  readonly extendReleaseStack?: ExtendReleaseStack;
}

export interface BuiltApp {
  readonly edge: EdgeStack;
  readonly releases: readonly ReleaseStack[];
}

/** Add the app's stacks and the cdk-nag checks to `props.app`. Construct ids are the stack names. */
export function buildApp(props: BuildAppProps): BuiltApp {
  const { app, config } = props;
  const env: cdk.Environment = { ...props.env, region: props.env?.region ?? DEFAULT_REGION };

  const edge = new EdgeStack(app, edgeStackName(config.app), {
    env,
    app: config.app,
    zoneName: config.zoneName,
    recordName: config.recordName,
  });

  const seen = new Set<string>();
  const releases = props.releases.map((r) => {
    if (seen.has(r.releaseId)) {
      throw userError(RELEASE_ID_INVALID, `release "${r.releaseId}" is listed twice`, { fix: 'list each release once' });
    }
    seen.add(r.releaseId);
    const stack = new ReleaseStack(app, releaseStackName(config.app, r.releaseId), {
      env,
      app: config.app,
      releaseId: r.releaseId,
      sha: r.sha,
      branch: r.branch,
      amiId: r.amiId,
      tables: props.tables,
      instanceType: config.instanceType,
      desiredCapacity: config.desiredCapacity,
    });
    props.extendReleaseStack?.(stack, { releaseId: r.releaseId, tables: stack.tables, instanceRole: stack.instanceRole });
    return stack;
  });

  cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app, {}));
  return { edge, releases };
}
