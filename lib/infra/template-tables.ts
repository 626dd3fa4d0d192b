import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { toolError } from '../errors';

/** The subset of a synthesized CloudFormation template this module reads. */
export interface TemplateLike {
  readonly Resources?: Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>;
}

/**
 * Reads the AWS::DynamoDB::Table resources of a synthesized template as CreateTable inputs.
 * Table names must be literal strings in the template (stacks/ sets them so): a name that is a
 * CloudFormation token cannot be known before deploy, so it is refused here.
 */
export function tablesInTemplate(template: TemplateLike): CreateTableCommandInput[] {
  const out: CreateTableCommandInput[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const p = resource.Properties ?? {};
    if (typeof p.TableName !== 'string') {
      throw toolError('INFRA_TABLE_NAME_TOKEN', `table ${logicalId} has no literal TableName (got ${JSON.stringify(p.TableName)})`, {
        fix: 'give every table a literal tableName in stacks/',
      });
    }
    const stream = p.StreamSpecification as { StreamViewType?: string } | undefined;
    const gsis = p.GlobalSecondaryIndexes as Array<Record<string, unknown>> | undefined;
    out.push({
      TableName: p.TableName,
      AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
      KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
      BillingMode: 'PAY_PER_REQUEST',
      ...(stream?.StreamViewType
        ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType as 'NEW_AND_OLD_IMAGES' } }
        : {}),
      ...(gsis?.length
        ? {
            GlobalSecondaryIndexes: gsis.map((g) => ({
              IndexName: g.IndexName as string,
              KeySchema: g.KeySchema as NonNullable<CreateTableCommandInput['KeySchema']>,
              Projection: g.Projection as { ProjectionType: 'ALL' },
            })),
          }
        : {}),
    });
  }
  return out;
}
