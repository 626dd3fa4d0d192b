/**
 * Retry policy for DynamoDB data-plane writes: capped exponential backoff with full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/) and the
 * classification of which errors are worth another attempt.
 */

export interface BackoffOptions {
  /** The delay bound of the first retry, in ms; it doubles with every attempt. @default 25 */
  readonly baseMs?: number;
  /** The largest delay bound, in ms. @default 2_000 */
  readonly capMs?: number;
  /** A number in [0, 1]; injectable so tests are deterministic. @default Math.random */
  readonly random?: () => number;
  /** Waits `ms`; injectable so tests do not wait. @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_BACKOFF_BASE_MS = 25;
export const DEFAULT_BACKOFF_CAP_MS = 2_000;

const timerSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Capped exponential backoff with full jitter: `delay = random(0, min(cap, base * 2^attempt))`. */
export class Backoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;
  private readonly sleepFn: (ms: number) => Promise<void>;

  public constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.capMs = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
    this.random = options.random ?? Math.random;
    this.sleepFn = options.sleep ?? timerSleep;
  }

  /** The delay before retry number `attempt` (0 for the first retry), in ms. */
  public delayMs(attempt: number): number {
    // 2 ** attempt becomes Infinity for huge attempts; min() caps it.
    const bound = Math.min(this.capMs, this.baseMs * 2 ** Math.max(0, attempt));
    return Math.min(bound, Math.max(0, this.random() * bound));
  }

  /** Sleeps for `delayMs` (nothing when it is 0). */
  public sleep(delayMs: number): Promise<void> {
    return delayMs > 0 ? this.sleepFn(delayMs) : Promise.resolve();
  }
}

/** Error names (`name` or `code`) that DynamoDB and the SDK use for throttling and transient faults. */
const RETRYABLE_NAMES: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  // A single-item write that collided with a transaction in progress on the same item.
  'TransactionConflictException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Node.js socket error codes of a connection that broke under us (worth a fresh attempt). */
const NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/**
 * True for throttling and transient errors: retrying the same request later can succeed.
 * Validation errors, conditional-check failures, a cancelled transaction (its reasons say which
 * items to retry), missing tables and aborts are not retryable.
 */
export function isRetryable(err: unknown): boolean {
  // The cause chain is followed a few levels: the SDK and undici wrap socket errors.
  let current: unknown = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const e = current as {
      name?: unknown;
      code?: unknown;
      message?: unknown;
      $metadata?: { httpStatusCode?: unknown };
      $retryable?: { throttling?: boolean };
      cause?: unknown;
    };
    if (typeof e.name === 'string' && RETRYABLE_NAMES.has(e.name)) return true;
    if (typeof e.code === 'string' && (RETRYABLE_NAMES.has(e.code) || NETWORK_CODES.has(e.code))) return true;
    if (typeof e.message === 'string' && /socket hang up/i.test(e.message)) return true;
    const status = e.$metadata?.httpStatusCode;
    if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
    if (e.$retryable?.throttling === true) return true;
    current = e.cause;
  }
  return false;
}
