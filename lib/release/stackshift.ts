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
import { gcVerb, type GcResult, type GcVerbOptions } from './gc-verb';
import { planView, type PlanView } from './plan-view';
import { promoteVerb, type PromoteVerbOptions } from './promote-verb';
import type { VerbResult } from './verb-result';
import { releaseVerb, type ReleaseVerbOptions } from './release-verb';
import { abortPromoteVerb, rollbackVerb, type RollbackVerbOptions } from './rollback-verb';
import { teardownVerb, type TeardownVerbOptions } from './teardown-verb';
import { historyView, statusView, type HistoryEntry, type StatusView } from './views';

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
  public release(options: ReleaseOptions): Promise<VerbResult> {
    return releaseVerb(this.engine, options);
  }

  /** Flips the public record to a Ready release (in weighted steps if asked); Live when DNS, app and syncs agree. */
  public promote(options: PromoteOptions): Promise<VerbResult> {
    return promoteVerb(this.engine, options);
  }

  /** Undoes a promote that stopped part-way: every write made elsewhere carried over, all traffic on the live release. */
  public abortPromote(): Promise<VerbResult> {
    return abortPromoteVerb(this.engine);
  }

  /** Flips back to the previous release and drains the reverse sync: no write is lost. */
  public rollback(options: RollbackVerbOptions = {}): Promise<VerbResult> {
    return rollbackVerb(this.engine, options);
  }

  /** Destroys a release's stack after a backup of its tables (never a release with traffic). */
  public teardown(options: TeardownOptions): Promise<VerbResult> {
    return teardownVerb(this.engine, options);
  }

  /** Tears down branch stacks whose branch is gone or whose TTL passed; deletes unused tarballs. */
  public gc(options: GcOptions = {}): Promise<GcResult> {
    return gcVerb(this.engine, options);
  }

  /** Every release now: phase, traffic, endpoint, copy, syncs, dead letters, gates. */
  public status(options: StatusOptions = {}): Promise<StatusView> {
    return statusView(this.engine, options);
  }

  /** What releasing a sha would do, changing nothing. */
  public plan(options: PlanOptions): Promise<PlanView> {
    return planView(this.engine, options.sha);
  }

  /** Every run of every verb. */
  public history(): Promise<HistoryEntry[]> {
    return historyView(this.engine);
  }
}
