/**
 * The local stand-in for a release stack's fleet: on AWS, the Auto Scaling group launches instances
 * from the release's AMI behind its load balancer; locally, one process of the app per release,
 * on a loopback port, behind a second process that stands in for its load balancer
 * (local-load-balancer.ts: it applies the listener's rules as ELBv2 describes them). Clients find
 * the load balancer's port through its DNS name. This is the only place where the local target
 * runs the app (DESIGN.md: the local difference lives in one adapter).
 *
 * Each running release is recorded in `<stateDir>/fleet/<releaseId>.json`, written as soon as the
 * process is spawned, so that a re-run after the orchestrator was killed finds and reuses it
 * instead of starting a second one.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { messageOf, ReleaseError, toolError, userError } from '../errors';
import { silentIoHost, type IoHost } from '../io';
import { make } from '../io/messages';
import { cliCommand, displayPath, nodeArgsFor } from '../local/paths';
import { freePorts, LOOPBACK } from '../local/ports';
import { readJsonFile } from '../local/json-file';
import { isRunning, spawnDetached, tailOf, terminate, type TerminateOutcome } from '../local/processes';
import type { Endpoint } from './deploy-target';

const info = <T = undefined>(code: string, d: string) => make<T>('info')(code, d);
const warn = <T = undefined>(code: string, d: string) => make<T>('warn')(code, d);
const debug = <T = undefined>(code: string, d: string) => make<T>('debug')(code, d);

type MemberData = { releaseId: string; albDnsName: string; port: number; pid: number };

/** Local fleet codes (lib/infra/local-fleet.ts). Same scheme as lib/io/messages.ts. */
export const FLEET_IO = {
  FLEET_I1100: info<MemberData>('FLEET_I1100', "a release's app was started locally and answered its health check"),
  FLEET_I1101: info<MemberData>('FLEET_I1101', "a release's app already running and healthy was reused"),
  FLEET_I1102: info<MemberData & { outcome: TerminateOutcome }>('FLEET_I1102', "a release's app was stopped and its record removed"),
  FLEET_I1103: info<{ releaseId: string }>('FLEET_I1103', "nothing to stop: no app is recorded for the release"),
  FLEET_W1104: warn<MemberData>('FLEET_W1104', "a recorded app was not running any more and was forgotten"),
  FLEET_W1105: warn<MemberData & { error: string }>('FLEET_W1105', 'a recorded app was running but not healthy; it was stopped and is started again'),
  FLEET_W1106: warn<MemberData>('FLEET_W1106', 'an app did not stop on SIGTERM within the grace period and was killed'),
  FLEET_D1107: debug<MemberData & { logFile: string }>('FLEET_D1107', "a release's app was launched and is being waited for"),
  FLEET_W1109: warn<{ dnsName: string; error: string }>('FLEET_W1109', "a local load balancer could not read its listener's rules; the last ones it read stay in force"),
  FLEET_I1108: info<MemberData & { lbPort: number; lbPid: number }>('FLEET_I1108', "a release's local load balancer was started in front of its app"),
  FLEET_I1110: info<{ dnsName: string; exitCode: number; signal: string | null }>('FLEET_I1110', 'a local load balancer process ended (on a signal, or without one)'),
} as const;

export interface LocalFleetProps {
  /** Where progress is reported. @default - nowhere */
  readonly ioHost?: IoHost;
  /** The local state directory; records and logs go to its `fleet/` folder. */
  readonly stateDir: string;
  /** How long a started app may take to answer `GET /health`. @default 30_000 ms */
  readonly startTimeoutMs?: number;
  /** How long `stop` waits after SIGTERM before SIGKILL. @default 15_000 ms (the app drains requests in flight) */
  readonly graceMs?: number;
  /** The node executable that runs the app. @default process.execPath */
  readonly node?: string;
}

export interface StartReleaseAppOptions {
  /** The release the process serves; names its record, e.g. `sha-89e495e7941c`. */
  readonly releaseId: string;
  /** The release stack's load balancer DNS name: `endpointOf` finds the process by it. */
  readonly albDnsName: string;
  /** Absolute path of the app's entry point inside the extracted artifact, e.g. `<repo>/.local/artifacts/<hash>/examples/catalog/server.ts`. */
  readonly appEntry: string;
  /** The app's own environment (its table names), on top of the AWS settings of this process. @default {} */
  readonly env?: Readonly<Record<string, string>>;
}

/** What `<stateDir>/fleet/<releaseId>.json` holds. */
export interface FleetRecord extends Endpoint {
  readonly releaseId: string;
  readonly albDnsName: string;
  readonly pid: number;
  readonly appEntry: string;
  readonly logFile: string;
  /** ISO time the process was launched. */
  readonly startedAt: string;
  /** Where the release's local load balancer listens (clients use this port). @default - none yet (the app was just launched) */
  readonly lbPort?: number;
  /** The local load balancer's process. @default - none yet */
  readonly lbPid?: number;
}

export interface RunningRelease extends Endpoint {
  readonly pid: number;
  /** Whether this call launched the process (false: an already running one was reused). */
  readonly started: boolean;
}

export interface FleetMember extends FleetRecord {
  /** Whether the recorded pid is alive and still runs the recorded entry point. */
  readonly running: boolean;
}

export interface StopReleaseAppResult {
  /** Whether a recorded process was running and was stopped. */
  readonly stopped: boolean;
}

const RECORD = z.object({
  releaseId: z.string().min(1),
  albDnsName: z.string().min(1),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  pid: z.number().int().positive(),
  appEntry: z.string().min(1),
  logFile: z.string().min(1),
  startedAt: z.string().min(1),
  lbPort: z.number().int().min(1).max(65535).optional(),
  lbPid: z.number().int().positive().optional(),
});

/** Release ids name files: keep them to characters that are safe in a file name. */
const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Variables of this process the app inherits besides AWS_*: enough for node to run, nothing that changes how it runs (no NODE_OPTIONS). */
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

const HEALTH_PROBE_TIMEOUT_MS = 2_000;
const LAUNCH_ATTEMPTS = 3;
const HEALTH_POLL_MS = 100;
/** In the command line of every local load balancer process: tells it from a recycled pid. */
const LB_VERB = '_local-lb';

export class LocalFleet {
  private readonly ioHost: IoHost;
  private readonly fleetDir: string;
  private readonly startTimeoutMs: number;
  private readonly graceMs: number;
  private readonly node: string;

  public constructor(props: LocalFleetProps) {
    this.ioHost = props.ioHost ?? silentIoHost;
    this.fleetDir = path.join(props.stateDir, 'fleet');
    this.startTimeoutMs = props.startTimeoutMs ?? 30_000;
    this.graceMs = props.graceMs ?? 15_000;
    this.node = props.node ?? process.execPath;
  }

  /**
   * Makes the release's app run and answer `GET /health`. Idempotent: a recorded process that is
   * alive and healthy (or becomes healthy within the start timeout) is reused, never doubled.
   */
  public async start(options: StartReleaseAppOptions): Promise<RunningRelease> {
    checkReleaseId(options.releaseId);
    if (!path.isAbsolute(options.appEntry) || !fs.existsSync(options.appEntry)) {
      throw userError('FLEET_APP_ENTRY_MISSING', `the app entry point ${options.appEntry} does not exist or is not an absolute path`, {
        fix: 'extract the release artifact first and pass the absolute path of its entry point',
      });
    }
    const recorded = this.read(options.releaseId);
    if (recorded) {
      const reused = await this.reuse(recorded, options);
      if (reused) return reused;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch(options);
      } catch (err) {
        // The free port can be taken between choosing it and the app binding it: choose again.
        const portTaken = ReleaseError.isReleaseError(err) && err.code === 'FLEET_APP_EXITED' && err.message.includes('EADDRINUSE');
        if (!portTaken || attempt >= LAUNCH_ATTEMPTS) throw err;
      }
    }
  }

  /** SIGTERM (the app drains), SIGKILL after the grace period, then the record is removed. A release with no record is fine. */
  public async stop(releaseId: string): Promise<StopReleaseAppResult> {
    checkReleaseId(releaseId);
    const record = this.read(releaseId);
    if (!record) {
      FLEET_IO.FLEET_I1103.emit(this.ioHost, `no local app is recorded for release ${releaseId}: nothing to stop`, { releaseId });
      return { stopped: false };
    }
    const running = isRunning(record.pid, record.appEntry);
    const outcome: TerminateOutcome = running ? await terminate(record.pid, this.graceMs) : 'not-running';
    // Its load balancer last: requests in flight through it reach the draining app.
    if (record.lbPid && isRunning(record.lbPid, LB_VERB)) await terminate(record.lbPid, this.graceMs);
    if (outcome === 'killed') FLEET_IO.FLEET_W1106.emit(this.ioHost, `the app of release ${releaseId} (pid ${record.pid}) ignored SIGTERM for ${this.graceMs} ms and was killed`, memberData(record));
    this.remove(releaseId);
    FLEET_IO.FLEET_I1102.emit(this.ioHost, `stopped the app of release ${releaseId} (pid ${record.pid}, ${outcome})`, { ...memberData(record), outcome });
    return { stopped: running };
  }

  /**
   * Where the app behind a load balancer DNS name answers (DNS names compare case-insensitively,
   * a trailing dot ignored). Reads the records only: it is called for every request of a client.
   */
  public async endpointOf(albDnsName: string): Promise<Endpoint> {
    const wanted = normalizeDnsName(albDnsName);
    const record = this.records().find((r) => normalizeDnsName(r.albDnsName) === wanted);
    if (!record?.lbPort) {
      throw userError('FLEET_NO_ENDPOINT', `no local app serves load balancer ${albDnsName} (none is recorded in ${displayPath(this.fleetDir)})`, {
        fix: 'deploy or re-run the release whose stack has this load balancer, then try again',
      });
    }
    return { host: record.host, port: record.lbPort };
  }

  /** Every recorded app, by release id, with whether it still runs. */
  public list(): FleetMember[] {
    return this.records().map((r) => ({ ...r, running: isRunning(r.pid, r.appEntry) }));
  }

  /** The recorded process, if it still is (or becomes) a healthy app of the same release. */
  private async reuse(record: FleetRecord, options: StartReleaseAppOptions): Promise<RunningRelease | undefined> {
    if (!isRunning(record.pid, record.appEntry)) {
      FLEET_IO.FLEET_W1104.emit(this.ioHost, `the recorded app of release ${record.releaseId} (pid ${record.pid}) is not running any more`, memberData(record));
      await this.forget(record);
      return undefined;
    }
    if (record.appEntry !== options.appEntry || normalizeDnsName(record.albDnsName) !== normalizeDnsName(options.albDnsName)) {
      // A release is immutable: the same id from another artifact or stack is a mistake, not an update.
      throw userError(
        'FLEET_RELEASE_CONFLICT',
        `release ${options.releaseId} already runs locally from ${record.appEntry} behind ${record.albDnsName}, not ${options.appEntry} behind ${options.albDnsName}`,
        { fix: `stop release ${options.releaseId} first` },
      );
    }
    try {
      // It may still be starting: the orchestrator can have died between the launch and the health check.
      await this.waitUntilHealthy(record);
    } catch (err) {
      FLEET_IO.FLEET_W1105.emit(this.ioHost, `the recorded app of release ${record.releaseId} (pid ${record.pid}) runs but is not healthy; starting it again`, {
        ...memberData(record),
        error: (err as Error).message,
      });
      await terminate(record.pid, this.graceMs);
      await this.forget(record);
      return undefined;
    }
    const withLb = await this.ensureLoadBalancer(record);
    FLEET_IO.FLEET_I1101.emit(this.ioHost, `reused the running app of release ${record.releaseId} on ${record.host}:${record.port} (pid ${record.pid})`, memberData(record));
    return { host: record.host, port: withLb.lbPort, pid: record.pid, started: false };
  }

  private async launch(options: StartReleaseAppOptions): Promise<RunningRelease> {
    fs.mkdirSync(this.fleetDir, { recursive: true });
    const [port] = await freePorts(1);
    const logFile = path.join(this.fleetDir, `${options.releaseId}.log`);
    const pid = await spawnDetached({
      command: this.node,
      // the app's packages resolve upwards from the artifact, which lies inside the project
      args: nodeArgsFor(options.appEntry),
      cwd: path.dirname(options.appEntry),
      env: appEnv(options.env ?? {}, port),
      logFile,
    });
    const record: FleetRecord = {
      releaseId: options.releaseId,
      albDnsName: options.albDnsName,
      host: LOOPBACK,
      port,
      pid,
      appEntry: options.appEntry,
      logFile,
      startedAt: new Date().toISOString(),
    };
    // Recorded before the health check, so that a crash of this process now leaves no unknown app behind.
    this.write(record);
    FLEET_IO.FLEET_D1107.emit(this.ioHost, `launched the app of release ${record.releaseId} (pid ${pid}) on port ${port}`, { ...memberData(record), logFile });
    try {
      await this.waitUntilHealthy(record);
    } catch (err) {
      if (isRunning(pid, record.appEntry)) await terminate(pid, this.graceMs);
      this.remove(record.releaseId);
      throw err;
    }
    const withLb = await this.ensureLoadBalancer(record);
    FLEET_IO.FLEET_I1100.emit(this.ioHost, `the app of release ${record.releaseId} answers on ${LOOPBACK}:${port} (pid ${pid})`, memberData(record));
    return { host: LOOPBACK, port: withLb.lbPort, pid, started: true };
  }

  /**
   * Starts the release's load balancer in front of its healthy app unless the recorded one runs,
   * and waits until `GET /health` answers through it. It reads the listener's rules before it listens.
   */
  private async ensureLoadBalancer(record: FleetRecord): Promise<FleetRecord & { lbPort: number; lbPid: number }> {
    if (record.lbPort && record.lbPid && isRunning(record.lbPid, LB_VERB)) {
      const recorded = { ...record, lbPort: record.lbPort, lbPid: record.lbPid };
      try {
        await this.waitUntilLoadBalancerHealthy(recorded);
        return recorded;
      } catch {
        await terminate(record.lbPid, this.graceMs);
      }
    }
    for (let attempt = 1; ; attempt++) {
      const [lbPort] = await freePorts(1);
      const lbPid = await spawnDetached({
        command: this.node,
        args: [...cliCommand(), LB_VERB, '--dns-name', record.albDnsName, '--app-port', String(record.port), '--port', String(lbPort)],
        env: process.env,
        logFile: lbLogFile(record),
        appendLog: true,
      });
      const withLb = { ...record, lbPort, lbPid };
      // Recorded before the wait, like the app: a crash now leaves no unknown process behind.
      this.write(withLb);
      try {
        await this.waitUntilLoadBalancerHealthy(withLb);
      } catch (err) {
        if (isRunning(lbPid, LB_VERB)) await terminate(lbPid, this.graceMs);
        // The free port can be taken between choosing it and binding it: choose again.
        const portTaken = ReleaseError.isReleaseError(err) && err.message.includes('EADDRINUSE');
        // Its own code: the app's launch retries on a taken port, and must not start a second app.
        if (!portTaken || attempt >= LAUNCH_ATTEMPTS) throw toolError('FLEET_LB_FAILED', messageOf(err), { cause: err });
        continue;
      }
      FLEET_IO.FLEET_I1108.emit(this.ioHost, `the load balancer of release ${record.releaseId} answers on ${LOOPBACK}:${lbPort} (pid ${lbPid})`, { ...memberData(record), lbPort, lbPid });
      return withLb;
    }
  }

  /** `GET /health` answers 200 through the load balancer: it has read its rules and reaches the app. */
  private waitUntilLoadBalancerHealthy(r: FleetRecord & { lbPort: number; lbPid: number }): Promise<void> {
    return this.waitUntilHealthy({ ...r, port: r.lbPort, pid: r.lbPid, appEntry: LB_VERB, logFile: lbLogFile(r) }, 'load balancer');
  }

  /** Polls `GET /health` until it answers 200; fails with the log's tail when the process exits or time runs out. */
  private async waitUntilHealthy(record: FleetRecord, what: 'app' | 'load balancer' = 'app'): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    let last: string;
    for (;;) {
      if (!isRunning(record.pid, record.appEntry)) {
        throw toolError(
          'FLEET_APP_EXITED',
          `the ${what} of release ${record.releaseId} (pid ${record.pid}) exited before it answered GET /health; last lines of ${displayPath(record.logFile)}:\n${tailOf(record.logFile)}`,
        );
      }
      last = await healthStatus(record.host, record.port);
      if (last === 'ok') return;
      if (Date.now() >= deadline) break;
      await sleep(HEALTH_POLL_MS);
    }
    throw toolError(
      'FLEET_APP_TIMEOUT',
      `the ${what} of release ${record.releaseId} (pid ${record.pid}) did not answer GET /health on ${record.host}:${record.port} within ${Math.round(this.startTimeoutMs / 1000)}s ` +
        `(last: ${last}); last lines of ${displayPath(record.logFile)}:\n${tailOf(record.logFile)}`,
    );
  }

  /** Removes a record whose app is gone, and the load balancer in front of it (it forwards to the old app's port). */
  private async forget(record: FleetRecord): Promise<void> {
    if (record.lbPid && isRunning(record.lbPid, LB_VERB)) await terminate(record.lbPid, this.graceMs);
    this.remove(record.releaseId);
  }

  private recordFile(releaseId: string): string {
    return path.join(this.fleetDir, `${releaseId}.json`);
  }

  private read(releaseId: string): FleetRecord | undefined {
    return readRecord(this.recordFile(releaseId));
  }

  private records(): FleetRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.fleetDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .sort()
      .map((n) => readRecord(path.join(this.fleetDir, n)))
      .filter((r): r is FleetRecord => r !== undefined);
  }

  /** Atomic (a concurrent reader never sees half a record). */
  private write(record: FleetRecord): void {
    const file = this.recordFile(record.releaseId);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n');
    fs.renameSync(tmp, file);
  }

  private remove(releaseId: string): void {
    fs.rmSync(this.recordFile(releaseId), { force: true });
  }
}

function readRecord(file: string): FleetRecord | undefined {
  return readJsonFile(file, RECORD, (detail) => corruptRecord(file, detail));
}

function corruptRecord(file: string, detail: string) {
  return userError('FLEET_RECORD_INVALID', `the local fleet record ${displayPath(file)} is not valid (${detail})`, {
    fix: 'stop the process it names by hand and delete the file',
  });
}

function checkReleaseId(releaseId: string): void {
  if (!RELEASE_ID.test(releaseId)) {
    throw userError('FLEET_RELEASE_ID_INVALID', `release id "${releaseId}" cannot name a local fleet record`, {
      fix: 'use letters, digits, ".", "_" and "-" only (at most 128), starting with a letter or digit',
    });
  }
}

/**
 * The app's environment: like an instance of the stack, it gets only its configuration — the AWS
 * settings of this process (endpoints, region, credentials), the release's own `env`, and where
 * to listen.
 */
function appEnv(env: Readonly<Record<string, string>>, port: number): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && (name.startsWith('AWS_') || INHERITED_ENV.includes(name))) out[name] = value;
  }
  return { ...out, ...env, PORT: String(port), HOST: LOOPBACK };
}

/** 'ok' when GET /health answers 200, else what happened (for the timeout message). */
function healthStatus(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/health', agent: false, timeout: HEALTH_PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? 'ok' : `HTTP ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${HEALTH_PROBE_TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve(err.message));
  });
}

function lbLogFile(r: FleetRecord): string {
  return path.join(path.dirname(r.logFile), `${r.releaseId}.lb.log`);
}

function normalizeDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function memberData(r: FleetRecord): MemberData {
  return { releaseId: r.releaseId, albDnsName: r.albDnsName, port: r.port, pid: r.pid };
}
