/**
 * A counting semaphore: at most `limit` holders at once, waiters served first come, first served.
 * A writer owns one and every call to it goes through it, so callers writing at the same time
 * share the limit: when the table is slow, their writes queue here (the backpressure).
 */
export class Limiter {
  private active = 0;
  /** Waiters from `head` on; the array is compacted when half of it is served. */
  private waiters: Array<() => void> = [];
  private head = 0;

  public constructor(public readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** How many hold a slot now. */
  public get inFlight(): number {
    return this.active;
  }

  /** Takes a slot when one is free, without waiting. */
  public tryAcquire(): boolean {
    if (this.active < this.limit && this.head === this.waiters.length) {
      this.active++;
      return true;
    }
    return false;
  }

  /** Waits for a slot. Pair every acquire with one `release()`. */
  public acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  public release(): void {
    if (this.head < this.waiters.length) {
      // The slot passes straight to the next waiter: `active` stays the same.
      const next = this.waiters[this.head]!;
      this.head++;
      if (this.head === this.waiters.length) {
        this.waiters.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      next();
      return;
    }
    this.active--;
  }
}
