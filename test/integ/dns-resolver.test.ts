import { randomBytes } from 'node:crypto';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { beforeEach, describe, expect, it } from 'vitest';
import { DNS_IO } from '../../lib/dns/messages';
import { DNS_NO_TARGETS, RecordResolver } from '../../lib/dns/record-resolver';
import { TrafficRouter } from '../../lib/dns/traffic-router';
import { ReleaseError } from '../../lib/errors';
import { RecordingIoHost } from '../../lib/io';

// GIVEN moto's Route 53 and a record routed by the TrafficRouter
const route53 = new Route53Client({});
const A = { releaseId: 'sha-aaaaaaaaaaaa', dnsName: 'a.elb.test' };
const B = { releaseId: 'sha-bbbbbbbbbbbb', dnsName: 'b.elb.test' };
const PORTS: Record<string, number> = { [A.dnsName]: 8001, [B.dnsName]: 8002 };

describe('RecordResolver on moto Route 53', () => {
  let zoneId: string;
  let recordName: string;
  let router: TrafficRouter;
  let now: number;
  let draw: number;
  let io: RecordingIoHost;
  let resolver: RecordResolver;

  beforeEach(async () => {
    const zoneName = `r${randomBytes(4).toString('hex')}.example.test`;
    recordName = `www.${zoneName}`;
    const zone = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: randomBytes(8).toString('hex') }));
    zoneId = zone.HostedZone!.Id!;
    router = new TrafficRouter({ ioHost: new RecordingIoHost(), hostedZoneId: zoneId, recordName, ttlSeconds: 5 });
    now = 1_000_000;
    draw = 0;
    io = new RecordingIoHost();
    resolver = new RecordResolver({
      hostedZoneId: zoneId,
      recordName,
      route53,
      ioHost: io,
      clock: () => now,
      random: () => draw,
      endpointOf: async (dnsName) => ({ host: '127.0.0.1', port: PORTS[dnsName] }),
    });
  });

  it('picks a release by weight and maps its DNS name to where it is served', async () => {
    await router.route([
      { ...A, weight: 25 },
      { ...B, weight: 75 },
    ]);

    draw = 0.1;
    const first = await resolver.resolve();
    draw = 0.9;
    const second = await resolver.resolve();

    // Route 53 lists weighted sets of one name in its own order; draws at both ends land on both releases either way.
    const byRelease = Object.fromEntries([first, second].map((r) => [r.releaseId, r]));
    expect(new Set([first.releaseId, second.releaseId]).size).toBe(2);
    expect(byRelease[A.releaseId]).toEqual({ ...A, host: '127.0.0.1', port: 8001 });
    expect(byRelease[B.releaseId]).toEqual({ ...B, host: '127.0.0.1', port: 8002 });
  });

  it('never answers with a zero-weight release while another has weight', async () => {
    await router.route([
      { ...A, weight: 0 },
      { ...B, weight: 1 },
    ]);
    const answers = new Set<string>();
    for (const r of [0, 0.25, 0.5, 0.75, 0.999]) {
      draw = r;
      answers.add((await resolver.resolve()).releaseId);
    }
    expect([...answers]).toEqual([B.releaseId]);
  });

  it('keeps its answer for the TTL and reads the record again after it', async () => {
    await router.route([{ ...A, weight: 100 }]);
    expect((await resolver.resolve()).releaseId).toBe(A.releaseId);

    await router.route([{ ...B, weight: 100 }]);
    now += 4_999;
    const withinTtl = await resolver.resolve();
    now += 1;
    const afterTtl = await resolver.resolve();

    expect(withinTtl.releaseId).toBe(A.releaseId);
    expect(afterTtl.releaseId).toBe(B.releaseId);
    expect(io.withCode<{ ttlSeconds: number }>(DNS_IO.DNS_D7006.code).map((m) => m.data!.ttlSeconds)).toEqual([5, 5]);
  });

  it('GIVEN no record THEN DNS_NO_TARGETS, a user error', async () => {
    const err = await resolver.resolve().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(ReleaseError.isUserError(err) && err.code).toBe(DNS_NO_TARGETS);
  });
});
