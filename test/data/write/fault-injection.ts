/**
 * Fault injection for BatchWriteItem on a REAL client (DynamoDB Local behind it): a middleware at
 * the top of the client's stack that, for a share of the calls, either
 * - sends only the first half of each table's requests and returns the second half as
 *   UnprocessedItems without sending it (what DynamoDB does under throttling), or
 * - throws a ProvisionedThroughputExceededException without sending anything.
 *
 * It sits in the initialize step, before lib-dynamodb marshals the input and after it unmarshals
 * the output, so the requests it returns are in the form the caller used (native items for a
 * DynamoDBDocumentClient, AttributeValues for a DynamoDBClient). It is above the SDK's retry
 * middleware too: the injected throttling reaches the caller's own retry logic.
 */
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { InitializeHandlerArguments, InitializeHandlerOutput, MiddlewareStack } from '@smithy/types';

export interface BatchWriteFaultOptions {
  /** The share of BatchWriteItem calls that get a fault, 0 to 1. @default 0.2 */
  readonly rate?: number;
  /** Of the faulted calls, the share that throw instead of returning UnprocessedItems. @default 0.5 */
  readonly throwShare?: number;
  /** Random numbers in [0, 1); pass a seeded one for a reproducible run. @default Math.random */
  readonly random?: () => number;
}

export interface BatchWriteFaults {
  /** BatchWriteItem calls seen / answered with UnprocessedItems / failed with throttling. */
  readonly stats: { calls: number; unprocessedCalls: number; unprocessedItems: number; throttled: number };
  /** Takes the middleware off the client's stack. */
  remove(): void;
}

const NAME = 'stackshiftBatchWriteFaultInjection';

type WriteRequests = Record<string, unknown[]>;
type BatchWriteInput = { RequestItems?: WriteRequests };
type BatchWriteOutput = { UnprocessedItems?: WriteRequests };

/** Adds the fault-injecting middleware to `client` (a DynamoDBClient, or a DynamoDBDocumentClient: they share one stack). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function injectBatchWriteFaults(client: { middlewareStack: MiddlewareStack<any, any> }, options: BatchWriteFaultOptions = {}): BatchWriteFaults {
  const rate = options.rate ?? 0.2;
  const throwShare = options.throwShare ?? 0.5;
  const random = options.random ?? Math.random;
  const stats = { calls: 0, unprocessedCalls: 0, unprocessedItems: 0, throttled: 0 };

  client.middlewareStack.add(
    (next, context) =>
      async (args: InitializeHandlerArguments<object>): Promise<InitializeHandlerOutput<object>> => {
        if (context.commandName !== 'BatchWriteItemCommand') return next(args);
        stats.calls++;
        if (random() >= rate) return next(args);

        if (random() < throwShare) {
          stats.throttled++;
          throw new ProvisionedThroughputExceededException({
            message: 'injected fault: the level of configured provisioned throughput for the table was exceeded',
            $metadata: { httpStatusCode: 400 },
          });
        }

        const input = args.input as BatchWriteInput;
        const sent: WriteRequests = {};
        const held: WriteRequests = {};
        for (const [table, requests] of Object.entries(input.RequestItems ?? {})) {
          const half = Math.ceil(requests.length / 2);
          if (half > 0) sent[table] = requests.slice(0, half);
          if (requests.length > half) held[table] = requests.slice(half);
          stats.unprocessedItems += requests.length - half;
        }
        stats.unprocessedCalls++;
        const result = await next({ ...args, input: { ...input, RequestItems: sent } });
        const output = result.output as BatchWriteOutput;
        const unprocessed: WriteRequests = { ...(output.UnprocessedItems ?? {}) };
        for (const [table, requests] of Object.entries(held)) unprocessed[table] = [...(unprocessed[table] ?? []), ...requests];
        return { ...result, output: { ...output, UnprocessedItems: unprocessed } };
      },
    { step: 'initialize', priority: 'high', name: NAME, override: true },
  );

  return { stats, remove: () => void client.middlewareStack.remove(NAME) };
}
