/**
 * One mutating command per app at a time (DESIGN.md, "Release state"): a lease in the ledger
 * (pk `APP`, sk `LOCK`) taken with a conditional write, renewed by a heartbeat, and free once its
 * expiry passes — so a holder killed with -9 blocks others for one lease period at most.
 * A second command is refused with the holder's name, command and since when.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { userError } from '../errors';
import { isRunning } from '../local/processes';
import { APP_LOCK_KEY } from './keys';
import type { Ledger } from './ledger';

export const LOCK_HELD = 'LOCK_HELD';

export interface LockHolder {
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  readonly token: string;
  readonly command: string;
  readonly since: string;
  readonly expiresAtMs: number;
}

export interface AppLockProps {
  readonly ledger: Ledger;
  /** What the holder runs, shown to whoever is refused, e.g. `promote sha-0123456789ab`. */
  readonly command: string;
  /** Lease length; a dead holder blocks others this long at most. @default 30000 */
  readonly leaseMs?: number;
  /** Heartbeat period. @default leaseMs / 3 */
  readonly heartbeatMs?: number;
}

const LOCK_KEY = APP_LOCK_KEY;

/** The person and machine a command runs as: `user@host`. */
export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep "unknown"
  }
  return `${user}@${hostname()}`;
}

export class AppLock {
  private readonly token = randomBytes(8).toString('hex');
  private readonly leaseMs: number;
  private timer?: NodeJS.Timeout;
  private lost?: Error;

  public constructor(private readonly props: AppLockProps) {
    this.leaseMs = props.leaseMs ?? 30_000;
  }

  /**
   * Takes the lock or throws LOCK_HELD naming the holder; then keeps it alive until `release`.
   * A lock held by a process of this machine that no longer runs (killed with -9) is taken over at
   * once: a re-run after a crash continues without waiting for the lease to expire.
   */
  public async acquire(): Promise<void> {
    if (!(await this.tryPut())) {
      const holder = await this.holder();
      const dead = holder && holder.host === hostname() && holder.pid !== process.pid && !isRunning(holder.pid);
      if (!dead || !(await this.tryPut(holder.token))) {
        throw userError(
          LOCK_HELD,
          `another command holds the app lock: "${holder?.command ?? '?'}" by ${holder?.owner ?? '?'} since ${holder?.since ?? '?'}`,
          { fix: `wait for it to finish (a lock whose holder died frees itself within ${Math.ceil(this.leaseMs / 1000)} s) and run this again` },
        );
      }
    }
    this.timer = setInterval(() => void this.renew(), this.props.heartbeatMs ?? Math.floor(this.leaseMs / 3));
    this.timer.unref();
  }

  /** Puts the lock if it is free, expired, or (takeover) still holds `staleToken`. */
  private async tryPut(staleToken?: string): Promise<boolean> {
    const { ledger } = this.props;
    const now = ledger.now();
    try {
      await ledger.client.send(
        new PutCommand({
          TableName: ledger.tableName,
          Item: {
            ...LOCK_KEY,
            token: this.token,
            owner: `${whoAmI()} pid ${process.pid}`,
            host: hostname(),
            pid: process.pid,
            command: this.props.command,
            since: ledger.nowIso(),
            expiresAtMs: now + this.leaseMs,
          },
          ConditionExpression: staleToken ? '#token = :stale' : 'attribute_not_exists(pk) OR expiresAtMs < :now',
          ExpressionAttributeNames: staleToken ? { '#token': 'token' } : undefined,
          ExpressionAttributeValues: staleToken ? { ':stale': staleToken } : { ':now': now },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  /** Throws if a heartbeat found the lock taken by someone else (after an expiry). */
  public check(): void {
    if (this.lost) throw this.lost;
  }

  public async release(): Promise<void> {
    clearInterval(this.timer);
    const { ledger } = this.props;
    try {
      await ledger.client.send(
        new DeleteCommand({
          TableName: ledger.tableName,
          Key: LOCK_KEY,
          ConditionExpression: '#token = :t',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':t': this.token },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }

  public async holder(): Promise<LockHolder | undefined> {
    const { ledger } = this.props;
    const out = await ledger.client.send(new GetCommand({ TableName: ledger.tableName, Key: LOCK_KEY, ConsistentRead: true }));
    return out.Item as LockHolder | undefined;
  }

  private async renew(): Promise<void> {
    const { ledger } = this.props;
    try {
      await ledger.client.send(
        new UpdateCommand({
          TableName: ledger.tableName,
          Key: LOCK_KEY,
          UpdateExpression: 'SET expiresAtMs = :e',
          ConditionExpression: '#token = :t',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':t': this.token, ':e': ledger.now() + this.leaseMs },
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        clearInterval(this.timer);
        this.lost = userError(LOCK_HELD, 'the app lock was taken over by another command (this one stalled past its lease)', { fix: 'check `status` and run the command again' });
      }
      // Other errors: the next heartbeat tries again; the lease outlives two missed beats.
    }
  }

  /** Runs `fn` holding the lock. */
  public static async with<T>(props: AppLockProps, fn: (lock: AppLock) => Promise<T>): Promise<T> {
    const lock = new AppLock(props);
    await lock.acquire();
    try {
      return await fn(lock);
    } finally {
      await lock.release();
    }
  }
}
