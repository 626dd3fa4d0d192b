import { Route53Client } from '@aws-sdk/client-route-53';
import { userError } from '../errors';
import { silentIoHost, type IoHost } from '../io';
import { DNS_IO } from './messages';
import { isWeightedCname, listRecordSetsOf, stripDot, weightedRecordSet, type WeightedRecordSet } from './record-sets';

export const DNS_NO_TARGETS = 'DNS_NO_TARGETS';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ResolvedTarget extends Endpoint {
  readonly releaseId: string;
  readonly dnsName: string;
}

export interface RecordResolverProps {
  readonly hostedZoneId: string;
  /** The public name, e.g. `www.catalog.example.test`. */
  readonly recordName: string;
  /** Where a release's DNS name (a load balancer's) is served, e.g. a local process's port. */
  readonly endpointOf: (dnsName: string) => Promise<Endpoint>;
  /** @default - a client from the environment's configuration */
  readonly route53?: Route53Client;
  /** Milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
  /** Uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** @default - reports nowhere */
  readonly ioHost?: IoHost;
  /**
   * Keep the chosen answer for the TTL, as a stub resolver's cache does: one client then talks to
   * one release until its cached answer expires. Off, every `resolve` draws again (what Route 53
   * does per query, i.e. many clients behind one name). @default false
   */
  readonly cacheAnswer?: boolean;
}

/**
 * What a DNS client does with the weighted record, for the local traffic generator and release
 * checks: read the record sets, keep the answer for its TTL, pick one release by weight (as Route 53
 * does for each query), and find where that release is served.
 */
export class RecordResolver {
  private readonly props: RecordResolverProps;
  private readonly route53: Route53Client;
  private readonly clock: () => number;
  private readonly random: () => number;
  private cached?: { readonly sets: WeightedRecordSet[]; readonly expiresAt: number };
  private answer?: ResolvedTarget;

  public constructor(props: RecordResolverProps) {
    this.props = props;
    this.route53 = props.route53 ?? new Route53Client({});
    this.clock = props.clock ?? Date.now;
    this.random = props.random ?? Math.random;
  }

  public async resolve(): Promise<ResolvedTarget> {
    const cachedBefore = this.cached;
    const sets = await this.recordSets();
    if (this.props.cacheAnswer && this.answer && this.cached === cachedBefore) return this.answer;
    const chosen = pickByWeight(sets, this.random());
    const endpoint = await this.props.endpointOf(chosen.dnsName);
    this.answer = { releaseId: chosen.releaseId, dnsName: chosen.dnsName, host: endpoint.host, port: endpoint.port };
    return this.answer;
  }

  /** The weighted record sets, from the cache while their TTL lasts (the smallest TTL among them). */
  private async recordSets(): Promise<WeightedRecordSet[]> {
    const now = this.clock();
    if (this.cached && now < this.cached.expiresAt) return this.cached.sets;
    const all = await listRecordSetsOf(this.route53, { hostedZoneId: this.props.hostedZoneId, recordName: this.props.recordName });
    const sets = all.filter(isWeightedCname).map(weightedRecordSet);
    if (sets.length === 0) {
      this.cached = undefined;
      throw userError(DNS_NO_TARGETS, `${stripDot(this.props.recordName)} has no weighted CNAME records in hosted zone ${this.props.hostedZoneId}`, {
        fix: 'promote a release first',
      });
    }
    const ttlSeconds = Math.min(...sets.map((s) => s.ttlSeconds));
    this.cached = { sets, expiresAt: now + ttlSeconds * 1000 };
    DNS_IO.DNS_D7006.emit(this.props.ioHost ?? silentIoHost, `read ${sets.length} record set(s) of ${this.props.recordName}`, {
      recordName: this.props.recordName,
      sets: sets.length,
      ttlSeconds,
    });
    return sets;
  }
}

/**
 * The record set a draw `r` in [0, 1) lands on: each set owns a slice of [0, 1) as wide as its
 * weight's share. Zero-weight sets are never picked unless all weights are zero, then all are equal
 * (Route 53's rule).
 */
export function pickByWeight<T extends { readonly weight: number }>(sets: readonly T[], r: number): T {
  if (sets.length === 0) throw new RangeError('pickByWeight needs at least one record set');
  const total = sets.reduce((sum, s) => sum + s.weight, 0);
  const weightOf = (s: T) => (total === 0 ? 1 : s.weight);
  const scale = total === 0 ? sets.length : total;
  let point = r * scale;
  for (const s of sets) {
    const w = weightOf(s);
    if (point < w) return s;
    point -= w;
  }
  // r * scale rounding to the very top: the last set with a share.
  return [...sets].reverse().find((s) => weightOf(s) > 0)!;
}
