import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployTarget, StackDeployer } from '../../lib/infra';
import { ensureStream } from '../../lib/release/ensure-streams';
import { IO, RecordingIoHost } from '../../lib/io';
import { parseAppConfig } from '../../lib/manifest/app-config';
import { physicalTableName, releaseIdFromSha } from '../../lib/manifest/table-manifest';
import { tables } from '../_helpers/catalog';
import { buildApp } from '../../stacks/app-builder';
import { EDGE_OUTPUTS, edgeStackName } from '../../stacks/edge-stack';
import { RELEASE_OUTPUTS, releaseStackName } from '../../stacks/release-stack';

// GIVEN local AWS (moto for CloudFormation & co, DynamoDB Local for tables), started by the global setup
const appName = `it${randomBytes(3).toString('hex')}`;
const sha = randomBytes(20).toString('hex');
const releaseId = releaseIdFromSha(sha);
const config = parseAppConfig({ app: appName, zoneName: `${appName}.example.test` });
const edgeName = edgeStackName(appName);
const releaseName = releaseStackName(appName, releaseId);

const cfn = new CloudFormationClient({});
const dynamodb = new DynamoDBClient({});
const streams = new DynamoDBStreamsClient({});

async function tableStatus(name: string): Promise<string | 'GONE'> {
  try {
    const r = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
    return r.Table?.TableStatus ?? 'UNKNOWN';
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return 'GONE';
    throw e;
  }
}

async function stackStatus(name: string): Promise<string | 'GONE'> {
  try {
    const r = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    const status = r.Stacks?.[0]?.StackStatus ?? 'GONE';
    return status === 'DELETE_COMPLETE' ? 'GONE' : status;
  } catch (e) {
    if (e instanceof Error && /does not exist/.test(e.message)) return 'GONE';
    throw e;
  }
}

describe('deploy and destroy through the CDK toolkit on local AWS', () => {
  const io = new RecordingIoHost();
  let deployer: StackDeployer;

  // The toolkit synthesizes into the system's temp directory: this file gets one of its own, so
  // what its syntheses leave there can be counted (the test files that run beside it have theirs).
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'deploy-destroy-'));

  beforeAll(async () => {
    process.env.TMPDIR = tempDir;
    const account = (await new STSClient({}).send(new GetCallerIdentityCommand({}))).Account;
    deployer = new StackDeployer({
      ioHost: io,
      target: createDeployTarget('local', io),
      defineApp: (app) =>
        buildApp({ app, config, tables, releases: [{ releaseId, sha, amiId: 'ami-0123456789abcdef0' }], env: { account } }),
    });
    await deployer.bootstrap();
  });
  afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

  let albArn = '';

  it('deploys the edge stack and a release stack, with outputs and tables', async () => {
    // WHEN
    const deployed = await deployer.deploy([edgeName, releaseName]);

    // THEN: both stacks report their outputs
    const byName = new Map(deployed.map((d) => [d.stackName, d.outputs]));
    const release = byName.get(releaseName)!;
    const edge = byName.get(edgeName)!;
    expect(release[RELEASE_OUTPUTS.endpointDnsName]).toBeTruthy();
    albArn = release[RELEASE_OUTPUTS.albArn];
    expect(albArn).toMatch(/^arn:aws:elasticloadbalancing:/);
    expect(release[RELEASE_OUTPUTS.tableName('products')]).toBe(physicalTableName(appName, releaseId, 'products'));
    expect(release[RELEASE_OUTPUTS.tableStreamArn('products')]).toMatch(/stream/);
    expect(edge[EDGE_OUTPUTS.ledgerTableName]).toBe(`${appName}-ledger`);
    expect(edge[EDGE_OUTPUTS.hostedZoneId]).toBeTruthy();
    expect(io.withCode(IO.INFRA_I1001.code).map((m) => (m.data as { stack: string }).stack).sort()).toEqual(
      [edgeName, releaseName].sort(),
    );

    // THEN: the stack's tables are served by the engine's DynamoDB endpoint, their streams deferred
    // (the local target leaves them to the engine's ensureStream, which turns on what is declared)
    for (const t of tables.tables) {
      const name = physicalTableName(appName, releaseId, t.name);
      const d = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
      expect(d.Table?.TableStatus).toBe('ACTIVE');
      expect(d.Table?.StreamSpecification?.StreamEnabled ?? false).toBe(false);
      if (t.stream) {
        expect(await ensureStream({ dynamodb, streams }, name)).toBe('enabled');
        const after = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
        expect(after.Table?.StreamSpecification?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
        expect(await ensureStream({ dynamodb, streams }, name)).toBe('present');
      }
    }
    expect(await tableStatus(`${appName}-ledger`)).toBe('ACTIVE');
    expect(await stackStatus(releaseName)).toBe('CREATE_COMPLETE');
  });

  it('re-deploying an unchanged release is a no-op for its tables (crash-safe re-run)', async () => {
    // WHEN
    await deployer.deploy([releaseName]);
    // THEN: the local target found the tables already there
    const actions = io.withCode<{ table: string; action: string }>(IO.INFRA_I1005.code).slice(-tables.tables.length);
    expect(actions.map((a) => a.data!.action)).toEqual(tables.tables.map(() => 'exists'));
  });

  it('diff of a deployed, unchanged release shows no changes', async () => {
    const [diff] = await deployer.diff([releaseName]);
    expect(diff).toEqual({ stackName: releaseName, changes: 0, resources: [] });
  });

  it('destroys the release stack and leaves nothing of it', async () => {
    // WHEN
    await deployer.destroy([releaseName]);

    // THEN: the stack and every one of its tables are gone; the edge stack and ledger stay
    expect(await stackStatus(releaseName)).toBe('GONE');
    for (const t of tables.tables) {
      expect(await tableStatus(physicalTableName(appName, releaseId, t.name))).toBe('GONE');
    }
    expect(await stackStatus(edgeName)).toBe('CREATE_COMPLETE');
    expect(await tableStatus(`${appName}-ledger`)).toBe('ACTIVE');

    // THEN: CloudFormation's own resources went too: the load balancer, and the copies of the tables
    // that moto's CloudFormation made in moto's DynamoDB (DESIGN.md: DynamoDB Local serves the engine)
    const elb = new ElasticLoadBalancingV2Client({});
    const lbs = await elb.send(new DescribeLoadBalancersCommand({}));
    expect((lbs.LoadBalancers ?? []).map((lb) => lb.LoadBalancerArn)).not.toContain(albArn);
    const motoDynamo = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL });
    const motoTables = (await motoDynamo.send(new ListTablesCommand({}))).TableNames ?? [];
    expect(motoTables.filter((n) => n.startsWith(`${appName}-${releaseId}-`))).toEqual([]);
    expect(motoTables).toContain(`${appName}-ledger`);
  });

  it('leaves no synthesized assembly behind in the temp directory', () => {
    // GIVEN the bootstrap, deploys, diff and destroy above, each of which synthesized
    // THEN none of their cdk.out directories is left (aws/aws-cdk-cli#802: the toolkit kept them)
    expect(os.tmpdir()).toBe(tempDir);
    expect(readdirSync(tempDir).filter((n) => n.startsWith('cdk.out'))).toEqual([]);
  });
});
