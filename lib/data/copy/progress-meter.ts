/**
 * Items per second over a sliding window, and an estimate of the table's item count from scan
 * progress: segments that finished give exact counts; the average of those stands for the rest.
 * DynamoDB's ItemCount (refreshed every ~6 h on AWS) is only the prior before any segment finishes.
 */
export class ProgressMeter {
  private readonly samples: Array<{ t: number; n: number }> = [];

  public constructor(
    private readonly windowMs = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  public record(done: number): void {
    const t = this.clock();
    this.samples.push({ t, n: done });
    while (this.samples.length > 2 && this.samples[0].t < t - this.windowMs) this.samples.shift();
  }

  /** Units per second over the window, or undefined before two samples. */
  public rate(): number | undefined {
    if (this.samples.length < 2) return undefined;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    return b.t > a.t ? ((b.n - a.n) * 1000) / (b.t - a.t) : undefined;
  }
}

export interface TotalEstimateInput {
  readonly totalSegments: number;
  readonly completedSegments: number;
  readonly itemsInCompletedSegments: number;
  readonly itemsReadSoFar: number;
  readonly approximateItemCount: number;
}

export function estimateTotal(i: TotalEstimateInput): number {
  if (i.completedSegments === 0) return Math.max(i.itemsReadSoFar, i.approximateItemCount);
  if (i.completedSegments === i.totalSegments) return i.itemsReadSoFar;
  const perSegment = i.itemsInCompletedSegments / i.completedSegments;
  const fromSegments = Math.round(i.itemsInCompletedSegments + perSegment * (i.totalSegments - i.completedSegments));
  return Math.max(i.itemsReadSoFar, fromSegments);
}
