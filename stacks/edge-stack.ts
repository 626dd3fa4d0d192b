/**
 * EdgeStack: what outlives every release of one app — the public hosted zone, the ledger table
 * (release records, checkpoints, leases, audit history) and the artifact bucket (the tarballs the
 * AMI builders fetch, one object per content hash).
 *
 * The public record that the flip moves is deliberately NOT a CloudFormation resource here: the
 * flip UPSERTs it through the Route 53 API. If CloudFormation owned the record, the next deploy of
 * this stack would put back the value in the template — undoing a flip and sending traffic to a
 * release stack that may already be torn down.
 */
import * as cdk from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

export interface EdgeStackProps extends cdk.StackProps {
  /** The app name, e.g. `catalog`. */
  readonly app: string;
  /** The public hosted zone to create, e.g. `catalog.example.test`. */
  readonly zoneName: string;
  /** The record the flip UPSERTs (not created here). @default `www.<zoneName>` */
  readonly recordName?: string;
}

import { ledgerTableName } from '../lib/manifest/table-manifest';
import { EDGE_OUTPUTS, edgeStackName } from './stack-names';

export { EDGE_OUTPUTS, edgeStackName, ledgerTableName };

export class EdgeStack extends cdk.Stack {
  public readonly hostedZone: route53.PublicHostedZone;
  public readonly ledgerTable: dynamodb.Table;
  public readonly artifactBucket: s3.Bucket;
  public readonly recordName: string;

  public constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, { ...props, stackName: props.stackName ?? edgeStackName(props.app) });
    this.recordName = props.recordName ?? `www.${props.zoneName}`;

    this.hostedZone = new route53.PublicHostedZone(this, 'Zone', { zoneName: props.zoneName });

    this.ledgerTable = new dynamodb.Table(this, 'Ledger', {
      tableName: ledgerTableName(props.app),
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Leases and dead worker claims expire by themselves.
      timeToLiveAttribute: 'expiresAt',
      // The ledger is the history of every release: it survives the stack.
      removalPolicy: cdk.RemovalPolicy.RETAIN,
    });
    this.ledgerTable.addGlobalSecondaryIndex({
      indexName: 'byKind',
      partitionKey: { name: 'kind', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sortAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    this.artifactBucket = new s3.Bucket(this, 'Artifacts', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // A rollback re-bakes nothing, but a re-run of a past release's bake needs its tarball.
      removalPolicy: cdk.RemovalPolicy.RETAIN,
    });
    cdk.Validations.of(this.artifactBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'objects are immutable, content-addressed build outputs written by the release engine and read through short-lived presigned URLs; server access logs would need a second bucket for no decision anyone takes on them',
    });

    new cdk.CfnOutput(this, EDGE_OUTPUTS.hostedZoneId, { value: this.hostedZone.hostedZoneId });
    new cdk.CfnOutput(this, EDGE_OUTPUTS.zoneName, { value: props.zoneName });
    new cdk.CfnOutput(this, EDGE_OUTPUTS.recordName, { value: this.recordName });
    new cdk.CfnOutput(this, EDGE_OUTPUTS.ledgerTableName, { value: this.ledgerTable.tableName });
    new cdk.CfnOutput(this, EDGE_OUTPUTS.ledgerTableArn, { value: this.ledgerTable.tableArn });
    new cdk.CfnOutput(this, EDGE_OUTPUTS.artifactBucketName, { value: this.artifactBucket.bucketName });

    cdk.Tags.of(this).add('app', props.app);
  }
}
