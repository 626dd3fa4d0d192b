import type { ReleaseRecord } from '../ledger/release-records';
import type { Phase } from './phase';

/** What a verb returns: the release it worked on, its phase after, and its record. */
export interface VerbResult {
  readonly releaseId: string;
  readonly phase: Phase;
  readonly record: ReleaseRecord;
}
