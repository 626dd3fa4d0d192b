import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { IO, type IoHost } from '../io';
import type { DeployTarget, SynthesizedStack } from './deploy-target';
import { tablesInTemplate } from './template-tables';

export interface MirroredTablesTargetProps {
  readonly ioHost: IoHost;
  /** Client for the DynamoDB endpoint the engine uses. @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
  /** Longest wait for one table to become ACTIVE or disappear. @default 120 */
  readonly waitSeconds?: number;
  /**
   * Create tables without their declared streams; the release engine enables a table's stream when
   * it first needs it (ensureStreams): at promote, so a release's stream does not hold the copy's
   * writes, which the reverse sync would read from the trim horizon only to skip. @default false
   */
  readonly deferStreams?: boolean;
}

/**
 * The local target: after CloudFormation (moto) deploys a stack, create the stack's tables, as the
 * template declares them, in the DynamoDB endpoint the engine is configured with (DynamoDB Local);
 * after destroy, delete them. moto's CloudFormation also creates its own copies in moto's DynamoDB;
 * those are unused and go with the stack.
 */
export class MirroredTablesTarget implements Pick<DeployTarget, 'afterDeploy' | 'afterDestroy'> {
  private readonly dynamodb: DynamoDBClient;
  private readonly ioHost: IoHost;
  private readonly maxWaitTime: number;
  private readonly deferStreams: boolean;

  public constructor(props: MirroredTablesTargetProps) {
    this.ioHost = props.ioHost;
    this.dynamodb = props.dynamodb ?? new DynamoDBClient({});
    this.maxWaitTime = props.waitSeconds ?? 120;
    this.deferStreams = props.deferStreams ?? false;
  }

  public async afterDeploy(stack: SynthesizedStack): Promise<void> {
    const ttl = ttlAttributes(stack);
    for (const input of tablesInTemplate(stack.template)) {
      const name = input.TableName!;
      let action: 'created' | 'exists' = 'created';
      try {
        await this.dynamodb.send(new CreateTableCommand(this.deferStreams ? { ...input, StreamSpecification: undefined } : input));
      } catch (e) {
        if (!(e instanceof ResourceInUseException)) throw e;
        action = 'exists'; // a re-run after a crash: the table is already there
      }
      await waitUntilTableExists({ client: this.dynamodb, maxWaitTime: this.maxWaitTime }, { TableName: name });
      const ttlAttribute = ttl.get(name);
      if (ttlAttribute && action === 'created') {
        await this.dynamodb.send(
          new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { Enabled: true, AttributeName: ttlAttribute } }),
        );
      }
      IO.INFRA_I1005.emit(this.ioHost, `table ${name} ${action}`, { table: name, action });
    }
  }

  public async afterDestroy(stack: SynthesizedStack): Promise<void> {
    for (const input of tablesInTemplate(stack.template)) {
      const name = input.TableName!;
      if (!(await this.exists(name))) continue;
      try {
        await this.dynamodb.send(new DeleteTableCommand({ TableName: name }));
      } catch (e) {
        if (!(e instanceof ResourceNotFoundException)) throw e;
      }
      await waitUntilTableNotExists({ client: this.dynamodb, maxWaitTime: this.maxWaitTime }, { TableName: name });
      IO.INFRA_I1005.emit(this.ioHost, `table ${name} deleted`, { table: name, action: 'deleted' });
    }
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await this.dynamodb.send(new DescribeTableCommand({ TableName: name }));
      return true;
    } catch (e) {
      if (e instanceof ResourceNotFoundException) return false;
      throw e;
    }
  }
}

function ttlAttributes(stack: SynthesizedStack): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of Object.values(stack.template.Resources ?? {})) {
    if (r.Type !== 'AWS::DynamoDB::Table') continue;
    const spec = r.Properties?.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (spec?.Enabled && spec.AttributeName && typeof r.Properties?.TableName === 'string') {
      out.set(r.Properties.TableName, spec.AttributeName);
    }
  }
  return out;
}
