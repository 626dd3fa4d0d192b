import { describe, expect, it } from 'vitest';
import { Backoff, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, isRetryable } from '../../lib/data/retry';

describe('Backoff', () => {
  it('keeps every delay within [0, cap] whatever the random number and the attempt', () => {
    // GIVEN the default base and cap, and random numbers at both ends and in between
    for (const r of [0, 1e-9, 0.25, 0.5, 0.999_999, 1]) {
      const backoff = new Backoff({ random: () => r });
      for (let attempt = 0; attempt < 80; attempt++) {
        // WHEN the delay is computed
        const delay = backoff.delayMs(attempt);
        // THEN it is within [0, min(cap, base * 2^attempt)]
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(DEFAULT_BACKOFF_CAP_MS, DEFAULT_BACKOFF_BASE_MS * 2 ** attempt));
      }
    }
  });

  it('doubles the bound with each attempt until the cap (random = 1)', () => {
    // GIVEN random pinned to its top
    const backoff = new Backoff({ random: () => 1 });

    // WHEN the delays of the first attempts are computed
    const delays = Array.from({ length: 10 }, (_, attempt) => backoff.delayMs(attempt));

    // THEN they are the bounds 25 * 2^attempt, capped at 2 s
    expect(delays).toEqual([25, 50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    expect(backoff.delayMs(1_000_000)).toBe(2000);
  });

  it('takes its base and cap from the options and jitters over the full range', () => {
    // GIVEN base 10 ms, cap 100 ms, random 0.5 then 0
    const half = new Backoff({ baseMs: 10, capMs: 100, random: () => 0.5 });
    const zero = new Backoff({ baseMs: 10, capMs: 100, random: () => 0 });

    // THEN the delay is half the bound, and 0 at the bottom of the range
    expect([0, 1, 2, 3, 4].map((a) => half.delayMs(a))).toEqual([5, 10, 20, 40, 50]);
    expect(zero.delayMs(5)).toBe(0);
  });

  it('sleeps through the injected sleep, and not at all for a zero delay', async () => {
    // GIVEN a recording sleep
    const slept: number[] = [];
    const backoff = new Backoff({ sleep: async (ms) => void slept.push(ms) });

    // WHEN it sleeps 0 ms and then 30 ms
    await backoff.sleep(0);
    await backoff.sleep(30);

    // THEN only the 30 ms sleep reached it
    expect(slept).toEqual([30]);
  });
});

describe('isRetryable', () => {
  const named = (name: string, extra: object = {}) => Object.assign(new Error(`${name} happened`), { name, ...extra });

  it.each([
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'RequestLimitExceeded',
    'InternalServerError',
    'ServiceUnavailable',
    'TransactionConflictException',
    'TimeoutError',
  ])('retries %s', (name) => {
    expect(isRetryable(named(name))).toBe(true);
  });

  it('retries 5xx responses and network resets', () => {
    expect(isRetryable(named('UnknownError', { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isRetryable(named('Whatever', { $metadata: { httpStatusCode: 500 } }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe(true);
    expect(isRetryable(new Error('socket hang up'))).toBe(true);
    // a reset wrapped by the HTTP layer
    expect(isRetryable(new Error('request failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }))).toBe(true);
  });

  it.each([
    ['ValidationException', 400],
    ['ConditionalCheckFailedException', 400],
    ['TransactionCanceledException', 400],
    ['ResourceNotFoundException', 400],
    ['AccessDeniedException', 403],
    ['AbortError', undefined],
  ])('does not retry %s', (name, status) => {
    expect(isRetryable(named(name, { $metadata: { httpStatusCode: status } }))).toBe(false);
  });

  it('does not retry non-errors', () => {
    expect(isRetryable(undefined)).toBe(false);
    expect(isRetryable(null)).toBe(false);
    expect(isRetryable('ThrottlingException')).toBe(false);
    expect(isRetryable(new Error('ECONNREFUSED'))).toBe(false);
  });
});
