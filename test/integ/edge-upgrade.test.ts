/**
 * An edge stack deployed before the artifact bucket existed (an earlier version of stackshift) is
 * updated by the next release's ensureEdge, which then knows the bucket.
 */
import { randomBytes } from 'node:crypto';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDeployTarget, StackDeployer } from '../../lib/infra';
import { RecordingIoHost } from '../../lib/io';
import { parseAppConfig } from '../../lib/manifest/app-config';
import { ReleaseEngine } from '../../lib/release/engine';
import { definition } from '../_helpers/catalog';
import { buildApp } from '../../stacks/app-builder';
import { EDGE_OUTPUTS, edgeStackName } from '../../stacks/edge-stack';

describe('ensureEdge', () => {
  it('updates an edge that has no artifact bucket, and leaves a current one alone', async () => {
    // GIVEN an app whose edge was deployed without the artifact bucket and its output
    const io = new RecordingIoHost();
    const app = `eu${randomBytes(3).toString('hex')}`;
    const config = parseAppConfig({ app, zoneName: `${app}.example.test` });
    const account = (await new STSClient({}).send(new GetCallerIdentityCommand({}))).Account;
    const old = new StackDeployer({
      ioHost: io,
      target: createDeployTarget('local', io),
      defineApp: (cdkApp) => {
        const { edge } = buildApp({ app: cdkApp, config, tables: definition.tables, releases: [], env: { account } });
        edge.node.tryRemoveChild('Artifacts');
        edge.node.tryRemoveChild(EDGE_OUTPUTS.artifactBucketName);
      },
    });
    await old.bootstrap();
    await old.deploy([edgeStackName(app)]);
    const engine = new ReleaseEngine({ ioHost: io, definition: { ...definition, config }, stateDir: inject('localStateDir') });
    const before = await engine.edge();
    expect(before).toBeDefined();
    expect(before!.artifactBucketName).toBeUndefined();

    // WHEN a release makes sure of the edge
    const after = await engine.ensureEdge();

    // THEN the edge has its bucket now, the rest unchanged
    expect(after).toMatchObject({ hostedZoneId: before!.hostedZoneId, ledgerTableName: before!.ledgerTableName });
    expect(after.artifactBucketName).toBeTruthy();
    await new S3Client({}).send(new HeadBucketCommand({ Bucket: after.artifactBucketName }));
    // AND a second call deploys nothing
    const deploys = io.codes().length;
    expect(await engine.ensureEdge()).toEqual(after);
    expect(io.codes().length).toBe(deploys);
  }, 180_000);
});
