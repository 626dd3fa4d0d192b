/**
 * The commands of the model-based test: each verb of the CLI (and a batch of client writes), with
 * what the model expects of it, run for real, optionally with a kill -9 at a given message and a
 * re-run of the same command (which must continue from its checkpoints). After each, the oracle
 * reads the real state and checks every invariant. `toString()` is what a shrunk sequence prints.
 */
import type * as fc from 'fast-check';
import { errorsOf, type CliOutcome, type KillPoint } from './cli-process';
import { writeThroughDns } from './client-writes';
import {
  expectedSplit,
  followsLive,
  isBranch,
  noChange,
  ok,
  standing,
  okOrRefused,
  refused,
  describeModel,
  type BranchName,
  type CommitName,
  type Expectation,
  type LifecycleModel,
  type ReleaseName,
} from './model';
import { checkInvariants, observe, projection, violation, type Observation } from './oracle';
import type { SystemUnderTest } from './system-under-test';

/** The real side of a sequence plus what the oracle read last (the "before" of the next command). */
export interface Real {
  readonly sut: SystemUnderTest;
  last: Observation;
}

type Verdict = 'succeeded' | 'refused';

/**
 * The steps of the weighted promote. An interrupted one runs each step for INTERRUPTED_INTERVAL
 * before its health check: the kill at the k-th INSYNC lands inside it, so on a known split.
 */
export const PROMOTE_STEPS = [10, 50, 100] as const;
const INTERRUPTED_INTERVAL = '10s';

function killLabel(kill: KillPoint | null): string {
  return kill ? ` [kill -9 at ${kill.code ?? 'message'} #${kill.k}, re-run]` : '';
}

/**
 * When a command runs (`check`): within the sequence's step budget (the model counts the commands
 * run, so the bound is part of the sequence and replays with it), and
 *   - normally only when the model expects it to do something (a promote of a release that follows
 *     the live one, a rollback with somewhere to go, …): commands are drawn blind to the state and
 *     most would otherwise be refusals, which are quick but teach little;
 *   - as a probe (about one command drawn in ten), in any state where it names something that exists:
 *     then the model's expectation may well be a refusal, checked like any other outcome.
 */
abstract class LifecycleCommand implements fc.AsyncCommand<LifecycleModel, Real> {
  protected constructor(public readonly probe: boolean) {}

  public check(m: Readonly<LifecycleModel>): boolean {
    if (m.steps >= m.maxSteps) return false;
    return this.applies(m as LifecycleModel) && (this.probe || this.useful(m as LifecycleModel));
  }

  public async run(m: LifecycleModel, real: Real): Promise<void> {
    m.steps++;
    real.sut.log(`${this.toString()}   (model before: ${describeModel(m)})`);
    await this.execute(m, real);
  }

  public abstract toString(): string;
  protected abstract execute(m: LifecycleModel, real: Real): Promise<void>;
  /** It names things that exist (an app, a release): else it is never run. @default there is an app */
  protected applies(m: LifecycleModel): boolean {
    return hasApp(m);
  }
  /** The model expects it to change something. */
  protected abstract useful(m: LifecycleModel): boolean;
  protected get probeLabel(): string {
    return this.probe ? ' (probe)' : '';
  }
}

/**
 * A CLI verb: judge its exit against the expectation, update the model if it succeeded, then read
 * the state and check it (and, after a refusal, that nothing changed).
 */
abstract class VerbCommand extends LifecycleCommand {
  protected constructor(
    protected readonly kill: KillPoint | null,
    probe: boolean,
  ) {
    super(probe);
  }

  /** What the model expects, from the state before. */
  protected abstract expectation(m: LifecycleModel): Expectation;
  protected abstract args(m: LifecycleModel, sut: SystemUnderTest): string[];
  /** Timing label. */
  protected abstract get label(): string;
  /** The model after the verb succeeded. */
  protected abstract apply(m: LifecycleModel, run: CliOutcome): void;

  protected useful(m: LifecycleModel): boolean {
    return this.expectation(m).kind === 'ok';
  }

  protected async execute(m: LifecycleModel, real: Real): Promise<void> {
    const { sut } = real;
    const expectation = this.expectation(m);
    await this.before(m, sut);
    const args = this.args(m, sut);
    let run = await sut.cli(this.label, args, this.kill ?? undefined);
    // A crash, then the operator runs the same command again: it continues from its checkpoints.
    if (run.killed) run = await sut.cli(this.label, args);
    const verdict = judge(run, expectation);
    if (verdict === 'succeeded') this.apply(m, run);
    const status = await observe(sut);
    if (verdict === 'refused' || expectation.kind === 'no-change') {
      const before = projection(real.last);
      const after = projection(status);
      if (before !== after) violation(`${this} ${verdict === 'refused' ? 'was refused' : 'should change nothing'} but the state changed:\n  before ${before}\n  after  ${after}`);
    }
    await checkInvariants(m, sut, status);
    real.last = status;
  }

  /** Anything the command does outside the CLI first (e.g. deleting a branch). */
  protected async before(_m: LifecycleModel, _sut: SystemUnderTest): Promise<void> {}

  protected get suffix(): string {
    return `${killLabel(this.kill)}${this.probeLabel}`;
  }
}

/** Until something is released the app has no stack at all, and every verb but release is refused the same way (APP_NOT_DEPLOYED). */
function hasApp(m: Readonly<LifecycleModel>): boolean {
  return m.releases.size > 0;
}

/** Exit 0 → succeeded; exit 1 with exactly one error line (of an allowed code) → refused; anything else breaks the expectation. */
function judge(run: CliOutcome, e: Expectation): Verdict {
  const errors = errorsOf(run);
  const what = `${run.args.join(' ')} exited ${run.timedOut ? '(timed out)' : run.exitCode}`;
  const errorText = errors.map((x) => `${String(x.data?.code ?? x.code)}: ${x.message}`).join(' | ') || run.stderrTail.slice(-1500);
  if (run.exitCode === 0 && !run.timedOut) {
    if (e.kind === 'refused') violation(`${what}, expected a refusal (${e.codes.join(' or ') || 'any code'})`);
    return 'succeeded';
  }
  if (run.exitCode === 1 && e.kind !== 'ok') {
    if (errors.length !== 1) violation(`${what} with ${errors.length} error lines, a refusal has exactly one: ${errorText}`);
    const code = String(errors[0].data?.code ?? '');
    const codes = e.kind === 'no-change' ? [] : e.codes;
    if (codes.length > 0 && !codes.includes(code)) violation(`${what} with ${code}, expected ${codes.join(' or ')}: ${errorText}`);
    return 'refused';
  }
  violation(`${what}, expected ${e.kind === 'ok' ? 'success' : e.kind}: ${errorText}`);
}

export class ReleaseCommand extends VerbCommand {
  public constructor(
    private readonly commit: CommitName,
    kill: KillPoint | null,
    probe = false,
  ) {
    super(kill, probe);
  }
  public toString(): string {
    return `release ${this.commit}${this.suffix}`;
  }
  protected override applies(): boolean {
    return true;
  }
  protected override useful(m: LifecycleModel): boolean {
    // A new release that can be promoted: the first one, or one copied from (and following) the live one.
    return !m.releases.has(this.commit) && (m.releases.size === 0 || m.live !== null);
  }
  protected get label(): string {
    return this.kill ? 'release (killed, re-run)' : 'release';
  }
  protected expectation(m: LifecycleModel): Expectation {
    return m.releases.get(this.commit)?.torn ? refused('RELEASE_TORN_DOWN') : ok;
  }
  protected args(_m: LifecycleModel, sut: SystemUnderTest): string[] {
    return ['release', '--sha', sut.shas[this.commit]];
  }
  protected apply(m: LifecycleModel, run: CliOutcome): void {
    if (m.releases.has(this.commit)) return;
    const phase = (run.result as { phase?: string } | undefined)?.phase;
    if (phase !== 'Ready') violation(`${this} succeeded with phase ${phase}, expected Ready`);
    m.releases.set(this.commit, { name: this.commit, torn: false, source: m.live, promotedOnce: false });
  }
}

export class ReleaseBranchCommand extends VerbCommand {
  public constructor(
    private readonly branch: BranchName,
    kill: KillPoint | null,
    probe = false,
  ) {
    super(kill, probe);
  }
  public toString(): string {
    return `release --branch ${this.branch}${this.suffix}`;
  }
  protected override applies(): boolean {
    return true;
  }
  protected override useful(m: LifecycleModel): boolean {
    // A new branch stack with a copy of production data (something is live).
    return m.branches.has(this.branch) && !m.releases.has(this.branch) && m.live !== null;
  }
  protected get label(): string {
    return this.kill ? 'release --branch (killed, re-run)' : 'release --branch';
  }
  protected expectation(m: LifecycleModel): Expectation {
    if (!m.branches.has(this.branch)) return refused();
    return m.releases.get(this.branch)?.torn ? refused('RELEASE_TORN_DOWN') : ok;
  }
  protected args(): string[] {
    return ['release', '--branch', this.branch];
  }
  protected apply(m: LifecycleModel, run: CliOutcome): void {
    if (m.releases.has(this.branch)) return;
    const phase = (run.result as { phase?: string } | undefined)?.phase;
    if (phase !== 'Ready') violation(`${this} succeeded with phase ${phase}, expected Ready`);
    m.releases.set(this.branch, { name: this.branch, torn: false, source: m.live, promotedOnce: false });
  }
}

export class PromoteCommand extends VerbCommand {
  public constructor(
    private readonly target: CommitName,
    private readonly weighted: boolean,
    kill: KillPoint | null,
    probe = false,
  ) {
    super(kill, probe);
  }
  public toString(): string {
    return `promote ${this.target}${this.weighted ? ` --steps ${PROMOTE_STEPS.join(',')} --interval 0s` : ''}${this.suffix}`;
  }
  protected override applies(m: LifecycleModel): boolean {
    return m.releases.has(this.target);
  }
  protected override useful(m: LifecycleModel): boolean {
    // A promote that moves traffic (not one of the live release with nothing part-way).
    return super.useful(m) && (m.live !== this.target || m.interrupted !== null);
  }
  protected get label(): string {
    return `promote${this.weighted ? ' --steps' : ''}${this.kill ? ' (killed, re-run)' : ''}`;
  }
  protected expectation(m: LifecycleModel): Expectation {
    const r = m.releases.get(this.target);
    if (!r) return refused('RELEASE_UNKNOWN');
    if (r.torn) return refused('PROMOTE_NOT_READY');
    if (m.interrupted?.target === this.target) return ok; // continues the interrupted promote
    if (m.live === this.target) return ok; // already live (after an interrupted promote: all traffic back on it)
    if (m.interrupted) return refused(); // another promote is part-way: finish or abort it first
    if (m.live === null || followsLive(m, this.target)) return ok;
    // Nothing keeps it current with the live release (released from another one, or the
    // previous release fed by the reverse sync): refused, or promoted losing no write.
    return okOrRefused();
  }
  protected args(_m: LifecycleModel, sut: SystemUnderTest): string[] {
    return ['promote', ...sut.selector(this.target), ...(this.weighted ? ['--steps', PROMOTE_STEPS.join(','), '--interval', '0s'] : [])];
  }
  protected apply(m: LifecycleModel): void {
    m.interrupted = null;
    m.syncsDisturbed = false;
    m.releases.get(this.target)!.promotedOnce = true;
    if (m.live === this.target) return;
    m.previous = m.live;
    m.live = this.target;
    m.rolledBack = false;
  }
}

/**
 * A weighted promote (`--steps 10,50,100`) killed once its k-th step is routed and INSYNC, during
 * the step's interval, and not re-run: the operator's machine died mid-promote. The split stays.
 */
export class InterruptedPromoteCommand extends LifecycleCommand {
  public constructor(
    private readonly target: CommitName,
    private readonly step: 1 | 2 | 3,
  ) {
    super(false);
  }
  public toString(): string {
    return `promote ${this.target} --steps ${PROMOTE_STEPS.join(',')} killed at ${PROMOTE_STEPS[this.step - 1]} % (not re-run)`;
  }
  protected override applies(m: LifecycleModel): boolean {
    return m.interrupted === null && m.live !== null && m.live !== this.target && followsLive(m, this.target);
  }
  protected useful(): boolean {
    return true;
  }
  protected async execute(m: LifecycleModel, real: Real): Promise<void> {
    const { sut } = real;
    const run = await sut.cli('promote --steps (interrupted)', ['promote', ...sut.selector(this.target), '--steps', PROMOTE_STEPS.join(','), '--interval', INTERRUPTED_INTERVAL], {
      code: 'DNS_I7001',
      k: this.step,
    });
    if (!run.killed) violation(`${this}: the promote ended (exit ${run.exitCode}) before its step ${this.step} was INSYNC: ${errorsOf(run).map((e) => e.message).join(' | ')}`);
    m.interrupted = { target: this.target, percent: PROMOTE_STEPS[this.step - 1] };
    m.syncsDisturbed = false; // its guards restarted the two syncs of the split
    m.releases.get(this.target)!.promotedOnce = true;
    const status = await observe(sut);
    await checkInvariants(m, sut, status);
    real.last = status;
  }
}

/** `promote --abort`: all traffic back on the live release after an interrupted weighted promote. */
export class PromoteAbortCommand extends VerbCommand {
  public constructor(kill: KillPoint | null, probe = false) {
    super(kill, probe);
  }
  public toString(): string {
    return `promote --abort${this.suffix}`;
  }
  protected override useful(m: LifecycleModel): boolean {
    return m.interrupted !== null;
  }
  protected get label(): string {
    return this.kill ? 'promote --abort (killed, re-run)' : 'promote --abort';
  }
  protected expectation(m: LifecycleModel): Expectation {
    return m.interrupted ? ok : noChange;
  }
  protected args(): string[] {
    return ['promote', '--abort'];
  }
  protected apply(m: LifecycleModel): void {
    if (m.interrupted) m.syncsDisturbed = false;
    m.interrupted = null;
  }
}

export class RollbackCommand extends VerbCommand {
  public constructor(kill: KillPoint | null, probe = false) {
    super(kill, probe);
  }
  public toString(): string {
    return `rollback${this.suffix}`;
  }
  protected get label(): string {
    return this.kill ? 'rollback (killed, re-run)' : 'rollback';
  }
  protected expectation(m: LifecycleModel): Expectation {
    if (m.live === null) return refused('ROLLBACK_NOTHING_LIVE');
    if (m.interrupted) return ok; // puts all traffic back on the live release
    if (m.rolledBack) return noChange; // the previous release is the one just rolled back from
    if (m.previous === null) return refused('ROLLBACK_NO_PREVIOUS', 'ROLLBACK_TORN_DOWN');
    return ok;
  }
  protected args(): string[] {
    return ['rollback'];
  }
  protected apply(m: LifecycleModel): void {
    if (m.interrupted) {
      m.interrupted = null;
      m.syncsDisturbed = false;
      return;
    }
    if (m.rolledBack || m.previous === null) return;
    [m.live, m.previous] = [m.previous, m.live];
    m.rolledBack = true;
  }
}

export class TeardownCommand extends VerbCommand {
  public constructor(
    private readonly target: ReleaseName,
    private readonly force: boolean,
    kill: KillPoint | null,
    probe = false,
  ) {
    super(kill, probe);
  }
  public toString(): string {
    return `teardown ${this.target}${this.force ? ' --force' : ''}${this.suffix}`;
  }
  protected override applies(m: LifecycleModel): boolean {
    return m.releases.has(this.target);
  }
  protected override useful(m: LifecycleModel): boolean {
    return super.useful(m) && standing(m, this.target);
  }
  protected get label(): string {
    return `teardown${this.kill ? ' (killed, re-run)' : ''}`;
  }
  protected expectation(m: LifecycleModel): Expectation {
    const r = m.releases.get(this.target);
    if (!r) return refused('RELEASE_UNKNOWN');
    if (r.torn) return ok;
    if (m.live === this.target) return refused('TEARDOWN_LIVE');
    // A release DNS still sends traffic to is refused whatever the flags.
    if (m.interrupted?.target === this.target) return refused('TEARDOWN_HAS_TRAFFIC');
    // The rollback window protects the live release's rollback target (not a release rolled back from).
    if (m.previous === this.target && !m.rolledBack && !this.force) return refused('TEARDOWN_IN_WINDOW');
    return ok;
  }
  protected args(_m: LifecycleModel, sut: SystemUnderTest): string[] {
    return ['teardown', ...sut.selector(this.target), ...(this.force ? ['--force'] : []), '--no-backup'];
  }
  protected apply(m: LifecycleModel): void {
    m.releases.get(this.target)!.torn = true;
    if (m.previous === this.target) m.previous = null;
  }
}

/** Deletes the named branches from the repository (if any), then `gc`: their branch stacks go. */
export class GcCommand extends VerbCommand {
  public constructor(
    private readonly deleteBranches: readonly BranchName[],
    kill: KillPoint | null,
    probe = false,
  ) {
    super(kill, probe);
  }
  public toString(): string {
    return `${this.deleteBranches.length ? `git branch -D ${this.deleteBranches.join(' ')}; ` : ''}gc${this.suffix}`;
  }
  protected override useful(m: LifecycleModel): boolean {
    // Some branch stack goes: its branch is gone already or deleted now.
    return [...m.releases.values()].some((r) => isBranch(r.name) && !r.torn && (!m.branches.has(r.name) || this.deleteBranches.includes(r.name)));
  }
  protected get label(): string {
    return `gc${this.kill ? ' (killed, re-run)' : ''}`;
  }
  protected expectation(): Expectation {
    return ok;
  }
  protected override async before(m: LifecycleModel, sut: SystemUnderTest): Promise<void> {
    for (const b of this.deleteBranches) {
      if (!m.branches.has(b)) continue;
      sut.repo.git('branch', '-D', b);
      m.branches.delete(b);
    }
  }
  protected args(): string[] {
    return ['gc', '--no-backup'];
  }
  protected apply(m: LifecycleModel): void {
    for (const r of m.releases.values()) if (isBranch(r.name) && !r.torn && !m.branches.has(r.name)) r.torn = true;
  }
}

/**
 * kill -9 of one running sync daemon of the app (the data plane crashing), `pick` choosing which.
 * Status must show it not running; the next verb that needs it restarts it from its checkpoints,
 * so the model expects every verb as before, and no acknowledged write lost.
 */
export class KillSyncCommand extends LifecycleCommand {
  public constructor(private readonly pick: number) {
    super(false);
  }
  public toString(): string {
    return `kill -9 a sync daemon (pick ${this.pick.toFixed(2).slice(1)})`;
  }
  protected override applies(m: LifecycleModel): boolean {
    // There is a sync only once a release was made while another one was live.
    return [...m.releases.values()].some((r) => r.source !== null && !r.torn);
  }
  protected useful(): boolean {
    return true;
  }
  protected async execute(m: LifecycleModel, real: Real): Promise<void> {
    const { sut } = real;
    const daemons = sut.syncDaemons();
    if (daemons.length === 0) {
      sut.log('  no sync daemon is running: nothing killed');
      return;
    }
    const d = daemons[Math.floor(this.pick * daemons.length)];
    process.kill(d.pid, 'SIGKILL');
    sut.kills++;
    sut.log(`  killed the ${d.direction} sync ${d.source} → ${d.target} (pid ${d.pid})`);
    m.syncsDisturbed = true;
    const status = await observe(sut);
    // Status shows the dead sync as not running (as soon as its process is gone).
    const rows = status.status.releases.flatMap((r) => r.syncs ?? []);
    const row = rows.find((x) => x.direction === d.direction && x.from === sut.releaseId(d.source as ReleaseName) && x.to === sut.releaseId(d.target as ReleaseName));
    if (row?.running) violation(`status shows the ${d.direction} sync ${d.source} → ${d.target} running after its daemon (pid ${d.pid}) was killed`);
    await checkInvariants(m, sut, status);
    real.last = status;
  }
}

/** One client write: a new product, or the next rev of one already written (`pick` chooses which). */
export interface WritePlan {
  readonly newProduct: boolean;
  /** In [0, 1): which written product to update. */
  readonly pick: number;
  /** In [0, 1): where the DNS answer lands when the record is split. */
  readonly draw: number;
}

/** PUTs through the release the public name serves, sequentially; every 200 is an acknowledged write the oracle checks from then on. */
export class ClientWritesCommand extends LifecycleCommand {
  public constructor(private readonly writes: readonly WritePlan[]) {
    super(false);
  }
  public toString(): string {
    // e.g. `client writes: new (dns .42), update .50 (dns .07)`: which product (a fraction of those written), where the DNS answer lands.
    return `client writes: ${this.writes.map((w) => `${w.newProduct ? 'new' : `update ${w.pick.toFixed(2).slice(1)}`} (dns ${w.draw.toFixed(2).slice(1)})`).join(', ')}`;
  }
  protected override applies(m: LifecycleModel): boolean {
    return expectedSplit(m).size > 0;
  }
  protected useful(): boolean {
    return true;
  }
  protected async execute(m: LifecycleModel, real: Real): Promise<void> {
    const { sut } = real;
    for (const plan of this.writes) {
      const writable = [...m.acked.keys()].filter((id) => !m.unsettled.has(id));
      const productId = plan.newProduct || writable.length === 0 ? `lm-${String(m.nextProduct++).padStart(4, '0')}` : writable[Math.floor(plan.pick * writable.length)];
      const last = m.acked.get(productId);
      const rev = (last?.rev ?? 0) + 1;
      const outcome = await writeThroughDns(sut, { productId, rev, ...(last?.etag ? { ifMatch: last.etag } : {}) }, plan.draw);
      const on = sut.nameOf(outcome.releaseId) ?? (outcome.releaseId as ReleaseName);
      sut.log(`  PUT ${productId} rev ${rev}${last?.etag ? ' If-Match' : ''} → ${on}: ${outcome.status ?? outcome.error}`);
      if (outcome.status === 200) m.acked.set(productId, { rev, on, ...(outcome.etag ? { etag: outcome.etag } : {}) });
      else m.unsettled.add(productId); // outcome unknown: its last acknowledged rev is still a lower bound
    }
    // Writes change neither DNS nor the ledger: status is the one read after the last verb.
    const status = await observe(sut, real.last.status);
    await checkInvariants(m, sut, status);
    real.last = status;
  }
}
