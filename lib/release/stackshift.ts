/**
 * stackshift's verbs as one object, one method per action, each with its options type (as the CDK
 * toolkit library's `Toolkit`): what the CLI calls, and what a program that drives releases itself
 * calls. Each method's steps are in the verb's own file (release-verb.ts, promote-verb.ts,
 * rollback-verb.ts, teardown-verb.ts, gc-verb.ts, plan-view.ts, views.ts).
 *
 *   const stackshift = new Stackshift({ ioHost, definition: await loadConfig(file) });
 *   await stackshift.release({ sha });
 *   await stackshift.promote({ releaseId, steps: [10, 50, 100], intervalMs: 60_000 });
 */
import { ReleaseEngine, type ReleaseEngineProps } from './engine';
import type { GcResult, GcVerbOptions } from './gc-verb';
import type { PlanView } from './plan-view';
import type { PromoteVerbOptions } from './promote-verb';
import type { VerbResult } from './verb-result';
import type { ReleaseVerbOptions } from './release-verb';
import type { RollbackVerbOptions } from './rollback-verb';
import type { TeardownVerbOptions } from './teardown-verb';
import type { HistoryEntry, StatusView } from './views';

export type StackshiftProps = ReleaseEngineProps;
export type ReleaseOptions = ReleaseVerbOptions;
export type PromoteOptions = PromoteVerbOptions;
export type TeardownOptions = TeardownVerbOptions;
export type GcOptions = GcVerbOptions;

export interface StatusOptions {
  /** Include torn-down releases. @default false */
  readonly all?: boolean;
}

export interface PlanOptions {
  /** A sha, short sha, tag or branch name of the repository. */
  readonly sha: string;
}

export class Stackshift {
  /** What the verbs share: the definition, the ledger, the deploy target, the clients. */
  public readonly engine: ReleaseEngine;

  public constructor(props: StackshiftProps) {
    this.engine = new ReleaseEngine(props);
  }

  /** Builds, bakes, deploys, copies and syncs a release until it is Ready (a re-run resumes). */
  public async release(options: ReleaseOptions): Promise<VerbResult> {
    const { releaseVerb } = await import('./release-verb');
    return releaseVerb(this.engine, options);
  }

  /** Flips the public record to a Ready release (in weighted steps if asked); Live when DNS, app and syncs agree. */
  public async promote(options: PromoteOptions): Promise<VerbResult> {
    const { promoteVerb } = await import('./promote-verb');
    return promoteVerb(this.engine, options);
  }

  /** Undoes a promote that stopped part-way: every write made elsewhere carried over, all traffic on the live release. */
  public async abortPromote(): Promise<VerbResult> {
    const { abortPromoteVerb } = await import('./rollback-verb');
    return abortPromoteVerb(this.engine);
  }

  /** Flips back to the previous release and drains the reverse sync: no write is lost. */
  public async rollback(options: RollbackVerbOptions = {}): Promise<VerbResult> {
    const { rollbackVerb } = await import('./rollback-verb');
    return rollbackVerb(this.engine, options);
  }

  /** Destroys a release's stack after a backup of its tables (never a release with traffic). */
  public async teardown(options: TeardownOptions): Promise<VerbResult> {
    const { teardownVerb } = await import('./teardown-verb');
    return teardownVerb(this.engine, options);
  }

  /** Tears down branch stacks whose branch is gone or whose TTL passed; deletes unused tarballs. */
  public async gc(options: GcOptions = {}): Promise<GcResult> {
    const { gcVerb } = await import('./gc-verb');
    return gcVerb(this.engine, options);
  }

  /** Every release now: phase, traffic, endpoint, copy, syncs, dead letters, gates. */
  public async status(options: StatusOptions = {}): Promise<StatusView> {
    const { statusView } = await import('./views');
    return statusView(this.engine, options);
  }

  /** What releasing a sha would do, changing nothing. */
  public async plan(options: PlanOptions): Promise<PlanView> {
    const { planView } = await import('./plan-view');
    return planView(this.engine, options.sha);
  }

  /** Every run of every verb. */
  public async history(): Promise<HistoryEntry[]> {
    const { historyView } = await import('./views');
    return historyView(this.engine);
  }
}
