/**
 * The phase of a release: a pure function of its record and the app state (DESIGN.md, "Release
 * state"). Nothing stores a phase, so nothing can disagree with the checkpoints.
 */
import type { AppState, ReleaseRecord } from '../ledger/release-records';

export type Phase = 'Created' | 'InProgress' | 'Ready' | 'Promoting' | 'Live' | 'Previous' | 'RolledBack' | 'TearingDown' | 'TornDown' | 'Failed';

export function phaseOf(record: ReleaseRecord, app: Pick<AppState, 'live' | 'previous'>): Phase {
  const c = record.checkpoints;
  if (c.tornDown) return 'TornDown';
  if (c.teardown) return 'TearingDown';
  const promoting = record.intent.verb === 'promote' && !c.promoted && !c.promoteAbortedAt;
  if (app.live === record.releaseId) return promoting ? 'Promoting' : 'Live';
  if (c.failed) return 'Failed';
  if (promoting) return 'Promoting';
  if (c.rolledBackAt && (!c.promoted || c.rolledBackAt >= c.promoted.at)) return 'RolledBack';
  if (c.promoted) return 'Previous';
  if (c.readyAt) return 'Ready';
  return Object.keys(record.steps).length === 0 ? 'Created' : 'InProgress';
}

/** Phases in which a release may be promoted (READY, or rolled back and still synced). */
export function isPromotable(phase: Phase): boolean {
  return phase === 'Ready' || phase === 'RolledBack' || phase === 'Promoting';
}
