/**
 * The real side of one model-based sequence: an app name of its own (`lm<random>`), a fresh release
 * repository (commits v1, v2 and a fix at data version 2; branches at the fix), the CLI run as a
 * child process, and fresh reads of what clients and operators see: the weighted record in Route 53
 * (moto), the local fleet's endpoints, the ledger's live/previous, `status --json`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DeleteTableCommand, DynamoDBClient, paginateListTables } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { createReleaseRepo, type ReleaseRepo } from '../../../examples/catalog/release-repo';
import { isWeightedCname, listRecordSetsOf, weightedRecordSet } from '../../../lib/dns';
import { LocalFleet } from '../../../lib/infra/local-fleet';
import { createLedgerClient, Ledger } from '../../../lib/ledger';
import { terminate } from '../../../lib/local/processes';
import { releaseIdFromBranch } from '../../../lib/manifest/table-manifest';
import { ReleaseStore, type AppState } from '../../../lib/ledger/release-records';
import { EDGE_OUTPUTS, edgeStackName } from '../../../stacks/edge-stack';
import { runCliProcess, type CliOutcome, type KillPoint } from './cli-process';
import { BRANCHES, COMMITS, isBranch, type CommitName, type ReleaseName } from './model';

/** One release's share of the public record, as Route 53 serves it now. */
export interface DnsShare {
  readonly releaseId: string;
  readonly dnsName: string;
  readonly weight: number;
  /** weight / sum of weights, in percent, rounded. */
  readonly percent: number;
}

/** The part of `status --all --json` the oracle reads (other fields are ignored). */
export interface StatusReleaseView {
  readonly releaseId: string;
  readonly phase: string;
  readonly live: boolean;
  readonly previous: boolean;
  /** The DNS share status observed, when this version of status reports it. */
  readonly trafficPercent?: number;
  /** The write fence on its load balancer, when it has a stack standing (and this version of status reports it). */
  readonly writes?: 'open' | 'held' | 'redirected';
  readonly syncs?: readonly { readonly direction: string; readonly from: string; readonly to: string; readonly running: boolean }[];
}
export interface StatusView {
  readonly live: string | null;
  readonly previous: string | null;
  readonly releases: readonly StatusReleaseView[];
}

/** Seconds each CLI verb took, by label (e.g. `release`, `promote --steps`), over every sequence of a run. */
export class VerbTimings {
  private readonly byLabel = new Map<string, number[]>();
  public add(label: string, seconds: number): void {
    const list = this.byLabel.get(label) ?? [];
    list.push(seconds);
    this.byLabel.set(label, list);
  }
  public summary(): Record<string, { n: number; median: number; max: number }> {
    const out: Record<string, { n: number; median: number; max: number }> = {};
    for (const [label, list] of [...this.byLabel].sort()) {
      const sorted = [...list].sort((a, b) => a - b);
      out[label] = { n: sorted.length, median: round1(sorted[Math.floor(sorted.length / 2)]), max: round1(sorted[sorted.length - 1]) };
    }
    return out;
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export interface SystemUnderTestProps {
  /** The local AWS state directory the CLI and the fleet use. */
  readonly stateDir: string;
  readonly timings: VerbTimings;
  /** Every CLI run and oracle note, one line each. @default - nowhere */
  readonly log?: (line: string) => void;
  /** A CLI process still running after this is killed and the sequence fails. @default 300_000 ms */
  readonly cliTimeoutMs?: number;
}

export class SystemUnderTest {
  public readonly app = `lm${randomBytes(4).toString('hex')}`;
  public readonly repo: ReleaseRepo;
  public readonly shas: Readonly<Record<CommitName, string>>;
  public readonly log: (line: string) => void;
  /** Kills made by the kill points, for the soak's report. */
  public kills = 0;
  private readonly fleet: LocalFleet;
  private readonly store: ReleaseStore;
  private readonly cloudformation = new CloudFormationClient({});
  private readonly route53 = new Route53Client({});
  private edgeInfo?: { hostedZoneId: string; recordName: string };

  public constructor(private readonly props: SystemUnderTestProps) {
    this.log = props.log ?? (() => undefined);
    this.repo = createReleaseRepo();
    // A fix at the same data version: a new artifact (a file of the app changed), no migration.
    const fix = this.repo.commit('catalog fix at data version 2', { 'examples/catalog/fix-note.json': '{"fix":"a change that needs no migration"}\n' });
    for (const b of BRANCHES) this.repo.git('branch', b, fix);
    this.shas = { v1: this.repo.v1, v2: this.repo.v2, fix };
    this.fleet = new LocalFleet({ stateDir: props.stateDir });
    this.store = new ReleaseStore(new Ledger({ tableName: `${this.app}-ledger`, client: createLedgerClient(new DynamoDBClient({})) }));
  }

  public releaseId(name: ReleaseName): string {
    return isBranch(name) ? releaseIdFromBranch(name) : `sha-${this.shas[name].slice(0, 12)}`;
  }

  public nameOf(releaseId: string): ReleaseName | undefined {
    return [...COMMITS, ...BRANCHES].find((n) => this.releaseId(n) === releaseId);
  }

  /** `--sha <sha>` or `--branch <name>` naming the release. */
  public selector(name: ReleaseName): string[] {
    return isBranch(name) ? ['--branch', name] : ['--sha', this.shas[name]];
  }

  /** Runs one CLI verb; `label` names it in the timings. */
  public async cli(label: string, args: readonly string[], killAt?: KillPoint): Promise<CliOutcome> {
    const run = await runCliProcess(args, { app: this.app, repo: this.repo.dir, killAt, timeoutMs: this.props.cliTimeoutMs });
    if (!run.killed && !run.timedOut) this.props.timings.add(label, run.seconds);
    if (run.killed) this.kills++;
    const errors = run.messages.filter((m) => m.level === 'error').map((m) => String(m.data?.code ?? m.code));
    this.log(`  $ ${args.join(' ')}${killAt ? `  [kill -9 at ${killAt.code ?? 'message'} #${killAt.k}]` : ''} → ${run.killed ? 'KILLED' : run.timedOut ? 'TIMED OUT' : `exit ${run.exitCode}`}${errors.length ? ` ${errors.join(',')}` : ''} (${round1(run.seconds)} s)`);
    return run;
  }

  /** `status --all --json`, read fresh. */
  public async status(): Promise<StatusView> {
    const run = await this.cli('status', ['status', '--all']);
    if (run.exitCode !== 0 || !run.result) throw new Error(`status --all --json exited ${run.exitCode}:\n${run.stderrTail}`);
    return run.result as StatusView;
  }

  /** The ledger's pointer to the live and previous release (no ledger yet: none). */
  public async appState(): Promise<Pick<AppState, 'live' | 'previous'>> {
    try {
      return await this.store.appState();
    } catch (e) {
      if ((e as { name?: string }).name === 'ResourceNotFoundException') return { live: null, previous: null };
      throw e;
    }
  }

  /** The weighted CNAME record sets of the public name, as Route 53 (moto) serves them now. */
  public async dns(): Promise<DnsShare[]> {
    const edge = await this.edge();
    if (!edge) return [];
    const sets = (await listRecordSetsOf(this.route53, edge)).filter(isWeightedCname).map(weightedRecordSet);
    const total = sets.reduce((n, s) => n + s.weight, 0);
    return sets.map((s) => ({
      releaseId: s.releaseId,
      dnsName: s.dnsName,
      weight: s.weight,
      percent: total === 0 ? Math.round(100 / sets.length) : Math.round((100 * s.weight) / total),
    }));
  }

  /**
   * The sync daemons of this app now running (processes of `_sync` with its app name), with their
   * direction and releases by name, in a replayable order.
   */
  public syncDaemons(): { pid: number; direction: string; source: string; target: string }[] {
    const out: { pid: number; direction: string; source: string; target: string }[] = [];
    for (const pid of processesWithEnv('STACKSHIFT_APP', this.app)) {
      let argv: string[];
      try {
        argv = fs.readFileSync(path.join('/proc', String(pid), 'cmdline'), 'utf8').split('\0');
      } catch {
        continue;
      }
      if (!argv.includes('_sync')) continue;
      const arg = (name: string) => argv[argv.indexOf(name) + 1] ?? '';
      out.push({ pid, direction: arg('--direction'), source: this.nameOf(arg('--source')) ?? arg('--source'), target: this.nameOf(arg('--target')) ?? arg('--target') });
    }
    return out.sort((a, b) => `${a.direction} ${a.source} ${a.target}`.localeCompare(`${b.direction} ${b.source} ${b.target}`));
  }

  /** Where the app behind a load balancer DNS name answers, from the local fleet's records. */
  public async baseUrlOf(dnsName: string): Promise<string> {
    const { host, port } = await this.fleet.endpointOf(dnsName);
    return `http://${host}:${port}`;
  }

  /**
   * Stops what the sequence left running: the apps of its releases (fleet records) and every
   * process started with its app name (sync daemons inherit STACKSHIFT_APP from the CLI); then
   * drops its tables, so that a long soak does not fill DynamoDB Local.
   */
  public async stop(): Promise<void> {
    for (const name of [...COMMITS, ...BRANCHES]) await this.fleet.stop(this.releaseId(name)).catch(() => undefined);
    for (const pid of processesWithEnv('STACKSHIFT_APP', this.app)) await terminate(pid, 5000).catch(() => undefined);
    const dynamodb = new DynamoDBClient({});
    for await (const page of paginateListTables({ client: dynamodb }, {})) {
      for (const table of page.TableNames ?? []) {
        if (table.startsWith(`${this.app}-`)) await dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
      }
    }
    fs.rmSync(this.repo.dir, { recursive: true, force: true });
  }

  private async edge(): Promise<{ hostedZoneId: string; recordName: string } | undefined> {
    if (this.edgeInfo) return this.edgeInfo;
    try {
      const r = await this.cloudformation.send(new DescribeStacksCommand({ StackName: edgeStackName(this.app) }));
      const outputs = Object.fromEntries((r.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
      if (!outputs[EDGE_OUTPUTS.hostedZoneId]) return undefined;
      this.edgeInfo = { hostedZoneId: outputs[EDGE_OUTPUTS.hostedZoneId], recordName: outputs[EDGE_OUTPUTS.recordName] };
      return this.edgeInfo;
    } catch (e) {
      if (/does not exist/.test((e as Error).message)) return undefined;
      throw e;
    }
  }
}

/** Pids of processes (not this one) whose environment has `name=value` (Linux /proc). */
export function processesWithEnv(name: string, value: string): number[] {
  const wanted = `${name}=${value}\0`;
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(path.join('/proc', entry, 'environ'), 'latin1').includes(wanted)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}
