import { randomBytes } from 'node:crypto';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { beforeEach, describe, expect, it } from 'vitest';
import { DNS_IO } from '../../lib/dns/messages';
import { listRecordSetsOf } from '../../lib/dns/record-sets';
import { ROUTE_RECORD_CONFLICT, ROUTE_UNHEALTHY, shiftTraffic, TrafficRouter, type WeightedTarget } from '../../lib/dns/traffic-router';
import { RecordingIoHost } from '../../lib/io';
import { rejection } from '../_helpers/rejection';

// GIVEN moto's Route 53 (started by the global setup); each test gets a zone of its own
const route53 = new Route53Client({});
const A = { releaseId: 'sha-aaaaaaaaaaaa', dnsName: 'a-123.us-east-1.elb.amazonaws.com' };
const B = { releaseId: 'sha-bbbbbbbbbbbb', dnsName: 'b-456.us-east-1.elb.amazonaws.com' };
const C = { releaseId: 'sha-cccccccccccc', dnsName: 'c-789.us-east-1.elb.amazonaws.com' };
const noSleep = async () => undefined;

const byId = (targets: WeightedTarget[]) => Object.fromEntries(targets.map((t) => [t.releaseId, t.weight]));

describe('TrafficRouter on moto Route 53', () => {
  let zoneId: string;
  let zoneName: string;
  let recordName: string;
  let io: RecordingIoHost;
  let router: TrafficRouter;

  beforeEach(async () => {
    zoneName = `z${randomBytes(4).toString('hex')}.example.test`;
    recordName = `www.${zoneName}`;
    const zone = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: randomBytes(8).toString('hex') }));
    zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
    io = new RecordingIoHost();
    router = new TrafficRouter({ ioHost: io, hostedZoneId: zoneId, recordName });
  });

  async function put(name: string, set: Record<string, unknown>): Promise<void> {
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: name, TTL: 60, ...set } as never }] },
      }),
    );
  }

  it('WHEN routing to one release THEN the record is one weighted CNAME with the default 5 s TTL', async () => {
    const { changeId } = await router.route([{ ...A, weight: 100 }]);

    expect(changeId).toMatch(/^[A-Z0-9]+$/);
    expect(await router.current()).toEqual([{ ...A, weight: 100 }]);
    const sets = await listRecordSetsOf(route53, { hostedZoneId: zoneId, recordName });
    expect(sets).toEqual([
      { Name: `${recordName}.`, Type: 'CNAME', SetIdentifier: A.releaseId, Weight: 100, TTL: 5, ResourceRecords: [{ Value: A.dnsName }] },
    ]);
    expect(io.codes()).toEqual([DNS_IO.DNS_I7000.code, DNS_IO.DNS_I7001.code]);
  });

  it('WHEN routing the same targets twice THEN the second run changes nothing and succeeds', async () => {
    const targets = [
      { ...A, weight: 90 },
      { ...B, weight: 10 },
    ];
    await router.route(targets);
    const before = await listRecordSetsOf(route53, { hostedZoneId: zoneId, recordName });

    await router.route(targets);

    expect(await listRecordSetsOf(route53, { hostedZoneId: zoneId, recordName })).toEqual(before);
    expect(io.withCode<{ deleted: string[] }>(DNS_IO.DNS_I7000.code).map((m) => m.data!.deleted)).toEqual([[], []]);
  });

  it('WHEN routing to new targets THEN record sets not named are deleted and other names are left alone', async () => {
    // Another set identifier than A's: moto deletes a weighted record set by SetIdentifier alone,
    // across every name of the zone (Route 53 matches name, type and identifier).
    await put(`api.${zoneName}`, { Type: 'CNAME', SetIdentifier: 'api-a', Weight: 1, ResourceRecords: [{ Value: A.dnsName }] });
    await put(`other.${zoneName}`, { Type: 'A', ResourceRecords: [{ Value: '192.0.2.1' }] });
    await router.route([
      { ...A, weight: 50 },
      { ...C, weight: 50 },
    ]);

    await router.route([
      { ...B, weight: 0 },
      { ...C, weight: 100 },
    ]);

    expect(byId(await router.current())).toEqual({ [B.releaseId]: 0, [C.releaseId]: 100 });
    expect(io.withCode<{ deleted: string[] }>(DNS_IO.DNS_I7000.code).at(-1)!.data!.deleted).toEqual([A.releaseId]);
    const all = (await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets!;
    expect(all.filter((s) => s.Name === `api.${zoneName}.`)).toHaveLength(1);
    expect(all.filter((s) => s.Name === `other.${zoneName}.`)).toHaveLength(1);
  });

  it('GIVEN a plain CNAME on the name WHEN routing THEN it is replaced by the weighted record sets', async () => {
    await put(recordName, { Type: 'CNAME', ResourceRecords: [{ Value: 'legacy.example.test' }] });

    await router.route([{ ...A, weight: 100 }]);

    const sets = await listRecordSetsOf(route53, { hostedZoneId: zoneId, recordName });
    expect(sets.map((s) => s.SetIdentifier)).toEqual([A.releaseId]);
  });

  it('GIVEN an A record on the name WHEN routing THEN ROUTE_RECORD_CONFLICT and the A record is kept', async () => {
    await put(recordName, { Type: 'A', ResourceRecords: [{ Value: '192.0.2.7' }] });

    const err = await rejection(router.route([{ ...A, weight: 100 }]));

    expect(err.code).toBe(ROUTE_RECORD_CONFLICT);
    expect(err.source).toBe('user');
    expect(err.message).toContain(recordName);
    expect((await listRecordSetsOf(route53, { hostedZoneId: zoneId, recordName })).map((s) => s.Type)).toEqual(['A']);
  });
});

describe('shiftTraffic on moto Route 53', () => {
  let zoneId: string;
  let recordName: string;
  let io: RecordingIoHost;
  let router: TrafficRouter;

  beforeEach(async () => {
    const zoneName = `s${randomBytes(4).toString('hex')}.example.test`;
    recordName = `www.${zoneName}`;
    const zone = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: randomBytes(8).toString('hex') }));
    zoneId = zone.HostedZone!.Id!;
    io = new RecordingIoHost();
    router = new TrafficRouter({ ioHost: io, hostedZoneId: zoneId, recordName, ttlSeconds: 1 });
    await router.route([{ ...A, weight: 100 }]);
    io.messages.length = 0;
  });

  it('WHEN shifting in steps THEN each step is routed before its health check and at 100 the old record set is gone', async () => {
    const seenByHealthCheck: Record<string, number>[] = [];
    const checkpoints: number[] = [];

    await shiftTraffic({
      router,
      ioHost: io,
      from: A,
      to: B,
      steps: [10, 50, 100],
      intervalMs: 20,
      sleep: noSleep,
      healthCheck: async () => {
        seenByHealthCheck.push(byId(await router.current()));
        return true;
      },
      onStep: async (percent) => {
        checkpoints.push(percent);
      },
    });

    expect(seenByHealthCheck).toEqual([
      { [B.releaseId]: 10, [A.releaseId]: 90 },
      { [B.releaseId]: 50, [A.releaseId]: 50 },
      { [B.releaseId]: 100 },
    ]);
    expect(checkpoints).toEqual([10, 50, 100]);
    expect(io.withCode(DNS_IO.DNS_I7002.code)).toHaveLength(3);
    expect(io.codes().at(-1)).toBe(DNS_IO.DNS_I7005.code);
    const ttl = (await listRecordSetsOf(route53, { hostedZoneId: zoneId, recordName })).map((s) => s.TTL);
    expect(ttl).toEqual([1]);
  });

  it('GIVEN the new release fails its check at 50% WHEN shifting THEN all traffic is routed back and ROUTE_UNHEALTHY is thrown', async () => {
    const checkpoints: number[] = [];
    let checks = 0;

    const err = await rejection(
      shiftTraffic({
        router,
        ioHost: io,
        from: A,
        to: B,
        steps: [10, 50, 100],
        healthCheck: async () => ++checks < 2,
        onStep: async (percent) => {
          checkpoints.push(percent);
        },
      }),
    );

    expect(err.code).toBe(ROUTE_UNHEALTHY);
    expect(err.message).toContain('50%');
    expect(checkpoints).toEqual([10]);
    expect(await router.current()).toEqual([{ ...A, weight: 100 }]);
    expect(io.withCode<{ percent: number }>(DNS_IO.DNS_W7003.code).map((m) => m.data!.percent)).toEqual([50]);
  });

  it('GIVEN a health check that throws at 100% WHEN shifting THEN it counts as unhealthy and the old release is restored', async () => {
    const err = await rejection(
      shiftTraffic({
        router,
        ioHost: io,
        from: A,
        to: B,
        healthCheck: async () => {
          throw new Error('connection refused');
        },
      }),
    );

    expect(err.code).toBe(ROUTE_UNHEALTHY);
    expect(await router.current()).toEqual([{ ...A, weight: 100 }]);
    expect(io.withCode<{ error: string }>(DNS_IO.DNS_W7003.code)[0].data!.error).toBe('connection refused');
  });

  it('GIVEN a shift that reached 50% before a crash WHEN re-run THEN it resumes at 50% without pulling traffic back to 10%', async () => {
    await router.route([
      { ...B, weight: 50 },
      { ...A, weight: 50 },
    ]);
    const checkpoints: number[] = [];

    await shiftTraffic({ router, ioHost: io, from: A, to: B, steps: [10, 50, 100], onStep: async (p) => void checkpoints.push(p) });

    expect(checkpoints).toEqual([50, 100]);
    expect(await router.current()).toEqual([{ ...B, weight: 100 }]);
    const firstRoute = io.withCode<{ targets: WeightedTarget[] }>(DNS_IO.DNS_I7000.code)[1].data!.targets;
    expect(byId(firstRoute)).toEqual({ [B.releaseId]: 50, [A.releaseId]: 50 });
  });

  it('GIVEN no release serving WHEN shifting THEN the first release takes all traffic in one step', async () => {
    await router.route([{ ...C, weight: 0 }]);
    const checkpoints: number[] = [];

    await shiftTraffic({ router, ioHost: io, to: B, steps: [10, 100], onStep: async (p) => void checkpoints.push(p) });

    expect(checkpoints).toEqual([100]);
    expect(await router.current()).toEqual([{ ...B, weight: 100 }]);
  });
});
