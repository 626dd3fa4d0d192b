/**
 * A minimal JSON client on node:http for the catalog's tools (traffic generator, release checks).
 * No keep-alive: every request gets its own connection, so a request is never sent on a pooled
 * socket that the server is closing (that race would show up as a failure the app did not cause).
 */
import * as http from 'node:http';

export interface HttpReply {
  readonly status: number;
  /** The parsed JSON body; undefined when there was none or it was not JSON. */
  readonly json?: unknown;
  readonly text: string;
  /** The ETag header, when the reply had one. */
  readonly etag?: string;
  /** How long the server held the request for its If-Match (Server-Timing `precondition`), when it said. */
  readonly preconditionMs?: number;
  /** The Location header, when the reply had one (a redirect). */
  readonly location?: string;
}

export interface HttpRequest {
  /** e.g. `http://127.0.0.1:41234` */
  readonly baseUrl: string;
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** e.g. `/products/0000042` */
  readonly path: string;
  readonly body?: unknown;
  /** Sent as the If-Match header. @default - none */
  readonly ifMatch?: string;
  /** The whole exchange must finish within this. @default 10_000 ms */
  readonly timeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Sends one request; rejects on a network error or timeout, resolves with any HTTP status. */
export function httpJson(request: HttpRequest): Promise<HttpReply> {
  const url = new URL(request.path, request.baseUrl);
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const timeoutMs = request.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headers: Record<string, string | number> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  if (request.ifMatch !== undefined) headers['if-match'] = request.ifMatch;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: request.method,
        agent: false,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const etag = res.headers.etag;
          const held = /(?:^|,)\s*precondition;dur=(\d+(?:\.\d+)?)/.exec(String(res.headers['server-timing'] ?? ''));
          const location = res.headers.location;
          resolve({
            status: res.statusCode ?? 0,
            json: parseJson(text),
            text,
            ...(etag !== undefined ? { etag } : {}),
            ...(held ? { preconditionMs: Number(held[1]) } : {}),
            ...(location !== undefined ? { location } : {}),
          });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `http://host:port` of an endpoint. */
export function baseUrlOf(endpoint: { readonly host: string; readonly port: number }): string {
  return `http://${endpoint.host}:${endpoint.port}`;
}

/**
 * The write fence's contract with clients (stackshift's cut-over, docs/writes-during-a-flip.md):
 * while writes move from one stack to the other, a write gets `503 {"code":"WRITES_FENCED",
 * "retryAfterMs":…}` (it was not made: send it again after that long), and once they moved, the old
 * stack answers writes with a 302 to the new stack's own name (send the same request there).
 */
export interface FencedWriteOptions {
  /** Where a redirect's host is reached (a load balancer DNS name → host and port). */
  readonly resolveName: (dnsName: string) => Promise<{ readonly host: string; readonly port: number }>;
  /** Give up (answer with the last reply) when a retry would start after this time (ms since epoch). */
  readonly deadlineMs: number;
}

export interface FencedWriteReply extends HttpReply {
  /** From the first held answer to the final one; 0 when the write was never held. */
  readonly pausedMs: number;
  /** Whether a redirect was followed. */
  readonly redirected: boolean;
}

const MAX_REDIRECTS = 3;

/** `httpJson` for a write through a fenced cut-over: held writes are sent again after their `retryAfterMs`, redirects followed. */
export async function httpJsonThroughFence(request: HttpRequest, options: FencedWriteOptions): Promise<FencedWriteReply> {
  let heldSince: number | undefined;
  let redirects = 0;
  let current = request;
  for (;;) {
    const reply = await httpJson(current);
    const retryAfterMs = fencedRetryAfterMs(reply);
    if (retryAfterMs !== undefined && Date.now() + retryAfterMs < options.deadlineMs) {
      heldSince ??= Date.now();
      await new Promise((r) => setTimeout(r, retryAfterMs));
      continue;
    }
    if ((reply.status === 302 || reply.status === 307 || reply.status === 308) && reply.location && redirects < MAX_REDIRECTS) {
      redirects++;
      const to = new URL(reply.location);
      current = { ...current, baseUrl: baseUrlOf(await options.resolveName(to.hostname)), path: `${to.pathname}${to.search}` };
      continue;
    }
    return { ...reply, pausedMs: heldSince === undefined ? 0 : Date.now() - heldSince, redirected: redirects > 0 };
  }
}

/** The retry delay of a fenced write's 503, when `reply` is one. */
export function fencedRetryAfterMs(reply: HttpReply): number | undefined {
  const body = reply.json as { code?: unknown; retryAfterMs?: unknown } | undefined;
  return reply.status === 503 && body?.code === 'WRITES_FENCED' && typeof body.retryAfterMs === 'number' ? body.retryAfterMs : undefined;
}
