/**
 * The catalog's HTTP API on node:http (no framework). The same API whatever the storage version:
 *   GET    /health        → 200 { ok, dataVersion }
 *   GET    /products/:id  → 200 product (ETag) | 404
 *   PUT    /products/:id  → 200 product (ETag), once the write is durable | 400 invalid input | 412
 *   DELETE /products/:id  → 204 | 412
 * A write with `If-Match` waits (a bounded time) for the product to reach the state it names, so a
 * client's writes keep their order across a release flip (preconditions.ts); 412 when it does not.
 * Errors are JSON `{ error }`; a store failure is a 500 and is logged to stderr.
 */
import * as http from 'node:http';
import { isValidProductId, productBodySchema, toProductBody, type Product } from './product';
import { awaitPrecondition, entityTagOf, entityTagOfBody, PreconditionFailed } from './preconditions';
import type { ProductStore } from './store';

export interface CatalogServerProps {
  readonly store: ProductStore;
  /** Largest request body accepted. @default 65_536 bytes */
  readonly maxBodyBytes?: number;
  /** How long a write's If-Match waits for the state it names to arrive. @default DEFAULT_PRECONDITION_WAIT_MS */
  readonly preconditionWaitMs?: number;
  /** Where failures are reported. @default one JSON line on stderr */
  readonly logError?: (message: string, err: unknown) => void;
}

export interface CatalogServer {
  readonly server: http.Server;
  /**
   * Stops accepting connections, lets requests in flight finish, then resolves. Connections still
   * open after `graceMs` are cut.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** @default grace of `shutdown` */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

class HttpError extends Error {
  public constructor(
    public readonly status: number,
    message: string,
    public readonly details?: unknown,
  ) {
    super(message);
  }
}

export function createCatalogServer(props: CatalogServerProps): CatalogServer {
  const maxBodyBytes = props.maxBodyBytes ?? 65_536;
  const logError = props.logError ?? defaultLogError;
  let draining = false;

  const server = http.createServer((req, res) => {
    // While draining, every response closes its connection so that no keep-alive socket outlives us.
    if (draining) res.setHeader('connection', 'close');
    route(req, props, maxBodyBytes).then(
      (reply) => send(res, reply.status, reply.body, reply.headers),
      (err: unknown) => {
        if (err instanceof PreconditionFailed) return send(res, 412, { error: err.message });
        if (err instanceof HttpError) return send(res, err.status, { error: err.message, ...(err.details ? { details: err.details } : {}) });
        logError(`${req.method} ${req.url} failed`, err);
        send(res, 500, { error: 'internal error' });
      },
    );
  });

  const shutdown = (graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> =>
    new Promise((resolve) => {
      draining = true;
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });

  return { server, shutdown };
}

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** e.g. the ETag, and Server-Timing with how long an If-Match held the write. */
  readonly headers?: Readonly<Record<string, string>>;
}

async function route(req: http.IncomingMessage, props: CatalogServerProps, maxBodyBytes: number): Promise<Reply> {
  const { store } = props;
  const path = new URL(req.url ?? '/', 'http://catalog').pathname;
  const method = req.method ?? 'GET';
  if (path === '/health') {
    if (method !== 'GET') throw new HttpError(405, `method ${method} is not allowed on /health (use GET)`);
    return { status: 200, body: { ok: true, dataVersion: store.dataVersion } };
  }
  const match = /^\/products\/([^/]+)$/.exec(path);
  if (!match) throw new HttpError(404, `no route for ${method} ${path}`);
  const id = match[1];
  if (!isValidProductId(id)) throw new HttpError(400, `product id "${id}" is not valid: use 1 to 128 of A-Z a-z 0-9 . _ ~ -`);

  switch (method) {
    case 'GET': {
      const stored = await store.read(id);
      if (!stored) throw new HttpError(404, `product ${id} not found`);
      return { status: 200, body: stored.product, headers: { etag: entityTagOf(stored) } };
    }
    case 'PUT': {
      const body = toProductBody(parseProduct(await readJson(req, maxBodyBytes), id));
      const held = await precondition(req, props, id);
      await store.put(id, body);
      const product: Product = { id, ...body };
      return { status: 200, body: product, headers: { etag: entityTagOfBody(body), ...held } };
    }
    case 'DELETE': {
      const held = await precondition(req, props, id);
      await store.delete(id);
      return { status: 204, headers: held };
    }
    default:
      throw new HttpError(405, `method ${method} is not allowed on /products/:id (use GET, PUT or DELETE)`);
  }
}

/**
 * Waits for the request's If-Match, when it has one (preconditions.ts); the time it held the write
 * goes back as a Server-Timing header (`precondition;dur=<ms>`), so clients can see it happen.
 */
async function precondition(req: http.IncomingMessage, props: CatalogServerProps, id: string): Promise<Record<string, string>> {
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined) return {};
  const { waitedMs } = await awaitPrecondition({ store: props.store, id, ifMatch, waitMs: props.preconditionWaitMs });
  return { 'server-timing': `precondition;dur=${waitedMs}` };
}

function parseProduct(json: unknown, id: string) {
  const parsed = productBodySchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    throw new HttpError(400, `invalid product: ${issues.join('; ')}`, issues);
  }
  if (parsed.data.id !== undefined && parsed.data.id !== id) {
    throw new HttpError(400, `body id "${parsed.data.id}" does not match the path's product id "${id}"`);
  }
  return parsed.data;
}

async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON (${(err as Error).message})`);
  }
}

function send(res: http.ServerResponse, status: number, body?: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

function defaultLogError(message: string, err: unknown): void {
  const detail = err instanceof Error ? { error: err.name, detail: err.message } : { error: String(err) };
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', message, ...detail }) + '\n');
}
