/**
 * The notes app: one process serving one release. Plain Node (node:http) and the AWS SDK.
 *
 *   GET    /health     → 200 { ok: true, dataVersion }
 *   PUT    /notes/:id  { title, author, tags? } → 200 { id, title, author, tags } | 400 { error }
 *   GET    /notes/:id  → 200 { id, title, author, tags } | 404 { error }
 *   DELETE /notes/:id  → 204
 *
 * Environment: PORT (required), HOST (@default 127.0.0.1), NOTES_TABLE (required) and the AWS SDK's
 * own (region, endpoint, credentials). How notes are stored follows the notes table's data version
 * in release.json next to this file, so a release that migrates the data changes that file only and
 * clients see the same API before and after:
 *   v1: { id, title, author, tags?, updatedAt }
 *   v2: { id, heading, authorFirst, authorLast, tags?, updatedAt }   (migrations/notes-v2-split-author.ts)
 * `author` is stored normalized (trimmed, each run of whitespace made one space): that is what makes
 * the v2 split exactly reversible. `tags` is a list, stored only when not empty; `updatedAt` is epoch ms.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

const NOTE_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const MAX_BODY_CHARS = 64 * 1024;
const MAX = { title: 200, author: 120, tags: 20, tag: 40 };

/** Words separated by single spaces: "  Ursula K.\tLe  Guin " → "Ursula K. Le Guin". */
function normalizeAuthor(author) {
  return author.trim().split(/\s+/).join(' ');
}

function tagsOf(note) {
  return note.tags.length > 0 ? { tags: note.tags } : {};
}

/** A stored list or string set, as the API's array. */
function tagsFromItem(item) {
  return item.tags ? [...item.tags] : [];
}

/** The item shape of each data version of the notes table, both ways. */
const STORAGE = {
  1: {
    toItem: (id, note, updatedAt) => ({ id, title: note.title, author: note.author, ...tagsOf(note), updatedAt }),
    toNote: (item) => ({ id: item.id, title: item.title, author: item.author, tags: tagsFromItem(item) }),
  },
  2: {
    toItem(id, note, updatedAt) {
      // At the first space: the first word, then the rest ('' for a one-word author).
      const space = note.author.indexOf(' ');
      const authorFirst = space < 0 ? note.author : note.author.slice(0, space);
      const authorLast = space < 0 ? '' : note.author.slice(space + 1);
      return { id, heading: note.title, authorFirst, authorLast, ...tagsOf(note), updatedAt };
    },
    toNote(item) {
      const author = item.authorLast ? `${item.authorFirst} ${item.authorLast}` : item.authorFirst;
      return { id: item.id, title: item.heading, author, tags: tagsFromItem(item) };
    },
  },
};

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function badRequest(message) {
  return new HttpError(400, message);
}

/** A string a person typed: well-formed Unicode, not blank, at most `max` characters. */
function text(value, name, max) {
  if (typeof value !== 'string') throw badRequest(`${name} must be a string`);
  if (!value.isWellFormed()) throw badRequest(`${name} must be well-formed Unicode`);
  if (value.trim() === '') throw badRequest(`${name} must not be empty`);
  if (value.length > max) throw badRequest(`${name} must be at most ${max} characters`);
  return value;
}

/** The note a PUT body describes, or a 400. `id` may be repeated in the body if it matches the path. */
function parseNote(body, id) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body must be a JSON object');
  for (const name of Object.keys(body)) {
    if (!['id', 'title', 'author', 'tags'].includes(name)) throw badRequest(`unknown field "${name}"`);
  }
  if (body.id !== undefined && body.id !== id) throw badRequest(`the body's id ${JSON.stringify(body.id)} is not the path's "${id}"`);
  const title = text(body.title, 'title', MAX.title);
  const author = normalizeAuthor(text(body.author, 'author', MAX.author));
  const tags = body.tags ?? [];
  if (!Array.isArray(tags) || tags.length > MAX.tags) throw badRequest(`tags must be an array of at most ${MAX.tags} strings`);
  tags.forEach((tag, i) => text(tag, `tags[${i}]`, MAX.tag));
  return { title, author, tags };
}

async function readJson(req) {
  req.setEncoding('utf8');
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > MAX_BODY_CHARS) throw new HttpError(413, `the body must be at most ${MAX_BODY_CHARS} characters`);
  }
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest('the body is not valid JSON');
  }
}

function createApp({ documents, table, dataVersion }) {
  const storage = STORAGE[dataVersion];

  async function route(req) {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    if (pathname === '/health') {
      if (method !== 'GET') throw new HttpError(405, `${method} is not allowed on /health`);
      return { status: 200, body: { ok: true, dataVersion } };
    }
    const match = /^\/notes\/([^/]+)$/.exec(pathname);
    if (!match) throw new HttpError(404, `no route for ${method} ${pathname}`);
    const id = match[1];
    if (!NOTE_ID.test(id)) throw badRequest(`note id "${id}" is not valid: use 1 to 128 of A-Z a-z 0-9 . _ ~ -`);

    switch (method) {
      case 'GET': {
        const { Item } = await documents.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true }));
        if (!Item) throw new HttpError(404, `no note "${id}"`);
        return { status: 200, body: storage.toNote(Item) };
      }
      case 'PUT': {
        const item = storage.toItem(id, parseNote(await readJson(req), id), Date.now());
        await documents.send(new PutCommand({ TableName: table, Item: item }));
        return { status: 200, body: storage.toNote(item) };
      }
      case 'DELETE':
        await documents.send(new DeleteCommand({ TableName: table, Key: { id } }));
        return { status: 204 };
      default:
        throw new HttpError(405, `${method} is not allowed on /notes/:id (use GET, PUT or DELETE)`);
    }
  }

  return http.createServer((req, res) => {
    route(req)
      .catch((err) => {
        if (err instanceof HttpError) return { status: err.status, body: { error: err.message } };
        log('error', 'request failed', { method: req.method, url: req.url, error: String(err?.stack ?? err) });
        return { status: 500, body: { error: 'internal error' } };
      })
      .then(({ status, body }) => {
        if (body === undefined) res.writeHead(status).end();
        else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
  });
}

function log(level, message, data = {}) {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...data }) + '\n');
}

function requiredEnv(name) {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** The notes table's data version at this commit: release.json next to this file. */
function dataVersionFromRelease() {
  const file = new URL('./release.json', import.meta.url);
  const version = JSON.parse(readFileSync(file, 'utf8')).dataVersions?.notes ?? 1;
  if (version !== 1 && version !== 2) throw new Error(`${file.pathname}: notes data version ${version} is not one this app knows (1, 2)`);
  return version;
}

function main() {
  const port = Number(requiredEnv('PORT'));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT must be a port number from 1 to 65535, not "${process.env.PORT}"`);
  const host = process.env.HOST?.trim() || '127.0.0.1';
  const table = requiredEnv('NOTES_TABLE');
  const dataVersion = dataVersionFromRelease();
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const server = createApp({ documents, table, dataVersion });

  const stop = (signal) => {
    log('info', 'stopping', { signal });
    // Finish the requests in flight, then exit.
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  server.listen(port, host, () => log('info', 'listening', { host, port, table, dataVersion }));
}

try {
  main();
} catch (err) {
  log('error', 'cannot start', { error: String(err?.message ?? err) });
  process.exit(1);
}
