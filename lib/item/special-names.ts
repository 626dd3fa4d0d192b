/**
 * Attribute names JavaScript objects treat specially. DynamoDB allows any name; the AWS SDK does not
 * carry two of them:
 * - `__proto__`: the JSON deserializer of @smithy/core (3.41) overwrites its value with `undefined`
 *   in every AttributeValue map it reads (items, stream images, nested maps), and util-dynamodb
 *   assigns it on plain objects, which sets a prototype instead of a field. The attribute vanishes.
 * - `constructor`: util-dynamodb's marshall tells a map from a class instance, a Set or a String by
 *   `value.constructor.name`. A map with such an attribute is refused, or worse, written as the
 *   string "[object Object]" when the attribute holds `{ name: 'String' }`.
 *
 * So the data plane never lets the SDK see them. A middleware on each client renames those map keys
 * in response bodies, before the SDK parses them, to a carried name (PROTO_ATTRIBUTE,
 * CONSTRUCTOR_ATTRIBUTE), and back in request bodies after the SDK wrote them. A carried name starts
 * with a lone surrogate, which no UTF-8 string (so no DynamoDB attribute name) contains: the
 * renaming is one to one. Migrations see such attributes under their carried names.
 */
import { Readable } from 'node:stream';
import type { BuildMiddleware, DeserializeMiddleware, HttpRequest, HttpResponse, MetadataBearer, MiddlewareStack } from '@smithy/types';

/** The name under which the data plane carries an attribute named `__proto__`. */
export const PROTO_ATTRIBUTE = '\uD800__proto__';
/** The name under which the data plane carries an attribute named `constructor`. */
export const CONSTRUCTOR_ATTRIBUTE = '\uD800constructor';

const TO_CARRIED: ReadonlyMap<string, string> = new Map([
  ['__proto__', PROTO_ATTRIBUTE],
  ['constructor', CONSTRUCTOR_ATTRIBUTE],
]);
/** The names the SDK cannot carry as they are. */
export const SPECIAL_NAMES: readonly string[] = [...TO_CARRIED.keys()];
const TO_WIRE: ReadonlyMap<string, string> = new Map([...TO_CARRIED].map(([wire, carried]) => [carried, wire]));

const RESPONSE_MIDDLEWARE = 'stackshiftSpecialNamesIn';
const REQUEST_MIDDLEWARE = 'stackshiftSpecialNamesOut';

/** The name DynamoDB knows an attribute by, for a name the data plane carries. */
export function wireName(name: string): string {
  return TO_WIRE.get(name) ?? name;
}

/** A parsed JSON tree with its object keys renamed through `names`, at any depth. */
export function renameKeys(tree: unknown, names: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(tree)) return tree.map((v) => renameKeys(v, names));
  if (tree === null || typeof tree !== 'object') return tree;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) {
    // defineProperty: a plain assignment of `__proto__` would set the prototype
    Object.defineProperty(out, names.get(k) ?? k, { value: renameKeys(v, names), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A response's JSON with the special names renamed to carried names, or undefined when it has none. */
export function toCarriedNames(text: string): string | undefined {
  // a name may also be written with \u escapes: parse then, to be sure
  if (!text.includes('__proto__') && !text.includes('constructor') && !text.includes('\\u')) return undefined;
  return JSON.stringify(renameKeys(JSON.parse(text), TO_CARRIED));
}

/** A request's JSON with the carried names renamed back, or undefined when it has none. */
export function toWireNames(text: string): string | undefined {
  // JSON.stringify writes the lone surrogate as the escape `\ud800`
  if (!text.includes('\\ud800') && !text.includes('\uD800')) return undefined;
  return JSON.stringify(renameKeys(JSON.parse(text), TO_WIRE));
}

const responseMiddleware: DeserializeMiddleware<object, MetadataBearer> = (next) => async (args) => {
  const result = await next(args);
  const response = result.response as HttpResponse | undefined;
  if (response?.body === undefined || response.body === null) return result;
  const text = await readBody(response.body);
  const safe = toCarriedNames(text);
  response.body = Readable.from([Buffer.from(safe ?? text, 'utf8')]);
  if (safe !== undefined) delete response.headers['content-length'];
  return result;
};

const requestMiddleware: BuildMiddleware<object, MetadataBearer> = (next) => async (args) => {
  const request = args.request as HttpRequest;
  // the SDK writes JSON bodies as a string or as its UTF-8 bytes
  const body: unknown = request.body;
  const text = typeof body === 'string' ? body : body instanceof Uint8Array ? utf8(body) : undefined;
  const safe = text === undefined ? undefined : toWireNames(text);
  if (safe !== undefined) {
    request.body = safe;
    for (const h of Object.keys(request.headers)) if (h.toLowerCase() === 'content-length') request.headers[h] = String(Buffer.byteLength(safe));
  }
  return next(args);
};

const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

async function readBody(body: unknown): Promise<string> {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return utf8(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Installs the renaming on a DynamoDB or DynamoDB Streams client (once; document clients built on it
 * share its middleware stack). Returns the client.
 */
export function guardSpecialNames<C extends { readonly middlewareStack: MiddlewareStack<object, MetadataBearer> }>(client: C): C {
  const stack = client.middlewareStack;
  if (stack.identify().some((m) => m.startsWith(RESPONSE_MIDDLEWARE))) return client;
  // after the deserializer in the stack order = it sees the raw response before the SDK parses it
  stack.addRelativeTo(responseMiddleware, { name: RESPONSE_MIDDLEWARE, relation: 'after', toMiddleware: 'deserializerMiddleware' });
  stack.add(requestMiddleware, { name: REQUEST_MIDDLEWARE, step: 'build', priority: 'low' });
  return client;
}
