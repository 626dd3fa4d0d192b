import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../errors';
import type { Ledger } from './ledger';

/** BatchWriteItem's limit of requests per call. */
const BATCH_SIZE = 25;

export interface BatchPutOptions {
  /** Calls per chunk before giving up on items DynamoDB keeps returning unprocessed. @default 8 */
  readonly maxAttempts?: number;
  /** First backoff; doubled per retry, capped at 5 s, with full jitter. @default 50 */
  readonly baseDelayMs?: number;
}

/**
 * Puts ledger records with BatchWriteItem, 25 at a time. Unprocessed items are retried with capped
 * exponential backoff and full jitter, never dropped: when they are still unprocessed after
 * `maxAttempts` calls, this throws. Puts are unconditional: use it only for records nobody else can
 * have written yet.
 */
export async function batchPut(
  ledger: Ledger,
  records: readonly Record<string, NativeAttributeValue>[],
  options: BatchPutOptions = {},
): Promise<void> {
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 50;
  for (let start = 0; start < records.length; start += BATCH_SIZE) {
    let pending = records.slice(start, start + BATCH_SIZE).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > maxAttempts) {
        throw toolError('LEDGER_BATCH_UNPROCESSED', `${pending.length} ledger records stayed unprocessed after ${maxAttempts} batch writes to ${ledger.tableName}`, {
          fix: 'the ledger table is throttled; run the command again, it resumes',
        });
      }
      if (attempt > 1) await sleep(Math.random() * Math.min(5000, baseDelayMs * 2 ** (attempt - 2)));
      const out = await ledger.client.send(new BatchWriteCommand({ RequestItems: { [ledger.tableName]: pending } }));
      pending = (out.UnprocessedItems?.[ledger.tableName] ?? []).flatMap((r) =>
        r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : [],
      );
    }
  }
}
