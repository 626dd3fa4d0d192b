/**
 * The write fence through the real ELBv2 API (moto) and the local load balancer that applies what
 * moto holds: what each fence answers to each method, and that it is in force when setWriteFence
 * returns (no polling in the test: the engine's own probe waited for it).
 */
import * as http from 'node:http';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocalLoadBalancer } from '../../../lib/infra/local-load-balancer';
import type { ReleaseRecord } from '../../../lib/ledger/release-records';
import { freePorts, LOOPBACK } from '../../../lib/local/ports';
import type { ReleaseEngine } from '../../../lib/release/engine';
import { FENCE_RETRY_AFTER_MS, fencedBodyOf, readWriteFence, setWriteFence, WRITES_FENCED } from '../../../lib/release/write-fence';
import { RELEASE_OUTPUTS } from '../../../stacks/release-stack';
import { createLoadBalancer, type TestLoadBalancer } from '../../_helpers/load-balancer';

interface Reply {
  readonly status: number;
  readonly location?: string;
  readonly body: string;
}

function send(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    // Node frames no body on a GET or DELETE (no content-length, no chunks): send none there.
    req.end(method === 'GET' || method === 'DELETE' ? undefined : '{}');
  });
}

describe('setWriteFence on a load balancer in moto, applied by the local load balancer', () => {
  let lb: TestLoadBalancer;
  let app: http.Server;
  let port: number;
  const appWrites: string[] = [];
  const stop = new AbortController();
  let running: Promise<void>;
  let engine: ReleaseEngine;
  let record: ReleaseRecord;

  beforeAll(async () => {
    lb = await createLoadBalancer('test-fence');
    let appPort: number;
    [appPort, port] = await freePorts(2);
    // The app records every write that reaches it (the probe's too: an app ignores that path).
    app = http.createServer((req, res) => {
      if (req.method !== 'GET') appWrites.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ app: true })));
    });
    await new Promise<void>((resolve) => app.listen(appPort, LOOPBACK, resolve));
    running = runLocalLoadBalancer({ dnsName: lb.dnsName, appPort, port, pollMs: 100, elbv2: new ElasticLoadBalancingV2Client({}) }, stop.signal);
    // What setWriteFence uses of an engine and a release: ELBv2, the release's endpoint, a clock.
    engine = { elbv2: new ElasticLoadBalancingV2Client({}), clock: Date.now, baseUrlOf: () => Promise.resolve(`http://${LOOPBACK}:${port}`) } as unknown as ReleaseEngine;
    record = { releaseId: 'sha-fence', checkpoints: { stack: { outputs: { [RELEASE_OUTPUTS.albArn]: lb.loadBalancerArn } } } } as unknown as ReleaseRecord;
  });

  afterAll(async () => {
    stop.abort();
    await running;
    app.close();
  });

  const writesReachingApp = async (): Promise<string[]> => {
    appWrites.length = 0;
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) await send(port, method, '/products/p1');
    return [...appWrites];
  };

  it('holds every write, then redirects PUT, PATCH and DELETE and keeps holding POST, then opens; reads are served throughout', async () => {
    // WHEN writes are held
    await setWriteFence(engine, record, { kind: 'hold' });
    // THEN no write reaches the app, each gets the 503 that says when to retry; reads do reach it
    expect(await writesReachingApp()).toEqual([]);
    const held = await send(port, 'PUT', '/products/p1');
    expect(held.status).toBe(503);
    expect(fencedBodyOf(held.body)).toMatchObject({ code: WRITES_FENCED, releaseId: 'sha-fence', retryAfterMs: FENCE_RETRY_AFTER_MS });
    expect(await send(port, 'GET', '/products/p1')).toMatchObject({ status: 200 });
    expect(await readWriteFence(engine, record)).toBe('held');

    // WHEN writes are redirected to another release
    await setWriteFence(engine, record, { kind: 'redirect', toDnsName: 'alb-next.example.test.' });
    // THEN PUT, PATCH and DELETE go there with path and query; POST (which clients turn into a
    // GET on a 302) is still held; none reaches this app
    expect(await writesReachingApp()).toEqual([]);
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      expect(await send(port, method, '/products/p1?v=2')).toMatchObject({ status: 302, location: 'http://alb-next.example.test/products/p1?v=2' });
    }
    expect(await readWriteFence(engine, record)).toBe('redirected');
    const post = await send(port, 'POST', '/products');
    expect(post.status).toBe(503);
    expect(fencedBodyOf(post.body)?.code).toBe(WRITES_FENCED);
    // AND the fence is two rules, at the priorities stackshift keeps
    const rules = (await engine.elbv2.send(new DescribeRulesCommand({ ListenerArn: lb.listenerArn }))).Rules ?? [];
    expect(rules.map((r) => r.Priority).sort()).toEqual(['1', '2', 'default']);

    // WHEN held again (a cut-over going back), then opened
    await setWriteFence(engine, record, { kind: 'hold' });
    expect(await send(port, 'DELETE', '/products/p1')).toMatchObject({ status: 503 });
    await setWriteFence(engine, record, { kind: 'open' });
    // THEN every write reaches the app, and no fence rule is left
    expect(await writesReachingApp()).toEqual(['POST /products/p1', 'PUT /products/p1', 'PATCH /products/p1', 'DELETE /products/p1']);
    expect(await readWriteFence(engine, record)).toBe('open');
    const left = (await engine.elbv2.send(new DescribeRulesCommand({ ListenerArn: lb.listenerArn }))).Rules ?? [];
    expect(left.map((r) => r.Priority)).toEqual(['default']);
  });

  it('is idempotent: the same fence twice leaves one set of rules', async () => {
    await setWriteFence(engine, record, { kind: 'redirect', toDnsName: 'alb-next.example.test' });
    await setWriteFence(engine, record, { kind: 'redirect', toDnsName: 'alb-next.example.test' });
    const rules = (await engine.elbv2.send(new DescribeRulesCommand({ ListenerArn: lb.listenerArn }))).Rules ?? [];
    expect(rules.map((r) => r.Priority).sort()).toEqual(['1', '2', 'default']);
    await setWriteFence(engine, record, { kind: 'open' });
  });
});
