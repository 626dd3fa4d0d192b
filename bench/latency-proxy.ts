/**
 * A loopback HTTP proxy that holds every request for `latencyMs` before forwarding it, so a
 * benchmark against DynamoDB Local pays a per-call latency like real AWS (where batching and
 * concurrency are what buy throughput). Bodies stream both ways; request headers are forwarded as
 * the client sent them, Host included, so a SigV4 signature stays valid.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

export interface LatencyProxyOptions {
  /** Where requests go: `http://127.0.0.1:PORT`. */
  readonly target: string;
  /** How long each request is held before it is forwarded, in ms. */
  readonly latencyMs: number;
  /** The port to listen on (127.0.0.1 only). @default 0 (a free port) */
  readonly port?: number;
}

export interface LatencyProxy {
  /** `http://127.0.0.1:PORT`: use it as the client's endpoint. */
  readonly url: string;
  /** Requests received so far. */
  readonly requests: number;
  /** Stops listening and closes every connection, both sides. */
  close(): Promise<void>;
}

/** Connection-level headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`the latency proxy forwards to http:// targets only, got ${options.target}`);
  if (!(options.latencyMs >= 0)) throw new Error(`latencyMs must be 0 or more, got ${options.latencyMs}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;

  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const upstream = http.request(
      {
        protocol: 'http:',
        hostname: target.hostname,
        port: target.port || 80,
        method: req.method,
        path: req.url,
        // The client's headers, Host included: the signature covers it.
        headers: endToEnd(req.headers),
        agent,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEnd(upRes.headers));
        pipeline(upRes, res, () => undefined);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('latency proxy: the target did not answer');
      else res.destroy();
    });
    pipeline(req, upstream, (err) => {
      if (err) upstream.destroy();
    });
  };

  const server = http.createServer((req, res) => {
    requests++;
    // The body waits in the socket meanwhile (backpressure), then streams through.
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!req.destroyed) forward(req, res);
    }, options.latencyMs);
    timers.add(timer);
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
