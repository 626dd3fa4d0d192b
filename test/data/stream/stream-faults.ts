/**
 * Fault injection for DynamoDB Streams calls on a REAL client (DynamoDB Local behind it), in the
 * pattern of test/data/write/fault-injection.ts: a middleware at the top of the client's stack
 * (initialize step, above the SDK's own retries) that throws a service exception for chosen calls
 * of one command without sending them.
 */
import { ExpiredIteratorException, LimitExceededException, TrimmedDataAccessException } from '@aws-sdk/client-dynamodb-streams';
import type { InitializeHandlerArguments, InitializeHandlerOutput, MiddlewareStack } from '@smithy/types';

export type StreamFault = 'expired' | 'throttled' | 'trimmed';

export interface StreamFaultOptions {
  /** The command to fault, e.g. 'GetRecordsCommand'. */
  readonly command: 'GetRecordsCommand' | 'GetShardIteratorCommand' | 'DescribeStreamCommand';
  readonly fault: StreamFault;
  /** 1-based numbers of the calls of `command` that fail. */
  readonly calls: readonly number[];
}

export interface StreamFaults {
  /** Calls of the command seen, and how many were failed. */
  readonly stats: { calls: number; injected: number };
  remove(): void;
}

let counter = 0;

function exception(fault: StreamFault): Error {
  const $metadata = { httpStatusCode: 400 };
  switch (fault) {
    case 'expired':
      return new ExpiredIteratorException({ message: 'injected fault: the shard iterator has expired', $metadata });
    case 'throttled':
      return new LimitExceededException({ message: 'injected fault: rate exceeded for shard', $metadata });
    case 'trimmed':
      return new TrimmedDataAccessException({ message: 'injected fault: the data is beyond the trim horizon', $metadata });
  }
}

/** Adds the fault-injecting middleware to `client` (a DynamoDBStreamsClient). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function injectStreamFaults(client: { middlewareStack: MiddlewareStack<any, any> }, options: StreamFaultOptions): StreamFaults {
  const name = `stackshiftStreamFault${++counter}`;
  const stats = { calls: 0, injected: 0 };
  const failing = new Set(options.calls);
  client.middlewareStack.add(
    (next, context) =>
      async (args: InitializeHandlerArguments<object>): Promise<InitializeHandlerOutput<object>> => {
        if (context.commandName !== options.command) return next(args);
        stats.calls++;
        if (!failing.has(stats.calls)) return next(args);
        stats.injected++;
        throw exception(options.fault);
      },
    { step: 'initialize', priority: 'high', name, override: true },
  );
  return { stats, remove: () => void client.middlewareStack.remove(name) };
}
