/** Message codes of the release orchestrator (lib/release). A code never changes meaning. */
import { make } from '../io/messages';

const info = <T = undefined>(code: string, d: string) => make<T>('info')(code, d);
const warn = <T = undefined>(code: string, d: string) => make<T>('warn')(code, d);

interface CutOverData {
  readonly releaseId: string;
  readonly fromReleaseId: string;
  readonly toReleaseId: string;
  readonly writePauseMs: number;
  readonly drainMs: number;
}

interface Pair {
  readonly direction: string;
  readonly sourceReleaseId: string;
  readonly targetReleaseId: string;
}

export const RELEASE_IO = {
  STEP_I3100: info<{ releaseId: string; verb: string; step: string }>('STEP_I3100', 'a step of a verb started'),
  STEP_I3101: info<{ releaseId: string; verb: string; step: string; seconds: number; detail?: Record<string, unknown> }>('STEP_I3101', 'a step of a verb finished'),
  STEP_I3102: info<{ releaseId: string; verb: string; step: string }>('STEP_I3102', 'a step was already done (checkpoint found): skipped'),
  STEP_W3103: warn<{ releaseId: string; verb: string; step: string; code: string }>('STEP_W3103', 'a step failed; its failure is recorded and a re-run retries it'),
  RELEASE_I3110: info<{ releaseId: string; phase: string }>('RELEASE_I3110', 'a verb finished: the release is in this phase'),
  RELEASE_I3111: info<{ releaseId: string; table: string; lagMs: number; caughtUp: boolean }>('RELEASE_I3111', 'waiting for a sync to catch up'),
  RELEASE_I3118: info<{ releaseId: string; table: string; cleared: number; checked: number }>('RELEASE_I3118', "copy dead letters from a shared-item race were cleared: the forward sync had carried their keys"),
  RELEASE_I3112: info<{ releaseId: string; gates: readonly { name: string; ok: boolean; detail: string }[] }>('RELEASE_I3112', 'promotion gates evaluated'),
  RELEASE_I3113: info<{ releaseId: string; check: string; ok: boolean }>('RELEASE_I3113', 'a release check ran'),
  RELEASE_I3114: info<{ stack: string; releaseId: string; kind: string }>('RELEASE_I3114', 'a branch stack was collected by gc'),
  RELEASE_I3115: info<{ table: string; backupArn: string }>('RELEASE_I3115', 'an on-demand backup of a table was taken before teardown'),
  RELEASE_I3116: info<{ table: string; file: string; reason: string }>('RELEASE_I3116', 'where the endpoint has no on-demand backups (DynamoDB Local), a table is exported to a file instead'),
  RELEASE_I3119: info<{ releaseId: string; heldReleaseId: string }>('RELEASE_I3119', 'a cut-over holds writes on the stack that took them, while its sync drains to the other'),
  RELEASE_I3120: info<CutOverData>('RELEASE_I3120', 'a cut-over moved writes to the other stack: how long writes were held'),
  RELEASE_I3121: info<{ releaseId: string; heldReleaseId: string; error: string }>('RELEASE_I3121', 'a cut-over could not drain its sync; writes go back to the stack that took them'),
  RELEASE_W3123: warn<{ releaseId: string; writesOn: string; error: string }>('RELEASE_W3123', 'a failed flip could not move writes back to the live release: they stay on the new one, which the live one redirects to'),
  RELEASE_I3122: info<{ releaseId: string; mode: string; guarantee: string }>('RELEASE_I3122', 'how a promote or rollback moves writes (fenced or two writers), and what that guarantees'),
  RELEASE_I3117: info<{ releaseId: string; aborted: readonly string[] }>('RELEASE_I3117', 'an interrupted promote was undone: all traffic is back on the live release'),
  SYNC_I3001: info<Pair & { pid: number }>('SYNC_I3001', 'a sync daemon started'),
  SYNC_W3002: warn<Pair>('SYNC_W3002', 'a sync daemon could not write its status this beat'),
  SYNC_I3003: info<Pair & { pid: number }>('SYNC_I3003', 'a sync daemon stopped'),
  SYNC_I3004: info<Pair & { pid: number; reused: boolean }>('SYNC_I3004', 'a sync daemon was launched, or a running one reused'),
  SYNC_W3005: warn<Pair & { error: string }>('SYNC_W3005', 'a sync daemon had stopped on an error; it is started again from its checkpoints'),
  SYNC_I3006: info<Pair>('SYNC_I3006', 'a sync was retired: a release it joins is torn down'),
} as const;
