/**
 * The catalog's release checks: run against a new stack's own endpoint (never the public name)
 * before the release is marked READY. Every product a check writes has an id carrying the run's
 * marker (`__check-<marker>-<n>`) and is deleted again, also when the check fails.
 */
import { httpJson, type HttpReply } from './http-client';
import { isValidProductId, productBodySchema, sameProduct, toProductBody, type ProductBody } from './product';

export interface CatalogCheckContext {
  /** The new stack's own endpoint, e.g. `http://127.0.0.1:41234`. */
  readonly baseUrl: string;
  /** Marks the test data of this run. */
  readonly marker: string;
}

export interface CatalogCheck {
  readonly name: string;
  run(ctx: CatalogCheckContext): Promise<void>;
}

/** The id of a check's product number `n`. */
export function checkProductId(marker: string, n: number): string {
  const id = `__check-${marker}-${n}`;
  if (!isValidProductId(id)) {
    throw new Error(`the check marker "${marker}" cannot be part of a product id: use letters, digits, ".", "_", "~" and "-" (at most ~110)`);
  }
  return id;
}

const healthCheck: CatalogCheck = {
  name: 'health',
  async run({ baseUrl }) {
    const reply = await call(baseUrl, 'GET', '/health', undefined, 200);
    const json = reply.json as { ok?: unknown; dataVersion?: unknown } | undefined;
    if (json?.ok !== true || typeof json.dataVersion !== 'number') {
      throw new Error(`GET /health answered 200 but not { ok: true, dataVersion: <number> }: ${reply.text.slice(0, 200)}`);
    }
  },
};

const productLifecycleCheck: CatalogCheck = {
  name: 'product create, read, update, delete',
  async run({ baseUrl, marker }) {
    const path = `/products/${checkProductId(marker, 1)}`;
    await cleaningUp(baseUrl, path, async () => {
      const created = sampleProduct(marker);
      await call(baseUrl, 'PUT', path, created, 200);
      expectProduct(await call(baseUrl, 'GET', path, undefined, 200), created, 'after the create');

      // The update changes content and a price and withdraws a channel: all of it must read back.
      const updated: ProductBody = {
        ...created,
        title: `${created.title} (updated)`,
        channels: { US: { ...created.channels.US!, price: 1799 }, EU: created.channels.EU },
        rev: 2,
      };
      await call(baseUrl, 'PUT', path, updated, 200);
      expectProduct(await call(baseUrl, 'GET', path, undefined, 200), updated, 'after the update');

      await call(baseUrl, 'DELETE', path, undefined, 204);
      await call(baseUrl, 'GET', path, undefined, 404);
    });
  },
};

const invalidInputCheck: CatalogCheck = {
  name: 'invalid input is refused and writes nothing',
  async run({ baseUrl, marker }) {
    const path = `/products/${checkProductId(marker, 2)}`;
    await cleaningUp(baseUrl, path, async () => {
      const withoutTitle: Record<string, unknown> = { ...sampleProduct(marker) };
      delete withoutTitle.title;
      const reply = await call(baseUrl, 'PUT', path, withoutTitle, 400);
      if (typeof (reply.json as { error?: unknown } | undefined)?.error !== 'string') {
        throw new Error(`PUT ${path} without a title answered 400 without a JSON { error }: ${reply.text.slice(0, 200)}`);
      }
      await call(baseUrl, 'PUT', path, { ...sampleProduct(marker), channels: {} }, 400);
      await call(baseUrl, 'GET', path, undefined, 404);
    });
  },
};

export const checks: ReadonlyArray<CatalogCheck> = [healthCheck, productLifecycleCheck, invalidInputCheck];

function sampleProduct(marker: string): ProductBody {
  return {
    title: `Release check ${marker}`,
    artist: 'The Static Hours',
    format: 'LP',
    releaseYear: 1999,
    description: 'Written by a release check; deleted again by it.',
    channels: {
      US: { sku: `check-${marker}-US`, price: 1999, currency: 'USD', stock: 5, published: true },
      GB: { sku: `check-${marker}-GB`, price: 1579, currency: 'GBP', stock: 5, published: false },
      EU: { sku: `check-${marker}-EU`, price: 1839, currency: 'EUR', stock: 0, published: true },
    },
    rev: 1,
  };
}

/** Runs `body`, then makes sure the product at `path` is gone whatever happened. */
async function cleaningUp(baseUrl: string, path: string, body: () => Promise<void>): Promise<void> {
  let failure: unknown;
  try {
    await body();
  } catch (err) {
    failure = err;
  }
  try {
    await call(baseUrl, 'DELETE', path, undefined, 204);
  } catch (err) {
    // The check's own failure matters more; a failed clean-up is reported when it is the only one.
    failure ??= new Error(`could not delete the check's product ${path} afterwards: ${(err as Error).message}`);
  }
  if (failure) throw failure;
}

async function call(baseUrl: string, method: 'GET' | 'PUT' | 'DELETE', path: string, body: unknown, expectedStatus: number): Promise<HttpReply> {
  let reply: HttpReply;
  try {
    reply = await httpJson({ baseUrl, method, path, body });
  } catch (err) {
    throw new Error(`${method} ${baseUrl}${path} got no answer (${(err as Error).message})`, { cause: err });
  }
  if (reply.status !== expectedStatus) {
    throw new Error(`${method} ${path} answered ${reply.status}, expected ${expectedStatus}: ${reply.text.slice(0, 300)}`);
  }
  return reply;
}

function expectProduct(reply: HttpReply, expected: ProductBody, when: string): void {
  const parsed = productBodySchema.safeParse(reply.json);
  if (!parsed.success || !sameProduct(toProductBody(parsed.data), expected)) {
    throw new Error(`GET ${when} returned another product than was written: ${reply.text.slice(0, 300)}`);
  }
}
