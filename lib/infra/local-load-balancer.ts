/**
 * The local stand-in for a release stack's Application Load Balancer: a loopback HTTP proxy in
 * front of the release's app that applies the rules of the load balancer's port-80 listener, as
 * moto's ELBv2 API describes them. So a rule the engine writes through the real API (the write
 * fence, lib/release/write-fence.ts) acts on local traffic as it would on an ALB: fixed responses,
 * redirects, and forwarding to the app.
 *
 * It reads the rules before it listens and every `pollMs` after (an ALB applies a change within
 * seconds, the engine probes until it sees it). When a read fails it keeps the last rules it read.
 * It runs as its own process (the CLI's hidden `_local-lb` verb, started by LocalFleet), so that
 * it outlives the command that started it, like the app behind it.
 */
import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  paginateDescribeLoadBalancers,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { messageOf, toolError } from '../errors';
import { LOOPBACK } from '../local/ports';
import { answerFor, type ListenerAnswer } from './listener-rules';

export interface LocalLoadBalancerProps {
  /** The load balancer's DNS name (the release stack's `EndpointDnsName` output). */
  readonly dnsName: string;
  /** Where the release's app listens on loopback. */
  readonly appPort: number;
  /** Where this load balancer listens on loopback. */
  readonly port: number;
  /** How often the listener's rules are read again. @default 100 ms */
  readonly pollMs?: number;
  /** @default - a client from the environment's configuration */
  readonly elbv2?: ElasticLoadBalancingV2Client;
  /** Told when a read of the rules fails (the last rules stay in force). @default - nothing */
  readonly onPollError?: (error: Error) => void;
}

/** The listener port whose rules apply: the release stack's HTTP listener. */
const LISTENER_PORT = 80;

/** Runs until `signal` aborts; then stops listening and lets requests in flight finish. */
export async function runLocalLoadBalancer(props: LocalLoadBalancerProps, signal: AbortSignal): Promise<void> {
  const elbv2 = props.elbv2 ?? new ElasticLoadBalancingV2Client({});
  const listenerArn = await listenerOf(elbv2, props.dnsName);
  let rules = await rulesOf(elbv2, listenerArn);
  const polling = (async () => {
    while (!signal.aborted) {
      await sleep(props.pollMs ?? 100, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      try {
        rules = await rulesOf(elbv2, listenerArn);
      } catch (e) {
        props.onPollError?.(e as Error);
      }
    }
  })();
  const app = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => serve(req, res, answerFor(rules, requestOf(req)), props.appPort, app));
  // Kept-alive client connections would hold close() open for ever.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(props.port, LOOPBACK, () => resolve());
  });
  if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  app.destroy();
  await polling;
}

function requestOf(req: http.IncomingMessage) {
  const url = new URL(req.url ?? '/', 'http://local');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.search.replace(/^\?/, ''),
    host: (req.headers.host ?? '').replace(/:\d+$/, ''),
    port: LISTENER_PORT,
  };
}

function serve(req: http.IncomingMessage, res: http.ServerResponse, answer: ListenerAnswer, appPort: number, agent: http.Agent): void {
  if (answer.kind !== 'forward') {
    // The request never reaches the app: read its body away so the connection can be reused.
    req.resume();
    if (answer.kind === 'fixed-response') {
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
    } else {
      res.writeHead(answer.status, { location: answer.location, 'content-length': 0 });
      res.end();
    }
    return;
  }
  // Hop-by-hop headers describe the client's connection, not the app's (RFC 9110 7.6.1): this
  // connection to the app is kept alive and framed by Node itself.
  const headers = { ...withoutHopByHop(req.headers), 'x-forwarded-for': req.socket.remoteAddress ?? LOOPBACK, 'x-forwarded-proto': 'http', 'x-forwarded-port': String(LISTENER_PORT) };
  // The body is read first (an app's requests are small): a request that meets a kept-alive
  // connection the app closed at that moment is sent again on a new one, once, as Node's docs advise
  // (`reusedSocket`): the app never read it, and a client would otherwise see a 502 no real
  // load balancer in front of a healthy target gives.
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => forward(Buffer.concat(chunks), true));
  const forward = (body: Buffer, mayRetry: boolean) => {
    const upstream = http.request({ host: LOOPBACK, port: appPort, method: req.method, path: req.url, headers, agent }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', (e: NodeJS.ErrnoException) => {
      if (mayRetry && upstream.reusedSocket && !res.headersSent && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return forward(body, false);
      // As an ALB does when its target does not answer.
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`502 Bad Gateway: ${e.message}\n`);
    });
    upstream.end(body);
  };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function withoutHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/** The ARN of the port-80 listener of the load balancer named `dnsName`. */
async function listenerOf(elbv2: ElasticLoadBalancingV2Client, dnsName: string): Promise<string> {
  const wanted = dnsName.trim().toLowerCase().replace(/\.$/, '');
  for await (const page of paginateDescribeLoadBalancers({ client: elbv2 }, {})) {
    const lb = (page.LoadBalancers ?? []).find((l) => l.DNSName?.toLowerCase() === wanted);
    if (!lb) continue;
    const listeners = (await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).Listeners ?? [];
    const listener = listeners.find((l) => l.Port === LISTENER_PORT);
    if (!listener?.ListenerArn) throw toolError('LOCAL_LB_NO_LISTENER', `load balancer ${dnsName} has no listener on port ${LISTENER_PORT}`);
    return listener.ListenerArn;
  }
  throw toolError('LOCAL_LB_NOT_FOUND', `no load balancer named ${dnsName} is described by ELBv2`);
}

async function rulesOf(elbv2: ElasticLoadBalancingV2Client, listenerArn: string): Promise<Rule[]> {
  try {
    return (await elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
  } catch (e) {
    throw toolError('LOCAL_LB_RULES_UNREADABLE', `the rules of listener ${listenerArn} could not be read: ${messageOf(e)}`);
  }
}
