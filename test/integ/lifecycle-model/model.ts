/**
 * The model of the release lifecycle: what the releases of one app should be after each verb, kept
 * as small as the invariants need. Releases are named by what they were built from (a commit of
 * the release repo or a branch), not by id, so that a printed sequence reads as a story and replays
 * against a fresh repository.
 */

/** The commits every sequence's repository has: v1 (products data version 1), v2 (version 2) and a fix at version 2. */
export const COMMITS = ['v1', 'v2', 'fix'] as const;
export type CommitName = (typeof COMMITS)[number];

/** Branches made at the fix commit, for branch stacks (deleted by the gc command when it says so). */
export const BRANCHES = ['lm/a', 'lm/b'] as const;
export type BranchName = (typeof BRANCHES)[number];

export type ReleaseName = CommitName | BranchName;

export function isBranch(name: ReleaseName): name is BranchName {
  return (BRANCHES as readonly string[]).includes(name);
}

export interface ModelRelease {
  readonly name: ReleaseName;
  torn: boolean;
  /** The live release when it was released: where its data was copied from, and its forward sync reads. */
  readonly source: ReleaseName | null;
  /** It took traffic once (promoted, or the target of an interrupted promote). */
  promotedOnce: boolean;
}

/** A weighted promote killed between two steps: the target holds `percent`, the live release the rest. */
export interface InterruptedPromote {
  readonly target: ReleaseName;
  readonly percent: number;
}

export interface AckedWrite {
  readonly rev: number;
  /** The ETag the write was answered with: the If-Match of the next write to the product. */
  readonly etag?: string;
  /** The release that took the write (for the report). */
  readonly on: ReleaseName;
}

export interface LifecycleModel {
  readonly releases: Map<ReleaseName, ModelRelease>;
  live: ReleaseName | null;
  previous: ReleaseName | null;
  /** The last flip was a rollback: the previous release is the one rolled back from, and another rollback does nothing. */
  rolledBack: boolean;
  interrupted: InterruptedPromote | null;
  /**
   * A sync daemon was killed since the last flip verb (which restarts the syncs it needs): while the
   * record is split, a write may then stay on the release that took it until a verb runs.
   */
  syncsDisturbed: boolean;
  /** Branches that still exist in the repository. */
  readonly branches: Set<BranchName>;
  /** The last acknowledged write (HTTP 200) of each product. */
  readonly acked: Map<string, AckedWrite>;
  /** Products whose last write was not acknowledged: its outcome is unknown, so they are neither checked nor written again. */
  readonly unsettled: Set<string>;
  nextProduct: number;
  /** Commands run so far, and the most a sequence runs (its time bound: drawn commands past it are skipped). */
  steps: number;
  readonly maxSteps: number;
}

export function initialModel(maxSteps: number): LifecycleModel {
  return {
    steps: 0,
    maxSteps,
    releases: new Map(),
    live: null,
    previous: null,
    rolledBack: false,
    interrupted: null,
    syncsDisturbed: false,
    branches: new Set(BRANCHES),
    acked: new Map(),
    unsettled: new Set(),
    nextProduct: 0,
  };
}

export function standing(m: LifecycleModel, name: ReleaseName): boolean {
  const r = m.releases.get(name);
  return Boolean(r && !r.torn);
}

/** The DNS split the model expects, in percent per release (nothing before the first promote). */
export function expectedSplit(m: LifecycleModel): Map<ReleaseName, number> {
  const split = new Map<ReleaseName, number>();
  if (m.interrupted) {
    split.set(m.interrupted.target, m.interrupted.percent);
    if (m.interrupted.percent < 100 && m.live) split.set(m.live, 100 - m.interrupted.percent);
  } else if (m.live) {
    split.set(m.live, 100);
  }
  return split;
}

/**
 * Whether a promote of `name` has the sync that keeps it current: its forward sync from the live
 * release (it was released while that release was live, so its data came from it and has followed
 * it since). Any other promote must be refused, or succeed with no acknowledged write lost.
 */
export function followsLive(m: LifecycleModel, name: ReleaseName): boolean {
  const r = m.releases.get(name);
  return Boolean(r && !r.torn && m.live !== null && r.source === m.live);
}

/** What a verb should do, as the model sees it. */
export type Expectation =
  /** Exit 0, and the state the verb claims holds. */
  | { readonly kind: 'ok' }
  /** Exit 1 with one error line (its code among `codes`, when given), and nothing changed. */
  | { readonly kind: 'refused'; readonly codes: readonly string[] }
  /** Either of the two (the intended behaviour leaves it open): the oracle checks whichever happened. */
  | { readonly kind: 'ok-or-refused'; readonly codes: readonly string[] }
  /** Exit 0 or a refusal, and nothing changed either way. */
  | { readonly kind: 'no-change' };

export const ok: Expectation = { kind: 'ok' };
export const refused = (...codes: string[]): Expectation => ({ kind: 'refused', codes });
export const okOrRefused = (...codes: string[]): Expectation => ({ kind: 'ok-or-refused', codes });
export const noChange: Expectation = { kind: 'no-change' };

/** A readable one-line summary of the model, for the journal. */
export function describeModel(m: LifecycleModel): string {
  const rel = [...m.releases.values()].map((r) => `${r.name}${r.torn ? '†' : ''}${r.source ? `<${r.source}` : ''}`).join(' ');
  const split = [...expectedSplit(m)].map(([n, p]) => `${n}=${p}`).join(',');
  return `live=${m.live ?? '-'} previous=${m.previous ?? '-'} dns={${split}} releases=[${rel}] writes=${m.acked.size}`;
}
