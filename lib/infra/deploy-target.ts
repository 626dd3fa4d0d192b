import type { TemplateLike } from './template-tables';

/** A stack as synthesized: what a target needs to act after CloudFormation has. */
export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: TemplateLike;
}

/**
 * Where a release's stacks run. On AWS, CloudFormation owns everything and a target has nothing
 * to add. On local AWS, some parts live outside CloudFormation's emulator (the DynamoDB tables are
 * served by DynamoDB Local, which has real multi-shard streams). That difference lives here, in
 * one adapter chosen by configuration — never in `if (local)` branches in the engine.
 */
export interface DeployTarget {
  readonly name: 'aws' | 'local';
  /**
   * Whether an AMI bake waits for its builder to power itself off, the bake script's signal that it
   * finished. False where builders run no user data (moto), so they never would.
   */
  readonly bakeWaitsForShutdown: boolean;
  /** Called after CloudFormation reports the stack deployed. Idempotent. */
  afterDeploy(stack: SynthesizedStack): Promise<void>;
  /** Called after CloudFormation reports the stack destroyed. Idempotent. */
  afterDestroy(stack: SynthesizedStack): Promise<void>;
  /** Makes the release's app serve behind its load balancer. Idempotent. */
  runRelease(spec: ReleaseProcessSpec): Promise<void>;
  /** Stops what `runRelease` started. Idempotent. */
  stopRelease(releaseId: string): Promise<void>;
  /** Where a load balancer's DNS name is reached from this machine. */
  endpointOf(dnsName: string): Promise<Endpoint>;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ReleaseProcessSpec {
  readonly releaseId: string;
  /** The release stack's load balancer DNS name (its `EndpointDnsName` output). */
  readonly albDnsName: string;
  /** The extracted artifact's directory, when the release has one. @default - none (a Docker image) */
  readonly artifactPath?: string;
  /** The app's entry point relative to the artifact's root, e.g. `examples/catalog/server.ts`. */
  readonly appEntry: string;
  /** Environment of the app: the release's table names. */
  readonly env: Readonly<Record<string, string>>;
}

/** Real AWS: CloudFormation created the tables; nothing else to do. */
export class CloudFormationTarget implements DeployTarget {
  public readonly name = 'aws' as const;
  public readonly bakeWaitsForShutdown = true;
  public async afterDeploy(): Promise<void> {}
  public async afterDestroy(): Promise<void> {}
  /** The Auto Scaling group launches the baked AMI: nothing to start. */
  public async runRelease(): Promise<void> {}
  public async stopRelease(): Promise<void> {}
  /** The ALB answers HTTP on its DNS name. */
  public async endpointOf(dnsName: string): Promise<Endpoint> {
    return { host: dnsName, port: 80 };
  }
}
