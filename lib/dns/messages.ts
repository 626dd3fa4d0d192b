import { make } from '../io/messages';

const info = <T = undefined>(code: string, d: string) => make<T>('info')(code, d);
const warn = <T = undefined>(code: string, d: string) => make<T>('warn')(code, d);
const debug = <T = undefined>(code: string, d: string) => make<T>('debug')(code, d);

/** A release's share of the public record, as reported in messages. */
export interface TargetData {
  readonly releaseId: string;
  readonly dnsName: string;
  readonly weight: number;
}

/** Route 53 codes (lib/dns): the weighted flip, traffic steps, and the resolver. Same scheme as lib/io/messages.ts. */
export const DNS_IO = {
  DNS_I7000: info<{ recordName: string; changeId: string; targets: TargetData[]; deleted: string[] }>('DNS_I7000', 'the weighted record sets of the public record were changed'),
  DNS_I7001: info<{ recordName: string; changeId: string; seconds: number }>('DNS_I7001', 'a Route 53 change is INSYNC (served by every Route 53 name server)'),
  DNS_I7002: info<{ percent: number; to: string; from?: string }>('DNS_I7002', 'a traffic step is routed, INSYNC and healthy'),
  DNS_W7003: warn<{ percent: number; to: string; from?: string; error?: string }>('DNS_W7003', 'a traffic step failed its health check; all traffic was routed back'),
  DNS_I7004: info<{ to: string; from?: string; steps: number[] }>('DNS_I7004', 'a traffic shift started'),
  DNS_I7005: info<{ to: string; from?: string }>('DNS_I7005', 'a traffic shift finished: the new release takes all traffic'),
  DNS_D7006: debug<{ recordName: string; sets: number; ttlSeconds: number }>('DNS_D7006', 'the resolver read the weighted record sets (cached for their TTL)'),
  DNS_I7008: info<{ releaseId: string; percent: number; waitMs: number }>('DNS_I7008', 'a weighted step runs its interval before the health check'),
} as const;
