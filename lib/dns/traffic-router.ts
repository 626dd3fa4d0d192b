import {
  ChangeResourceRecordSetsCommand,
  Route53Client,
  waitUntilResourceRecordSetsChanged,
  type Change,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { messageOf, toolError, userError } from '../errors';
import type { IoHost } from '../io';
import { DNS_IO } from './messages';
import { validateSteps } from './parse';
import { canonicalName, isWeightedCname, listRecordSetsOf, stripDot, weightedRecordSet } from './record-sets';

export const ROUTE_TARGETS_INVALID = 'ROUTE_TARGETS_INVALID';
export const ROUTE_RECORD_CONFLICT = 'ROUTE_RECORD_CONFLICT';
export const ROUTE_INSYNC_TIMEOUT = 'ROUTE_INSYNC_TIMEOUT';
export const ROUTE_UNHEALTHY = 'ROUTE_UNHEALTHY';

/** One release's share of the public record. */
export interface WeightedTarget {
  /** The release id, used as the record set's SetIdentifier, e.g. `sha-0123456789ab`. */
  readonly releaseId: string;
  /** The release's load balancer DNS name: the CNAME's value. */
  readonly dnsName: string;
  /** Route 53 weight, 0..255; a share is weight / sum of weights (all zero = equal shares). */
  readonly weight: number;
}

/** A release that can take traffic. */
export interface ReleaseEndpoint {
  readonly releaseId: string;
  readonly dnsName: string;
}

export interface RouteResult {
  /** The Route 53 change, INSYNC when returned (without the `/change/` prefix). */
  readonly changeId: string;
}

export interface TrafficRouterProps {
  readonly ioHost: IoHost;
  readonly hostedZoneId: string;
  /** The public name, e.g. `www.catalog.example.test`. */
  readonly recordName: string;
  /**
   * TTL of the record sets. Short, because a flip or a rollback takes effect for a client only when
   * its cached answer expires.
   * @default 5
   */
  readonly ttlSeconds?: number;
  /** @default - a client from the environment's configuration */
  readonly route53?: Route53Client;
  /** How long to wait for a change to be INSYNC before failing. @default 900 */
  readonly insyncTimeoutSeconds?: number;
}

const MAX_WEIGHT = 255;
/** Route 53 usually propagates in under a minute; the waiter's default delays (30 s, up to 120 s) overshoot that. */
const INSYNC_POLL_SECONDS = 5;
const INSYNC_MAX_POLL_SECONDS = 30;

/**
 * The Route 53 flip. The public record is a set of weighted CNAME record sets, one per release
 * (SetIdentifier = release id, value = the release's load balancer DNS name).
 *
 * CNAME rather than an alias record: an alias answers with the load balancer's own TTL (60 s), and
 * we need clients to re-resolve within a TTL we choose, so that a flip and above all a rollback
 * take effect within seconds.
 */
export class TrafficRouter {
  public readonly recordName: string;
  private readonly ioHost: IoHost;
  private readonly hostedZoneId: string;
  private readonly ttlSeconds: number;
  private readonly route53: Route53Client;
  private readonly insyncTimeoutSeconds: number;

  public constructor(props: TrafficRouterProps) {
    this.ioHost = props.ioHost;
    this.hostedZoneId = props.hostedZoneId;
    this.recordName = stripDot(props.recordName);
    this.ttlSeconds = props.ttlSeconds ?? 5;
    this.route53 = props.route53 ?? new Route53Client({});
    this.insyncTimeoutSeconds = props.insyncTimeoutSeconds ?? 900;
  }

  /** The releases the record points at now, with their weights. */
  public async current(): Promise<WeightedTarget[]> {
    const sets = await this.recordSets();
    return sets.filter(isWeightedCname).map((s) => {
      const { releaseId, dnsName, weight } = weightedRecordSet(s);
      return { releaseId, dnsName, weight };
    });
  }

  /**
   * Make the record exactly `targets`, in one change batch: UPSERT each target, DELETE every other
   * CNAME record set of this name; then wait until the change is INSYNC. Re-running with the same
   * targets changes nothing (an UPSERT of equal values is accepted, nothing is left to delete).
   *
   * The DELETEs repeat the record sets as listed; a concurrent writer would make them fail rather
   * than be overwritten blindly. The release lock keeps that from happening in normal use.
   */
  public async route(targets: readonly WeightedTarget[]): Promise<RouteResult> {
    validateTargets(targets);
    const existing = await this.recordSets();
    const blocking = existing.filter((s) => s.Type !== 'CNAME');
    if (blocking.length > 0) {
      const types = [...new Set(blocking.map((s) => s.Type))].join(', ');
      throw userError(ROUTE_RECORD_CONFLICT, `${this.recordName} has ${types} record(s), which cannot coexist with the CNAME records of the flip`, {
        fix: `delete the ${types} record(s) of ${this.recordName} from hosted zone ${this.hostedZoneId}`,
      });
    }
    const keep = new Set(targets.map((t) => t.releaseId));
    const stale = existing.filter((s) => s.SetIdentifier === undefined || !keep.has(s.SetIdentifier));
    // DELETEs first: a plain (unweighted) CNAME must go before weighted ones of the name can exist.
    const changes: Change[] = [
      ...stale.map((s): Change => ({ Action: 'DELETE', ResourceRecordSet: s })),
      ...targets.map((t): Change => ({ Action: 'UPSERT', ResourceRecordSet: this.recordSetOf(t) })),
    ];
    const response = await this.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: this.hostedZoneId,
        ChangeBatch: { Comment: `stackshift: ${targets.map((t) => `${t.releaseId}=${t.weight}`).join(' ')}`, Changes: changes },
      }),
    );
    const changeId = (response.ChangeInfo?.Id ?? '').replace(/^\/change\//, '');
    if (!changeId) throw toolError('ROUTE_CHANGE_ID_MISSING', `Route 53 accepted the change of ${this.recordName} but returned no change id`);
    DNS_IO.DNS_I7000.emit(this.ioHost, `${this.recordName} → ${targets.map((t) => `${t.releaseId} (${t.weight})`).join(', ')}`, {
      recordName: this.recordName,
      changeId,
      targets: targets.map((t) => ({ releaseId: t.releaseId, dnsName: t.dnsName, weight: t.weight })),
      deleted: stale.map((s) => s.SetIdentifier ?? '(unweighted)'),
    });
    await this.waitInsync(changeId);
    return { changeId };
  }

  /** Wait until every Route 53 name server serves the change. */
  public async waitInsync(changeId: string): Promise<void> {
    const started = Date.now();
    // A short timeout still polls more than once (the waiter wants maxWaitTime > minDelay).
    const minDelay = Math.min(INSYNC_POLL_SECONDS, this.insyncTimeoutSeconds / 2);
    try {
      await waitUntilResourceRecordSetsChanged(
        { client: this.route53, maxWaitTime: this.insyncTimeoutSeconds, minDelay, maxDelay: Math.max(minDelay, INSYNC_MAX_POLL_SECONDS) },
        { Id: changeId },
      );
    } catch (err) {
      throw toolError(ROUTE_INSYNC_TIMEOUT, `Route 53 change ${changeId} of ${this.recordName} was not INSYNC within ${this.insyncTimeoutSeconds} s (${messageOf(err)})`, {
        fix: 're-run the command: routing again with the same targets is safe',
        cause: err,
      });
    }
    const seconds = (Date.now() - started) / 1000;
    DNS_IO.DNS_I7001.emit(this.ioHost, `change ${changeId} is INSYNC`, { recordName: this.recordName, changeId, seconds });
  }

  private async recordSets(): Promise<ResourceRecordSet[]> {
    return listRecordSetsOf(this.route53, { hostedZoneId: this.hostedZoneId, recordName: this.recordName });
  }

  private recordSetOf(t: WeightedTarget): ResourceRecordSet {
    return {
      Name: canonicalName(this.recordName),
      Type: 'CNAME',
      SetIdentifier: t.releaseId,
      Weight: t.weight,
      TTL: this.ttlSeconds,
      ResourceRecords: [{ Value: t.dnsName }],
    };
  }
}

function validateTargets(targets: readonly WeightedTarget[]): void {
  const fail = (problem: string, fix: string) => userError(ROUTE_TARGETS_INVALID, `invalid traffic targets: ${problem}`, { fix });
  if (targets.length === 0) throw fail('no targets (that would delete the public record)', 'route to at least one release');
  const seen = new Set<string>();
  for (const t of targets) {
    if (!/^[\w.-]{1,128}$/.test(t.releaseId)) throw fail(`release id "${t.releaseId}"`, 'use 1 to 128 letters, digits, ".", "_" or "-", e.g. sha-0123456789ab');
    if (seen.has(t.releaseId)) throw fail(`release ${t.releaseId} appears twice`, 'give each release once');
    seen.add(t.releaseId);
    if (!Number.isInteger(t.weight) || t.weight < 0 || t.weight > MAX_WEIGHT) {
      throw fail(`weight ${t.weight} of ${t.releaseId}`, `use a whole number from 0 to ${MAX_WEIGHT}`);
    }
    if (!t.dnsName.trim()) throw fail(`release ${t.releaseId} has an empty DNS name`, "give the release's load balancer DNS name");
  }
}

export interface ShiftTrafficOptions {
  readonly router: TrafficRouter;
  readonly ioHost: IoHost;
  /** The release serving now. @default - none: the first release takes all traffic in one step */
  readonly from?: ReleaseEndpoint;
  /** The release to shift traffic to. */
  readonly to: ReleaseEndpoint;
  /** Percentages of traffic for `to`, ascending, the last one 100. @default [100] */
  readonly steps?: readonly number[];
  /** How long each step runs before its health check. @default 0 */
  readonly intervalMs?: number;
  /** Is `to` healthy under its share? A throw counts as unhealthy. @default - every step is healthy */
  readonly healthCheck?: () => Promise<boolean>;
  /**
   * Called before each step is routed; a throw leaves traffic where it is (at the step before), so
   * this is where a caller refuses to move traffic it cannot keep consistent. @default - none
   */
  readonly beforeStep?: (percent: number) => Promise<void>;
  /** Called after each healthy step, e.g. to checkpoint the percentage. @default - none */
  readonly onStep?: (percent: number) => Promise<void>;
  /** @default - a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Move traffic from `from` to `to` in steps: route {to: p, from: 100 - p}, wait INSYNC, let the step
 * run `intervalMs`, check health. An unhealthy step routes everything back to `from` and throws
 * ROUTE_UNHEALTHY. At 100 the `from` record set is deleted.
 *
 * Resumable: steps below the share `to` already has are skipped, so a re-run after a crash does not
 * pull traffic back from a step that was reached (the step it was on is routed and checked again).
 */
export async function shiftTraffic(options: ShiftTrafficOptions): Promise<RouteResult> {
  const { router, ioHost, from, to } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  if (from && from.releaseId === to.releaseId) {
    throw userError(ROUTE_TARGETS_INVALID, `cannot shift traffic from release ${to.releaseId} to itself`, { fix: 'name the release serving now as `from`' });
  }
  // With no release serving, there is nothing to shift from: all traffic goes to `to` at once.
  const steps = from ? validateSteps(options.steps ?? [100]) : [100];
  const reached = shareOf(await router.current(), to.releaseId);
  const remaining = steps.filter((p, i) => p >= reached || i === steps.length - 1);
  DNS_IO.DNS_I7004.emit(ioHost, `shifting ${router.recordName} to ${to.releaseId} in steps ${remaining.join(', ')}%`, {
    to: to.releaseId,
    from: from?.releaseId,
    steps: remaining,
  });

  let last: RouteResult | undefined;
  for (const percent of remaining) {
    if (options.beforeStep) await options.beforeStep(percent);
    const targets: WeightedTarget[] = [{ ...to, weight: percent }];
    if (from && percent < 100) targets.push({ ...from, weight: 100 - percent });
    last = await router.route(targets);
    if (options.intervalMs) {
      // a person watching a long step sees what it waits for, and for how long
      DNS_IO.DNS_I7008.emit(ioHost, `${percent} % of traffic on ${to.releaseId} for ${Math.round(options.intervalMs / 100) / 10} s, then its health check`, {
        releaseId: to.releaseId,
        percent,
        waitMs: options.intervalMs,
      });
      await sleep(options.intervalMs);
    }
    const health = await checkHealth(options.healthCheck);
    if (!health.healthy) {
      if (from) await router.route([{ ...from, weight: 100 }]);
      DNS_IO.DNS_W7003.emit(ioHost, `${to.releaseId} is unhealthy at ${percent}%${from ? `: all traffic is back on ${from.releaseId}` : ''}`, {
        percent,
        to: to.releaseId,
        from: from?.releaseId,
        error: health.error,
      });
      throw userError(
        ROUTE_UNHEALTHY,
        from
          ? `release ${to.releaseId} failed its health check at ${percent}% of traffic; all traffic is back on ${from.releaseId}`
          : `release ${to.releaseId} failed its health check with all traffic, and no previous release was given to route back to`,
        { fix: `inspect release ${to.releaseId}, then promote again`, cause: health.error },
      );
    }
    if (options.onStep) await options.onStep(percent);
    DNS_IO.DNS_I7002.emit(ioHost, `${to.releaseId} takes ${percent}% of traffic`, { percent, to: to.releaseId, from: from?.releaseId });
  }
  DNS_IO.DNS_I7005.emit(ioHost, `${to.releaseId} takes all traffic of ${router.recordName}`, { to: to.releaseId, from: from?.releaseId });
  return last!;
}

/** Percentage of traffic a release gets from these targets (all-zero weights share equally). */
export function shareOf(targets: readonly WeightedTarget[], releaseId: string): number {
  const mine = targets.find((t) => t.releaseId === releaseId);
  if (!mine) return 0;
  const total = targets.reduce((sum, t) => sum + t.weight, 0);
  return total === 0 ? Math.round(100 / targets.length) : Math.round((100 * mine.weight) / total);
}

async function checkHealth(check: (() => Promise<boolean>) | undefined): Promise<{ healthy: boolean; error?: string }> {
  if (!check) return { healthy: true };
  try {
    return { healthy: await check() };
  } catch (err) {
    return { healthy: false, error: messageOf(err) };
  }
}
