/**
 * ReleaseStack: one immutable, self-contained stack per release (a commit sha or a branch):
 * network, an internet-facing ALB, an Auto Scaling group of the release's baked AMI, and the
 * release's own copy of every table in the manifest.
 *
 * No Lambda-backed custom resources anywhere: the local CloudFormation (moto) never completes them,
 * and a release must deploy the same way locally and on AWS. So: no `autoDeleteObjects`, no
 * `AwsCustomResource`, no `restrictDefaultSecurityGroup`, no ASG lifecycle hooks backed by Lambda.
 */
import * as cdk from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { userError } from '../lib/errors';
import {
  RELEASE_ID_INVALID,
  RELEASE_ID_PATTERN,
  physicalTableName,
  releaseIdFromBranch,
  releaseIdFromSha,
  tablePascalName,
  type KeyAttribute,
  type TableManifest,
  type TableSpec,
} from '../lib/manifest/table-manifest';
import { DEFAULT_REGION, RELEASE_OUTPUTS, releaseStackName } from './stack-names';

export const AMI_ID_INVALID = 'AMI_ID_INVALID';

export interface ReleaseStackProps extends cdk.StackProps {
  /** The app name (prefix of stack and table names), e.g. `catalog`. */
  readonly app: string;
  /** `sha-<12 hex>` or `br-<slug>`; must match `sha` or `branch`. */
  readonly releaseId: string;
  /** The commit this release is built from. Exactly one of `sha` and `branch` is set. @default - none (a branch release) */
  readonly sha?: string;
  /** The branch this release is built from. Exactly one of `sha` and `branch` is set. @default - none (a sha release) */
  readonly branch?: string;
  /** The baked AMI id; written literally into the launch template. */
  readonly amiId: string;
  /** The parsed table manifest (`parseTableManifest`). */
  readonly tables: TableManifest;
  /** EC2 instance type of the fleet. @default t3.micro */
  readonly instanceType?: string;
  /** Instances in the fleet (also its minimum; the maximum is twice this). @default 2 */
  readonly desiredCapacity?: number;
  /** The VPC's CIDR block. @default 10.0.0.0/16 */
  readonly vpcCidr?: string;
  /** The port the app listens on inside the instances. @default 80 */
  readonly appPort?: number;
  /**
   * The AMI's root device name, mapped to an encrypted volume. It must match the baked AMI
   * (Amazon Linux: `/dev/xvda`; Ubuntu: `/dev/sda1`), or the root stays unencrypted.
   * @default /dev/xvda
   */
  readonly rootDeviceName?: string;
  /** Root volume size in GiB; at least the AMI's snapshot size. @default 16 */
  readonly rootVolumeSizeGiB?: number;
}

export { DEFAULT_REGION, RELEASE_OUTPUTS, releaseStackName };

export class ReleaseStack extends cdk.Stack {
  public readonly vpc: ec2.Vpc;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  public readonly instanceRole: iam.Role;
  /** The release's tables by logical name. */
  public readonly tables: ReadonlyMap<string, dynamodb.Table>;

  public constructor(scope: Construct, id: string, props: ReleaseStackProps) {
    checkReleaseProps(props);
    const region = props.env?.region ?? DEFAULT_REGION;
    super(scope, id, {
      ...props,
      env: { ...props.env, region },
      stackName: props.stackName ?? releaseStackName(props.app, props.releaseId),
    });

    const appPort = props.appPort ?? 80;
    const desired = props.desiredCapacity ?? 2;

    // Network: public subnets only, no NAT gateway. A NAT gateway costs more per hour than the whole
    // default fleet and every branch gets its own stack; the instances take public IPs for egress
    // but accept traffic only from the ALB's security group, and DynamoDB traffic stays on the
    // AWS network through a (free) gateway endpoint.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.vpcCidr ?? '10.0.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      // The default (true) adds a Lambda-backed custom resource; the default security group is unused here.
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
    });
    // Rejected traffic only: enough to debug security groups, cheap at this volume.
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogGroup', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    // Tables: this release's own copies, named literally so that other components (the data sync,
    // the local target) read the names from the template without deploying it.
    const tables = new Map<string, dynamodb.Table>();
    for (const spec of props.tables.tables) {
      tables.set(spec.name, this.addTable(props.app, props.releaseId, spec));
    }
    this.tables = tables;

    // Fleet: least-privilege role, read/write on this release's tables and nothing else.
    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `instances of ${props.app} release ${props.releaseId}`,
    });
    for (const table of tables.values()) table.grantReadWriteData(this.instanceRole);

    const instanceSg = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: this.vpc,
      description: 'release instances: ingress only from the load balancer',
      allowAllOutbound: true,
    });
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      // The literal AMI id for this (fixed) region: no lookup, no SSM parameter.
      machineImage: ec2.MachineImage.genericLinux({ [region]: props.amiId }),
      instanceType: new ec2.InstanceType(props.instanceType ?? 't3.micro'),
      role: this.instanceRole,
      securityGroup: instanceSg,
      requireImdsv2: true,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: props.rootDeviceName ?? '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeSizeGiB ?? 16, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Asg', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: desired,
      maxCapacity: desired * 2,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: cdk.Duration.minutes(2),
      }),
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: this.vpc,
      internetFacing: true,
      dropInvalidHeaderFields: true,
    });
    const listener = this.loadBalancer.addListener('Http', { port: 80, open: true });
    listener.addTargets('Fleet', {
      port: appPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.autoScalingGroup],
      deregistrationDelay: cdk.Duration.seconds(30),
      healthCheck: {
        path: '/healthz',
        healthyHttpCodes: '200',
        interval: cdk.Duration.seconds(15),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });

    new cdk.CfnOutput(this, RELEASE_OUTPUTS.endpointDnsName, { value: this.loadBalancer.loadBalancerDnsName });
    new cdk.CfnOutput(this, RELEASE_OUTPUTS.albArn, { value: this.loadBalancer.loadBalancerArn });
    new cdk.CfnOutput(this, RELEASE_OUTPUTS.asgName, { value: this.autoScalingGroup.autoScalingGroupName });

    cdk.Tags.of(this).add('app', props.app);
    cdk.Tags.of(this).add('release-id', props.releaseId);
    if (props.sha !== undefined) cdk.Tags.of(this).add('sha', props.sha);
    if (props.branch !== undefined) cdk.Tags.of(this).add('branch', props.branch);

    this.acknowledgeNagRules(props.tables);
  }

  /**
   * cdk-nag (AwsSolutions) findings accepted on purpose, each on the narrowest construct and with
   * its reason. Everything cheap is fixed in the constructs above instead (PITR, flow logs,
   * encrypted root volume, IMDSv2, detailed monitoring, ELB health checks, invalid-header drop).
   */
  private acknowledgeNagRules(manifest: TableManifest): void {
    cdk.Validations.of(this.loadBalancer).acknowledge(
      {
        id: 'AwsSolutions-EC23',
        reason: 'the release endpoint is a public website: the load balancer accepts port 80 from anywhere; the instances accept traffic only from the load balancer',
      },
      {
        id: 'AwsSolutions-ELB2',
        reason:
          'access logs need an S3 bucket; a release stack is disposable and may not use autoDeleteObjects (a Lambda custom resource), so a per-release log bucket would block teardown or be orphaned',
      },
    );
    cdk.Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'the orchestrator watches the fleet through the ALB target health and the Auto Scaling API; an SNS topic per disposable release stack would have no subscriber',
    });
    // grantReadWriteData covers `<table arn>/index/*` so the app can query its own tables' indexes;
    // the wildcard is below this release's own table ARN, not a wildcard over tables.
    for (const spec of manifest.tables) {
      if (!spec.globalSecondaryIndexes?.length) continue;
      const cfnTable = this.tables.get(spec.name)!.node.defaultChild as dynamodb.CfnTable;
      cdk.Validations.of(this.instanceRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(cfnTable)}.Arn>/index/*]`,
        reason: `query access to the indexes of this release's own table "${spec.name}"; no other table`,
      });
    }
  }

  private addTable(app: string, releaseId: string, spec: TableSpec): dynamodb.Table {
    const table = new dynamodb.Table(this, `Table${tablePascalName(spec.name)}`, {
      tableName: physicalTableName(app, releaseId, spec.name),
      partitionKey: attribute(spec.partitionKey),
      sortKey: spec.sortKey && attribute(spec.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      stream: spec.stream ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
      timeToLiveAttribute: spec.timeToLiveAttribute,
      // A release stack is disposable: teardown takes an on-demand backup of each table first,
      // then destroys the stack, so the tables go with it.
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    for (const gsi of spec.globalSecondaryIndexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: attribute(gsi.partitionKey),
        sortKey: gsi.sortKey && attribute(gsi.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    new cdk.CfnOutput(this, RELEASE_OUTPUTS.tableName(spec.name), { value: table.tableName });
    new cdk.CfnOutput(this, RELEASE_OUTPUTS.tableArn(spec.name), { value: table.tableArn });
    if (spec.stream) {
      // tableStreamArn is set whenever a stream is configured.
      new cdk.CfnOutput(this, RELEASE_OUTPUTS.tableStreamArn(spec.name), { value: table.tableStreamArn! });
    }
    return table;
  }
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  const type = { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER, B: dynamodb.AttributeType.BINARY }[key.type];
  return { name: key.name, type };
}

/** Props are checked before any construct exists, so a bad value is one user error line. */
function checkReleaseProps(props: ReleaseStackProps): void {
  if ((props.sha === undefined) === (props.branch === undefined)) {
    throw userError(RELEASE_ID_INVALID, `release ${props.releaseId} needs exactly one of sha and branch`, {
      fix: 'pass either a sha or a branch',
    });
  }
  if (!RELEASE_ID_PATTERN.test(props.releaseId)) {
    throw userError(RELEASE_ID_INVALID, `invalid release id "${props.releaseId}"`, {
      fix: 'derive it with releaseId({ sha }) or releaseId({ branch })',
    });
  }
  const expected = props.sha !== undefined ? releaseIdFromSha(props.sha) : releaseIdFromBranch(props.branch!);
  if (expected !== props.releaseId) {
    throw userError(RELEASE_ID_INVALID, `release id "${props.releaseId}" does not match ${props.sha !== undefined ? `sha "${props.sha}"` : `branch "${props.branch}"`}`, {
      fix: `use "${expected}"`,
    });
  }
  if (!/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(props.amiId)) {
    throw userError(AMI_ID_INVALID, `invalid AMI id "${props.amiId}"`, { fix: 'pass the id of the baked AMI, such as "ami-0123456789abcdef0"' });
  }
}
