/**
 * The stacks' names and output ids, apart from their constructs: the engine reads these on every
 * verb, and loading the CDK construct library costs a verb that deploys nothing about a second.
 */
import { tablePascalName } from '../lib/manifest/table-manifest';

/** The region a stack deploys to when its environment names none. */
export const DEFAULT_REGION = 'us-east-1';

/** The CloudFormation stack name of an app's edge: `${app}-edge`. */
export function edgeStackName(app: string): string {
  return `${app}-edge`;
}

/** Edge output logical ids; stable, because the engine reads outputs by these names. */
export const EDGE_OUTPUTS = {
  hostedZoneId: 'HostedZoneId',
  zoneName: 'ZoneName',
  recordName: 'RecordName',
  ledgerTableName: 'LedgerTableName',
  ledgerTableArn: 'LedgerTableArn',
  artifactBucketName: 'ArtifactBucketName',
} as const;

/** The CloudFormation stack name of one release: `${app}-release-${releaseId}`. */
export function releaseStackName(app: string, releaseId: string): string {
  return `${app}-release-${releaseId}`;
}

/** Release output logical ids; stable, because the engine reads outputs by these names. */
export const RELEASE_OUTPUTS = {
  endpointDnsName: 'EndpointDnsName',
  albArn: 'AlbArn',
  asgName: 'AsgName',
  tableName: (logicalName: string) => `Table${tablePascalName(logicalName)}Name`,
  tableArn: (logicalName: string) => `Table${tablePascalName(logicalName)}Arn`,
  tableStreamArn: (logicalName: string) => `Table${tablePascalName(logicalName)}StreamArn`,
} as const;
