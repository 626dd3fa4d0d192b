import {
  DeleteCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { toolError } from '../../errors';
import { keyString, type KeyNames } from '../../item/item';
import { Backoff, isRetryable } from '../retry';
import { Limiter } from '../write/limiter';
import { MicroBatcher } from './micro-batch';

/** One conditional Put, Update or Delete, in TransactWriteItems' shape. */
export type ConditionalWrite =
  | { readonly Put: NonNullable<TransactItem['Put']> }
  | { readonly Update: NonNullable<TransactItem['Update']> }
  | { readonly Delete: NonNullable<TransactItem['Delete']> };

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface ConditionalWritesProps {
  readonly client: DynamoDBDocumentClient;
  /** Key attributes of the tables written (to keep two writes of one item out of one transaction). */
  readonly keyNames: KeyNames;
  /** Writes per TransactWriteItems call, 2 to 100. @default 25 */
  readonly groupSize?: number;
  /** Calls in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Calls in a row without progress (throttled, conflicting) before SYNC_WRITE_EXHAUSTED. @default 12 */
  readonly maxAttempts?: number;
}

/** Cancellation reason codes worth sending the write again after a backoff. */
const RETRY_REASONS: ReadonlySet<string> = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/**
 * Conditional writes of the stream apply (stamp-then-delete, guarded replaces), each answering
 * "done" (true) or "its condition failed" (false) exactly as its own PutItem / UpdateItem /
 * DeleteItem call would, but coalesced: the writes lanes make at the same time (micro-batch.ts)
 * go as TransactWriteItems groups, a lone one as its own call. A transaction is all or nothing, so
 * a group cancelled by one write's failed condition is sent again without it; two writes of one
 * item in one flush go in successive rounds (they came from different lanes: either order is one
 * the lanes could have taken). On AWS a transactional write costs twice the write units of a
 * plain one: the price of one round trip for many records instead of one each.
 */
export class ConditionalWrites {
  private readonly client: DynamoDBDocumentClient;
  private readonly keyNames: KeyNames;
  private readonly groupSize: number;
  private readonly maxAttempts: number;
  private readonly limiter: Limiter;
  private readonly backoff = new Backoff();
  private readonly batcher: MicroBatcher<ConditionalWrite, boolean>;

  public constructor(props: ConditionalWritesProps) {
    this.client = props.client;
    this.keyNames = props.keyNames;
    this.groupSize = props.groupSize ?? 25;
    this.maxAttempts = props.maxAttempts ?? 12;
    if (!Number.isInteger(this.groupSize) || this.groupSize < 2 || this.groupSize > 100) {
      throw toolError('SYNC_BAD_OPTION', `groupSize must be an integer from 2 to 100 (TransactWriteItems' limit), got ${props.groupSize}`);
    }
    this.limiter = new Limiter(props.concurrency ?? 16);
    this.batcher = new MicroBatcher((writes) => this.writeAll(writes));
  }

  /** True when written, false when its condition failed. Rejects when DynamoDB kept refusing. */
  public write(write: ConditionalWrite): Promise<boolean> {
    return this.batcher.submit(write);
  }

  private async writeAll(writes: readonly ConditionalWrite[]): Promise<boolean[]> {
    const outcomes = new Array<boolean>(writes.length);
    // Round r holds each item's r-th write: no transaction names one item twice.
    const rounds: number[][] = [];
    const seen = new Map<string, number>();
    writes.forEach((w, i) => {
      const id = this.itemId(w);
      const round = seen.get(id) ?? 0;
      seen.set(id, round + 1);
      (rounds[round] ??= []).push(i);
    });
    for (const round of rounds) {
      const groups: Array<Promise<void>> = [];
      for (let i = 0; i < round.length; i += this.groupSize) groups.push(this.writeGroup(writes, round.slice(i, i + this.groupSize), outcomes));
      const settled = await Promise.allSettled(groups);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    }
    return outcomes;
  }

  private async writeGroup(writes: readonly ConditionalWrite[], group: readonly number[], outcomes: boolean[]): Promise<void> {
    let pending = group;
    for (let retry = 0, stalled = 0; ; ) {
      let error: unknown;
      await this.limiter.acquire();
      try {
        if (pending.length === 1) await sendSingle(this.client, writes[pending[0]!]!);
        else await this.client.send(new TransactWriteCommand({ TransactItems: pending.map((i) => writes[i]!) }));
      } catch (err) {
        error = err ?? new Error('the write was rejected without an error');
      } finally {
        this.limiter.release();
      }
      if (error === undefined) {
        for (const i of pending) outcomes[i] = true;
        return;
      }

      let next: number[];
      let progress = false;
      let throttled = false;
      if (isNamed(error, 'ConditionalCheckFailedException') && pending.length === 1) {
        outcomes[pending[0]!] = false;
        return;
      } else if (isNamed(error, 'TransactionCanceledException')) {
        const reasons = (error as { CancellationReasons?: Array<{ Code?: string; Message?: string }> }).CancellationReasons;
        if (!reasons || reasons.length !== pending.length) throw error;
        next = [];
        for (let k = 0; k < pending.length; k++) {
          const code = reasons[k]!.Code ?? 'None';
          if (code === 'ConditionalCheckFailed') {
            outcomes[pending[k]!] = false;
            progress = true;
          } else if (code === 'None') {
            next.push(pending[k]!); // cancelled only because a sibling's condition failed
          } else if (RETRY_REASONS.has(code)) {
            next.push(pending[k]!);
            throttled = true;
          } else {
            throw toolError('SYNC_WRITE_REJECTED', `a conditional write of the stream apply was refused: ${code}: ${reasons[k]!.Message ?? 'no message'}`, { cause: error });
          }
        }
      } else if (isRetryable(error)) {
        next = [...pending];
        throttled = true;
      } else {
        throw error;
      }
      if (next.length === 0) return;
      pending = next;
      // Writes cancelled only because a sibling's condition failed go again at once; throttling,
      // or a round that settled nothing, backs off and counts towards maxAttempts.
      if (progress && !throttled) continue;
      stalled = progress ? 0 : stalled + 1;
      if (stalled >= this.maxAttempts) {
        throw toolError('SYNC_WRITE_EXHAUSTED', `${pending.length} conditional writes of the stream apply got no answer but throttling after ${stalled} attempts`, {
          cause: error,
          fix: "raise the target table's write capacity, then start the sync again (it resumes from its checkpoints)",
        });
      }
      await this.backoff.sleep(this.backoff.delayMs(retry++));
    }
  }

  private itemId(w: ConditionalWrite): string {
    const [table, key] = 'Put' in w ? [w.Put.TableName, w.Put.Item] : 'Update' in w ? [w.Update.TableName, w.Update.Key] : [w.Delete.TableName, w.Delete.Key];
    return `${table ?? ''}\u0001${keyString(key ?? {}, this.keyNames)}`;
  }
}

/** The write as its own call. */
function sendSingle(client: DynamoDBDocumentClient, w: ConditionalWrite): Promise<unknown> {
  if ('Put' in w) return client.send(new PutCommand(w.Put));
  if ('Update' in w) return client.send(new UpdateCommand(w.Update));
  return client.send(new DeleteCommand(w.Delete));
}

function isNamed(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}
