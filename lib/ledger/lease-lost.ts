import { ReleaseError, toolError } from '../errors';

/** The code of the error every owner-conditional segment call throws once its lease is gone. */
export const LEASE_LOST = 'LEASE_LOST';

/**
 * True when `err` says a worker no longer holds a segment: another worker took it over (the lease
 * expired) or it was finished or failed already. The caller must stop touching that segment — its
 * new owner continues from the last checkpoint — and may claim another one.
 */
export function isLeaseLost(err: unknown): err is ReleaseError {
  return ReleaseError.isReleaseError(err) && err.code === LEASE_LOST;
}

export interface LeaseLostDetails {
  readonly jobId: string;
  readonly segment: number;
  /** The worker that called. */
  readonly owner: string;
  /** What it tried: `heartbeat`, `checkpoint`, `complete`, `fail`. */
  readonly action: string;
  /** The segment's state now, as read after the refusal. */
  readonly status: string;
  /** @default - nobody holds it */
  readonly currentOwner?: string;
}

export function leaseLost(d: LeaseLostDetails): ReleaseError {
  const now = d.status === 'IN_PROGRESS' && d.currentOwner ? `IN_PROGRESS, held by ${d.currentOwner}` : d.status;
  return toolError(LEASE_LOST, `${d.action} refused: segment ${d.segment} of copy job ${d.jobId} is no longer held by ${d.owner} (now ${now})`, {
    fix: 'stop working on this segment; whoever holds it now continues from its last checkpoint',
  });
}
