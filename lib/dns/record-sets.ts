import { ListResourceRecordSetsCommand, type ResourceRecordSet, type Route53Client } from '@aws-sdk/client-route-53';
import { toolError } from '../errors';

/**
 * Reading the record sets of one name. The SDK has no paginator for ListResourceRecordSets (its
 * cursor is three fields: name, type and set identifier), so this is one in the SDK's shape: an
 * async iterator of pages that stops as soon as the listing moves past the name.
 */
export interface RecordSetPageInput {
  readonly hostedZoneId: string;
  readonly recordName: string;
  /** Record sets per page. @default - the service's default (300) */
  readonly pageSize?: number;
}

export async function* paginateRecordSetsOf(client: Route53Client, input: RecordSetPageInput): AsyncGenerator<ResourceRecordSet[]> {
  const wanted = canonicalName(input.recordName);
  let cursor: { name?: string; type?: string; identifier?: string } = { name: wanted };
  for (;;) {
    const page = await client.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: input.hostedZoneId,
        StartRecordName: cursor.name,
        StartRecordType: cursor.type as ResourceRecordSet['Type'],
        StartRecordIdentifier: cursor.identifier,
        MaxItems: input.pageSize,
      }),
    );
    const sets = page.ResourceRecordSets ?? [];
    const ours = sets.filter((s) => canonicalName(s.Name ?? '') === wanted);
    yield ours;
    // Listings are sorted by name, so a page that ends on another name has shown all of ours.
    const last = sets.at(-1);
    if (!page.IsTruncated || (last && canonicalName(last.Name ?? '') !== wanted)) return;
    const next = { name: page.NextRecordName, type: page.NextRecordType, identifier: page.NextRecordIdentifier };
    // A cursor that does not move would list the same page forever (moto ignores StartRecordIdentifier,
    // so a page boundary inside one name's weighted sets repeats).
    if (next.name === cursor.name && next.type === cursor.type && next.identifier === cursor.identifier) {
      throw toolError('ROUTE_LIST_STUCK', `listing the record sets of ${input.recordName} returned the same cursor twice (${next.name} ${next.type} ${next.identifier ?? '-'})`, {
        fix: 'list with a larger page size',
      });
    }
    cursor = next;
  }
}

/** Every record set of the name, all types. */
export async function listRecordSetsOf(client: Route53Client, input: RecordSetPageInput): Promise<ResourceRecordSet[]> {
  const out: ResourceRecordSet[] = [];
  for await (const page of paginateRecordSetsOf(client, input)) out.push(...page);
  return out;
}

/** A weighted CNAME record set: one release's share of the public record. */
export interface WeightedRecordSet {
  readonly releaseId: string;
  readonly dnsName: string;
  readonly weight: number;
  readonly ttlSeconds: number;
}

export function isWeightedCname(set: ResourceRecordSet): boolean {
  return set.Type === 'CNAME' && set.SetIdentifier !== undefined && set.Weight !== undefined && (set.ResourceRecords?.length ?? 0) > 0;
}

export function weightedRecordSet(set: ResourceRecordSet): WeightedRecordSet {
  return {
    releaseId: set.SetIdentifier!,
    dnsName: stripDot(set.ResourceRecords![0].Value!),
    weight: set.Weight!,
    ttlSeconds: set.TTL ?? 0,
  };
}

/**
 * Route 53 returns names lowercased, fully qualified (trailing dot) and with some characters
 * escaped as octal (`*` is `\052`); compare names in that form.
 */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase().replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return lower.endsWith('.') ? lower : `${lower}.`;
}

export function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
