/**
 * Shared target keys this worker has already written, with their content hash. The sources of one
 * shared item usually sit next to each other in scan order (the example's channel copies share a
 * partition), so most repeats are answered here without a conditional write. Bounded: the oldest
 * entries go first; a miss only costs one conditional write, never correctness.
 */
export class WrittenHashes {
  private readonly entries = new Map<string, string>();

  public constructor(private readonly capacity = 100_000) {}

  public get(key: string): string | undefined {
    return this.entries.get(key);
  }

  public set(key: string, hash: string): void {
    this.entries.delete(key);
    this.entries.set(key, hash);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
