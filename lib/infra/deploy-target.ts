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
  /** Called after CloudFormation reports the stack deployed. Idempotent. */
  afterDeploy(stack: SynthesizedStack): Promise<void>;
  /** Called after CloudFormation reports the stack destroyed. Idempotent. */
  afterDestroy(stack: SynthesizedStack): Promise<void>;
}

/** Real AWS: CloudFormation created the tables; nothing else to do. */
export class CloudFormationTarget implements DeployTarget {
  public readonly name = 'aws' as const;
  public async afterDeploy(): Promise<void> {}
  public async afterDestroy(): Promise<void> {}
}
