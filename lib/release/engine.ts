/**
 * What every verb works with: the release definition, the repository, the ledger, the deploy
 * target and the AWS clients, built once from configuration (endpoints come from the environment:
 * local AWS or a real account, no branches on which).
 */
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { S3Client } from '@aws-sdk/client-s3';
import type { KeyNames } from '../item/item';
import type { MigrationChain } from '../data/migrations/chain';
import { messageOf, userError } from '../errors';
import { createDeployTarget, StackDeployer, type DeployTarget, type TargetName } from '../infra';
import type { IoHost } from '../io';
import { createLedgerClient, Ledger } from '../ledger';
import { defaultStateDir } from '../local/paths';
import { ledgerTableName, physicalTableName, type TableSpec } from '../manifest/table-manifest';
import type { ReleaseSpec } from '../../stacks/app-builder';
import { EDGE_OUTPUTS, edgeStackName, RELEASE_OUTPUTS, releaseStackName } from '../../stacks/stack-names';
import type { ReleaseDefinition } from '../config/definition';
import { ReleaseStore, type ReleaseRecord } from '../ledger/release-records';

export interface ReleaseEngineProps {
  readonly ioHost: IoHost;
  readonly definition: ReleaseDefinition;
  /** The git repository releases are built from. @default process.cwd() */
  readonly repoDir?: string;
  /** Where stacks run. @default 'local' unless STACKSHIFT_TARGET=aws */
  readonly target?: TargetName;
  /** Artifacts, fleet records, logs; a relative path is from the working directory. @default $STACKSHIFT_LOCAL_STATE_DIR, else `<repoDir>/.stackshift/local` */
  readonly stateDir?: string;
  /** Now, epoch ms (leases, windows, TTLs). @default Date.now */
  readonly clock?: () => number;
}

export interface EdgeInfo {
  readonly hostedZoneId: string;
  readonly recordName: string;
  readonly ledgerTableName: string;
  /** Where release tarballs are published for the AMI builders. @default - none: an edge deployed before the bucket existed */
  readonly artifactBucketName?: string;
}

export class ReleaseEngine {
  public readonly io: IoHost;
  public readonly definition: ReleaseDefinition;
  public readonly repoDir: string;
  public readonly stateDir: string;
  public readonly target: DeployTarget;
  public readonly ledger: Ledger;
  public readonly store: ReleaseStore;
  public readonly dynamodb = new DynamoDBClient({});
  public readonly streams = new DynamoDBStreamsClient({});
  public readonly s3 = new S3Client({});
  /** The release stacks' load balancers: the write fence is a rule on their listeners. */
  public readonly elbv2 = new ElasticLoadBalancingV2Client({});
  public readonly clock: () => number;
  private readonly cloudformation = new CloudFormationClient({});
  private account?: Promise<string>;

  public constructor(props: ReleaseEngineProps) {
    this.io = props.ioHost;
    this.definition = props.definition;
    this.repoDir = path.resolve(props.repoDir ?? process.cwd());
    // Absolute: the sync daemons this engine launches run in the repository, not where the command ran.
    this.stateDir = path.resolve(props.stateDir ?? process.env.STACKSHIFT_LOCAL_STATE_DIR ?? defaultStateDir(this.repoDir));
    this.clock = props.clock ?? Date.now;
    const targetName = props.target ?? (process.env.STACKSHIFT_TARGET === 'aws' ? 'aws' : 'local');
    this.target = createDeployTarget(targetName, this.io, { stateDir: this.stateDir });
    this.ledger = new Ledger({ tableName: ledgerTableName(this.app), client: createLedgerClient(new DynamoDBClient({})), clock: this.clock });
    this.store = new ReleaseStore(this.ledger);
  }

  public get app(): string {
    return this.definition.config.app;
  }

  public nowIso(): string {
    return new Date(this.clock()).toISOString();
  }

  public get artifactStore(): string {
    return path.join(this.stateDir, 'artifacts');
  }

  public tableSpecs(): readonly TableSpec[] {
    return this.definition.tables.tables;
  }

  public keyNamesOf(spec: TableSpec): KeyNames {
    return { partitionKey: spec.partitionKey.name, ...(spec.sortKey ? { sortKey: spec.sortKey.name } : {}) };
  }

  public tableName(releaseId: string, logical: string): string {
    return physicalTableName(this.app, releaseId, logical);
  }

  /** The chain that turns `from`'s items of a table into `to`'s (up or down). */
  public chain(spec: TableSpec, from: ReleaseRecord, to: ReleaseRecord): MigrationChain {
    return this.definition.migrations.chain(spec.name, from.dataVersions[spec.name] ?? 1, to.dataVersions[spec.name] ?? 1, {
      keyNames: this.keyNamesOf(spec),
    });
  }

  public async accountId(): Promise<string> {
    this.account ??= new STSClient({}).send(new GetCallerIdentityCommand({})).then((r) => r.Account ?? '000000000000');
    return this.account;
  }

  /** A deployer whose app holds the edge and the given releases' stacks. */
  public async deployer(releases: readonly ReleaseSpec[]): Promise<StackDeployer> {
    const account = await this.accountId();
    return new StackDeployer({
      ioHost: this.io,
      target: this.target,
      // The constructs load only when a verb synthesizes: status and flips never do.
      defineApp: async (app) => {
        const { buildApp } = await import('../../stacks/app-builder');
        buildApp({ app, config: this.definition.config, tables: this.definition.tables, releases, env: { account }, extendReleaseStack: this.definition.extendReleaseStack });
      },
    });
  }

  /** The edge stack's outputs, or undefined when the app has never been deployed. */
  public async edge(): Promise<EdgeInfo | undefined> {
    const outputs = await this.stackOutputs(edgeStackName(this.app));
    if (!outputs) return undefined;
    return {
      hostedZoneId: outputs[EDGE_OUTPUTS.hostedZoneId],
      recordName: outputs[EDGE_OUTPUTS.recordName],
      ledgerTableName: outputs[EDGE_OUTPUTS.ledgerTableName],
      artifactBucketName: outputs[EDGE_OUTPUTS.artifactBucketName],
    };
  }

  /**
   * Bootstraps and deploys the edge stack (hosted zone, ledger, artifact bucket) the first time, and
   * again for an edge deployed before the artifact bucket existed; a no-op after.
   */
  public async ensureEdge(): Promise<EdgeInfo> {
    const existing = await this.edge();
    if (existing?.artifactBucketName) return existing;
    const deployer = await this.deployer([]);
    if (!existing) await deployer.bootstrap();
    await deployer.deploy([edgeStackName(this.app)]);
    const edge = await this.edge();
    if (!edge) throw userError('EDGE_MISSING', `stack ${edgeStackName(this.app)} reports no outputs after deploy`, { fix: 'check the CloudFormation console' });
    return edge;
  }

  /** The edge, or a user error saying that nothing was released yet. */
  public async requireEdge(): Promise<EdgeInfo> {
    const edge = await this.edge();
    if (!edge) {
      throw userError('APP_NOT_DEPLOYED', `app "${this.app}" has no edge stack (${edgeStackName(this.app)}) yet`, { fix: 'run `npm run release` first' });
    }
    return edge;
  }

  public async stackOutputs(stackName: string): Promise<Record<string, string> | undefined> {
    try {
      const r = await this.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
      const stack = (r.Stacks ?? []).find((s) => s.StackStatus !== 'DELETE_COMPLETE');
      if (!stack) return undefined;
      return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
    } catch (e) {
      if (/does not exist/.test(messageOf(e))) return undefined;
      throw e;
    }
  }

  /** The ReleaseSpec of a recorded release (what its stack was synthesized from). */
  public releaseSpec(record: ReleaseRecord): ReleaseSpec {
    const amiId = record.checkpoints.ami?.amiId;
    if (!amiId) throw userError('RELEASE_INCOMPLETE', `release ${record.releaseId} has no AMI yet`, { fix: `run \`npm run release\` for it again` });
    // A stack is named by exactly one of them: a branch stack records its commit but is the branch's.
    return { releaseId: record.releaseId, ...(record.branch ? { branch: record.branch } : { sha: record.sha }), amiId };
  }

  public stackName(releaseId: string): string {
    return releaseStackName(this.app, releaseId);
  }

  /** The release stack's load balancer DNS name. */
  public albDnsName(record: ReleaseRecord): string {
    const name = record.checkpoints.stack?.outputs[RELEASE_OUTPUTS.endpointDnsName];
    if (!name) throw userError('RELEASE_INCOMPLETE', `release ${record.releaseId} has no deployed stack`, { fix: 'run `npm run release` for it again' });
    return name;
  }

  /** The release's own endpoint (not the public record): where checks and health checks go. */
  public async baseUrlOf(record: ReleaseRecord): Promise<string> {
    const { host, port } = await this.target.endpointOf(this.albDnsName(record));
    return `http://${host}:${port}`;
  }

  /** The environment the app gets: `<TABLE>_TABLE` = the release's physical table name. */
  public appEnv(releaseId: string): Record<string, string> {
    return Object.fromEntries(this.tableSpecs().map((t) => [`${t.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_TABLE`, this.tableName(releaseId, t.name)]));
  }
}
