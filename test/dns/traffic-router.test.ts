import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DNS_IO } from '../../lib/dns/messages';
import { ROUTE_INSYNC_TIMEOUT, ROUTE_TARGETS_INVALID, shiftTraffic, TrafficRouter, type WeightedTarget } from '../../lib/dns/traffic-router';
import { RecordingIoHost } from '../../lib/io';
import { rejection } from '../_helpers/rejection';

// Fault injection only: the happy paths run against moto in test/integ/dns-traffic.test.ts.
describe('TrafficRouter (faults injected into a mocked Route 53)', () => {
  const client = new Route53Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const r53 = mockClient(client);
  let io: RecordingIoHost;
  let router: TrafficRouter;
  const a: WeightedTarget = { releaseId: 'sha-aaaaaaaaaaaa', dnsName: 'a.elb.test', weight: 100 };

  beforeEach(() => {
    r53.reset();
    io = new RecordingIoHost();
    router = new TrafficRouter({ ioHost: io, hostedZoneId: 'Z1', recordName: 'www.example.test', route53: client, insyncTimeoutSeconds: 2 });
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false });
  });
  afterEach(() => r53.reset());

  it('GIVEN a change that never becomes INSYNC WHEN routing THEN it fails with ROUTE_INSYNC_TIMEOUT after the timeout', async () => {
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });
    r53.on(GetChangeCommand).resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });

    const started = Date.now();
    const err = await rejection(router.route([a]));

    expect(err.code).toBe(ROUTE_INSYNC_TIMEOUT);
    expect(err.source).toBe('tool');
    expect(err.message).toContain('C1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(r53.commandCalls(GetChangeCommand).length).toBeGreaterThanOrEqual(2);
    expect(io.codes()).toContain(DNS_IO.DNS_I7000.code);
    expect(io.codes()).not.toContain(DNS_IO.DNS_I7001.code);
  });

  it('GIVEN a change that is PENDING once WHEN routing THEN it returns after the waiter saw INSYNC', async () => {
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/C3', Status: 'PENDING', SubmittedAt: new Date() } });
    r53
      .on(GetChangeCommand)
      .resolvesOnce({ ChangeInfo: { Id: '/change/C3', Status: 'PENDING', SubmittedAt: new Date() } })
      .resolves({ ChangeInfo: { Id: '/change/C3', Status: 'INSYNC', SubmittedAt: new Date() } });

    await router.route([a]);

    expect(r53.commandCalls(GetChangeCommand)).toHaveLength(2);
    expect(io.withCode(DNS_IO.DNS_I7001.code)[0].data).toMatchObject({ changeId: 'C3' });
  });

  it.each<[string, WeightedTarget[], string]>([
    ['no targets', [], 'no targets'],
    ['a weight above 255', [{ ...a, weight: 256 }], 'weight 256'],
    ['a fractional weight', [{ ...a, weight: 0.5 }], 'weight 0.5'],
    ['a release twice', [a, { ...a, weight: 0 }], 'appears twice'],
    ['a bad release id', [{ ...a, releaseId: 'sha a' }], '"sha a"'],
    ['an empty DNS name', [{ ...a, dnsName: ' ' }], 'empty DNS name'],
  ])('GIVEN %s WHEN routing THEN a user error and no call to Route 53', async (_name, targets, shown) => {
    const err = await rejection(router.route(targets));

    expect(err.code).toBe(ROUTE_TARGETS_INVALID);
    expect(err.source).toBe('user');
    expect(err.message).toContain(shown);
    expect(r53.calls()).toHaveLength(0);
  });

  it('GIVEN invalid steps WHEN shifting THEN ROUTE_STEPS_INVALID before any call to Route 53', async () => {
    const err = await rejection(
      shiftTraffic({ router, ioHost: io, from: a, to: { releaseId: 'sha-bbbbbbbbbbbb', dnsName: 'b.elb.test' }, steps: [50, 10, 100] }),
    );

    expect(err.code).toBe('ROUTE_STEPS_INVALID');
    expect(err.message).toContain('"50,10,100"');
    expect(r53.calls()).toHaveLength(0);
  });

  it('GIVEN from and to the same release WHEN shifting THEN a user error', async () => {
    const err = await rejection(shiftTraffic({ router, ioHost: io, from: a, to: a }));

    expect(err.code).toBe(ROUTE_TARGETS_INVALID);
    expect(r53.calls()).toHaveLength(0);
  });
});
