import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toolError } from '../errors';
import type { IoHost } from '../io';
import type { DeployTarget, Endpoint, ReleaseProcessSpec, SynthesizedStack } from './deploy-target';
import { LocalFleet } from './local-fleet';
import { MirroredTablesTarget } from './mirrored-tables-target';

export interface LocalTargetProps {
  readonly ioHost: IoHost;
  /** Where the fleet records its processes (the local AWS state directory). */
  readonly stateDir: string;
  /** @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
  /** See MirroredTablesTarget. @default true */
  readonly deferStreams?: boolean;
}

/**
 * Local AWS, the one adapter where it differs from AWS: the stack's tables are served by DynamoDB
 * Local (moto's copies are unused), and the app that the Auto Scaling group would launch from the
 * AMI runs as a local process on a loopback port, found through its load balancer's DNS name.
 */
export class LocalTarget implements DeployTarget {
  public readonly name = 'local' as const;
  /** moto's EC2 runs no user data: its builders never power off. */
  public readonly bakeWaitsForShutdown = false;
  private readonly tables: MirroredTablesTarget;
  private readonly fleet: LocalFleet;

  public constructor(props: LocalTargetProps) {
    this.tables = new MirroredTablesTarget({ ioHost: props.ioHost, dynamodb: props.dynamodb, deferStreams: props.deferStreams ?? true });
    this.fleet = new LocalFleet({ ioHost: props.ioHost, stateDir: props.stateDir });
  }

  public afterDeploy(stack: SynthesizedStack): Promise<void> {
    return this.tables.afterDeploy(stack);
  }

  public afterDestroy(stack: SynthesizedStack): Promise<void> {
    return this.tables.afterDestroy(stack);
  }

  public async runRelease(spec: ReleaseProcessSpec): Promise<void> {
    if (!spec.artifactPath) {
      throw toolError('ARTIFACT_MISSING', `release ${spec.releaseId} has no extracted artifact to run locally (a Docker image cannot run without a Docker engine)`);
    }
    await this.fleet.start({
      releaseId: spec.releaseId,
      albDnsName: spec.albDnsName,
      appEntry: path.join(spec.artifactPath, spec.appEntry),
      env: { ...spec.env },
    });
  }

  public async stopRelease(releaseId: string): Promise<void> {
    await this.fleet.stop(releaseId);
  }

  public async endpointOf(dnsName: string): Promise<Endpoint> {
    return this.fleet.endpointOf(dnsName);
  }
}
