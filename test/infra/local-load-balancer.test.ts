import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateRuleCommand, DeleteRuleCommand, ElasticLoadBalancingV2Client, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocalLoadBalancer } from '../../lib/infra/local-load-balancer';
import { freePorts, LOOPBACK } from '../../lib/local/ports';
import { createLoadBalancer, type TestLoadBalancer } from '../_helpers/load-balancer';

interface Reply {
  readonly status: number;
  readonly location?: string;
  readonly body: string;
}

function send(port: number, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, method, path, agent: false, headers: { host: 'blue.example' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends until `accept` holds: rule changes reach the load balancer at its next read. */
async function until(port: number, method: string, path: string, accept: (r: Reply) => boolean): Promise<Reply> {
  for (let i = 0; ; i++) {
    const reply = await send(port, method, path, '{}').catch((e: Error) => ({ status: 0, body: e.message }));
    if (accept(reply) || i > 200) return reply;
    await sleep(20);
  }
}

describe('the local load balancer applies its listener rules from ELBv2 (moto)', () => {
  let lb: TestLoadBalancer;
  let app: http.Server;
  let appPort: number;
  let port: number;
  const elbv2 = new ElasticLoadBalancingV2Client({});
  let failReads = false;
  let pollErrors = 0;
  /** The app drops the next request that comes on a connection it served before, unanswered (its idle close racing the request). */
  let dropNextReused = false;
  const served = new WeakSet<object>();
  const stop = new AbortController();
  let running: Promise<void>;

  beforeAll(async () => {
    lb = await createLoadBalancer('test-llb');
    [appPort, port] = await freePorts(2);
    // The app answers what it was asked, so a test sees what reached it.
    app = http.createServer((req, res) => {
      if (dropNextReused && served.has(req.socket)) {
        dropNextReused = false;
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(JSON.stringify({ app: true, method: req.method, url: req.url, body, forwardedFor: req.headers['x-forwarded-for'] })));
    });
    await new Promise<void>((resolve) => app.listen(appPort, LOOPBACK, resolve));
    const reads = new ElasticLoadBalancingV2Client({});
    reads.middlewareStack.add(
      (next) => async (args) => {
        if (failReads) throw new Error('ELBv2 unreachable (injected)');
        return next(args);
      },
      { step: 'initialize' },
    );
    running = runLocalLoadBalancer({ dnsName: lb.dnsName.toUpperCase(), appPort, port, pollMs: 20, elbv2: reads, onPollError: () => pollErrors++ }, stop.signal);
    await until(port, 'GET', '/health', (r) => r.status === 200);
  });

  afterAll(async () => {
    stop.abort();
    await running;
    app.close();
  });

  it('forwards to the app by default, then holds writes, redirects them, and forwards them again as the rule changes', async () => {
    // GIVEN only the default rule: requests reach the app with their body
    const plain = await send(port, 'POST', '/products?x=1', '{"a":1}');
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body)).toMatchObject({ app: true, method: 'POST', url: '/products?x=1', body: '{"a":1}', forwardedFor: LOOPBACK });

    // WHEN a rule at priority 1 answers writes with a fixed 503
    const rule = (
      await elbv2.send(
        new CreateRuleCommand({
          ListenerArn: lb.listenerArn,
          Priority: 1,
          Conditions: [{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['POST', 'PUT', 'PATCH', 'DELETE'] } }],
          Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'application/json', MessageBody: '{"code":"WRITES_FENCED"}' } }],
        }),
      )
    ).Rules![0]!;
    // THEN writes get it and never reach the app; reads still do
    const heldWrite = await until(port, 'PUT', '/products/p1', (r) => r.status === 503);
    expect(heldWrite).toMatchObject({ status: 503, body: '{"code":"WRITES_FENCED"}' });
    expect((await send(port, 'GET', '/products/p1')).status).toBe(200);

    // WHEN the rule is changed to a redirect to another load balancer
    await elbv2.send(
      new ModifyRuleCommand({
        RuleArn: rule.RuleArn,
        Actions: [{ Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_302', Protocol: 'HTTP', Host: 'green.example', Port: '80', Path: '/#{path}', Query: '#{query}' } }],
      }),
    );
    // THEN writes are sent there, path and query kept
    const moved = await until(port, 'DELETE', '/products/p1?v=2', (r) => r.status === 302);
    expect(moved.location).toBe('http://green.example/products/p1?v=2');

    // WHEN the rule is deleted, writes reach the app again
    await elbv2.send(new DeleteRuleCommand({ RuleArn: rule.RuleArn }));
    const open = await until(port, 'PATCH', '/products/p1', (r) => r.status === 200);
    expect(JSON.parse(open.body)).toMatchObject({ app: true, method: 'PATCH' });
  });

  it('sends a request again on a new connection when the app closed the kept-alive one it met, as a healthy target behind an ALB gives no 502', async () => {
    // GIVEN a connection to the app that served a request and is kept alive
    expect((await send(port, 'GET', '/products/p0')).status).toBe(200);
    // WHEN the app drops the next request on it (its idle close racing the request)
    dropNextReused = true;
    const reply = await send(port, 'POST', '/products', '{"b":2}');
    // THEN the write reaches the app once, on a new connection, with its body
    expect(dropNextReused).toBe(false);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ app: true, method: 'POST', body: '{"b":2}' });
  });

  it('keeps the last rules it read while ELBv2 cannot be read', async () => {
    // GIVEN writes held
    const rule = (
      await elbv2.send(
        new CreateRuleCommand({
          ListenerArn: lb.listenerArn,
          Priority: 1,
          Conditions: [{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['POST'] } }],
          Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'held' } }],
        }),
      )
    ).Rules![0]!;
    await until(port, 'POST', '/x', (r) => r.status === 503);

    // WHEN its reads fail and the rule is deleted meanwhile
    // (after a read has failed: a read sent before would still see the rule gone, and rightly apply that)
    failReads = true;
    const errorsBefore = pollErrors;
    while (pollErrors === errorsBefore) await sleep(10);
    await elbv2.send(new DeleteRuleCommand({ RuleArn: rule.RuleArn }));
    await sleep(200);
    // THEN the hold stays: a load balancer that cannot read its rules must not open writes
    expect((await send(port, 'POST', '/x')).status).toBe(503);

    // WHEN reads work again, the deletion takes effect
    failReads = false;
    expect((await until(port, 'POST', '/x', (r) => r.status === 200)).status).toBe(200);
  });
});
