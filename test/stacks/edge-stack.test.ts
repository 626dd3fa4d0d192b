import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../lib/manifest/app-config';
import { parseTableManifest } from '../../lib/manifest/table-manifest';
import { buildApp } from '../../stacks/app-builder';
import { edgeStackName, type EdgeStack } from '../../stacks/edge-stack';

describe('EdgeStack', () => {
  let app: cdk.App;
  let edge: EdgeStack;
  let template: Template;

  beforeAll(() => {
    // GIVEN an app built with a custom record name (synth runs cdk-nag: it throws on findings)
    app = new cdk.App();
    edge = buildApp({
      app,
      config: parseAppConfig({ app: 'catalog', zoneName: 'catalog.example.test', recordName: 'shop.catalog.example.test' }),
      tables: parseTableManifest({ tables: [{ name: 'products', partitionKey: { name: 'pk', type: 'S' } }] }),
      releases: [],
    }).edge;
    template = Template.fromStack(edge);
  });

  it('is named after the app', () => {
    // THEN
    expect(edge.stackName).toBe('catalog-edge');
    expect(edgeStackName('shop')).toBe('shop-edge');
  });

  it('creates the public hosted zone and no record in it', () => {
    // THEN the zone exists
    template.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'catalog.example.test.' });
    template.resourceCountIs('AWS::Route53::HostedZone', 1);
    // AND the flipped record is not owned by CloudFormation (a redeploy would undo a flip)
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.resourceCountIs('AWS::Route53::RecordSetGroup', 0);
  });

  it('creates the ledger table, retained, with PITR, TTL and the byKind index', () => {
    // THEN
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        TableName: 'catalog-ledger',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byKind',
            KeySchema: [
              { AttributeName: 'kind', KeyType: 'HASH' },
              { AttributeName: 'sortAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    });
  });

  it('outputs the zone, the record name and the ledger', () => {
    // THEN
    template.hasOutput('HostedZoneId', { Value: { Ref: Match.stringLikeRegexp('^Zone') } });
    template.hasOutput('ZoneName', { Value: 'catalog.example.test' });
    template.hasOutput('RecordName', { Value: 'shop.catalog.example.test' });
    template.hasOutput('LedgerTableName', { Value: { Ref: Match.stringLikeRegexp('^Ledger') } });
    template.hasOutput('LedgerTableArn', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Ledger'), 'Arn'] } });
  });

  it('creates the artifact bucket: private, encrypted, TLS only, retained, named in an output', () => {
    // THEN
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasOutput('ArtifactBucketName', { Value: { Ref: Match.stringLikeRegexp('^Artifacts') } });
  });

  it('tags its resources with the app', () => {
    // THEN
    template.hasResourceProperties('AWS::DynamoDB::Table', { Tags: [{ Key: 'app', Value: 'catalog' }] });
    template.hasResourceProperties('AWS::Route53::HostedZone', { HostedZoneTags: [{ Key: 'app', Value: 'catalog' }] });
  });

  it('contains no custom resource and no Lambda function', () => {
    // THEN
    const types = Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(types.filter((t) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource' || t.startsWith('AWS::Lambda::'))).toEqual([]);
  });

  it('has no cdk-nag finding', () => {
    // WHEN / THEN
    expect(new AwsSolutionsChecks().validateScope(edge).violations).toEqual([]);
  });
});
