import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** A document client on the test's DynamoDB Local that counts its calls by command. */
export function countingClient(): { readonly doc: DynamoDBDocumentClient; readonly calls: Record<string, number>; total(): number } {
  const base = new DynamoDBClient({});
  const calls: Record<string, number> = {};
  base.middlewareStack.add(
    (next, context) => async (args) => {
      calls[context.commandName as string] = (calls[context.commandName as string] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return {
    doc: DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } }),
    calls,
    total: () => Object.values(calls).reduce((n, c) => n + c, 0),
  };
}
