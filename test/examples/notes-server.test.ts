/**
 * The notes example's server.mjs as stackshift runs it: a child process on PORT with NOTES_TABLE,
 * against DynamoDB Local. The v2 server is a copy of the folder whose release.json says 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item, MigrationContext } from 'stackshift';
import { checks } from '../../examples/notes/checks';
import { notesV2SplitAuthor } from '../../examples/notes/migrations/notes-v2-split-author';
import { freePorts } from '../../lib/local/ports';
import { createTable, scanAll, uniqueName } from '../_helpers/tables';

const NOTES_DIR = fileURLToPath(new URL('../../examples/notes', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

interface NotesServer {
  readonly version: 1 | 2;
  readonly table: string;
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/** Starts `<dir>/server.mjs` on a table of its own and waits for GET /health. */
async function startServer(version: 1 | 2, dir: string): Promise<NotesServer> {
  const table = uniqueName(`notes-v${version}`);
  await createTable(table, { partitionKey: 'id' });
  const [port] = await freePorts(1);
  const child: ChildProcess = spawn(process.execPath, [join(dir, 'server.mjs')], {
    env: { ...process.env, NOTES_TABLE: table, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    if (child.exitCode !== null) throw new Error(`server.mjs (v${version}) exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server.mjs (v${version}) did not answer GET /health within 30 s: ${stderr}`);
    }
    const ok = await fetch(`${baseUrl}/health`).then((r) => r.ok, () => false);
    if (ok) return { version, table, baseUrl, stop };
  }
}

async function api(server: NotesServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(new URL(path, server.baseUrl), {
    method,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

const dynamodb = new DynamoDBClient({});

// notes v2 is a pure migration: it never reads through its context.
const noReads: MigrationContext = {
  get: () => Promise.reject(new Error('notes v2 reads nothing')),
  queryPartition: () => Promise.reject(new Error('notes v2 reads nothing')),
};
const up = (item: Item) => notesV2SplitAuthor.up(item, noReads) as Item;
const down = (item: Item) => notesV2SplitAuthor.down!(item, noReads) as Item;

/** The item as DynamoDB stores it (attribute types included). */
async function rawItem(server: NotesServer, id: string): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await dynamodb.send(new GetItemCommand({ TableName: server.table, Key: { id: { S: id } }, ConsistentRead: true }));
  return Item;
}

describe('the notes app (server.mjs), v1 and v2 storage behind one HTTP API', () => {
  let v1: NotesServer;
  let v2: NotesServer;
  let v2Dir: string;

  beforeAll(async () => {
    // A v2 commit differs from v1 in release.json only: a copy of the folder saying 2, with this
    // repository's node_modules reachable from it as in an adopting repository.
    v2Dir = mkdtempSync(join(tmpdir(), 'notes-v2-'));
    cpSync(NOTES_DIR, v2Dir, { recursive: true });
    writeFileSync(join(v2Dir, 'release.json'), JSON.stringify({ dataVersions: { notes: 2 } }));
    symlinkSync(NODE_MODULES, join(v2Dir, 'node_modules'), 'dir');
    [v1, v2] = await Promise.all([startServer(1, NOTES_DIR), startServer(2, v2Dir)]);
  });

  afterAll(async () => {
    await Promise.all([v1?.stop(), v2?.stop()]);
    if (v2Dir) rmSync(v2Dir, { recursive: true, force: true });
  });

  const servers = () => [v1, v2];

  it('GET /health names the data version from release.json', async () => {
    for (const server of servers()) {
      expect(await api(server, 'GET', '/health')).toEqual({ status: 200, json: { ok: true, dataVersion: server.version } });
    }
  });

  it.each([1, 2] as const)('v%i: PUT, GET, update, DELETE, 404; the author is stored normalized', async (version) => {
    const server = servers()[version - 1];
    // GIVEN no note n1
    expect((await api(server, 'GET', '/notes/n1')).status).toBe(404);
    // WHEN it is put with an untidy author
    const put = await api(server, 'PUT', '/notes/n1', { title: 'The Dispossessed', author: '  Ursula K.\tLe   Guin ', tags: ['sf', 'classic'] });
    // THEN PUT and GET answer the note with the author normalized
    const note = { id: 'n1', title: 'The Dispossessed', author: 'Ursula K. Le Guin', tags: ['sf', 'classic'] };
    expect(put).toEqual({ status: 200, json: note });
    expect(await api(server, 'GET', '/notes/n1')).toEqual({ status: 200, json: note });

    // WHEN it is put again (one-word author, no tags, the id repeated in the body)
    const updated = { id: 'n1', title: 'Tintin au Tibet', author: 'Hergé', tags: [] };
    expect(await api(server, 'PUT', '/notes/n1', { id: 'n1', title: 'Tintin au Tibet', author: 'Hergé' })).toEqual({ status: 200, json: updated });
    // THEN GET answers the new note
    expect(await api(server, 'GET', '/notes/n1')).toEqual({ status: 200, json: updated });

    // WHEN it is deleted (twice: DELETE is idempotent) THEN it is gone
    expect(await api(server, 'DELETE', '/notes/n1')).toEqual({ status: 204, json: undefined });
    expect(await api(server, 'DELETE', '/notes/n1')).toEqual({ status: 204, json: undefined });
    expect(await api(server, 'GET', '/notes/n1')).toEqual({ status: 404, json: { error: expect.any(String) } });
    expect(await rawItem(server, 'n1')).toBeUndefined();
  });

  it('stores the v1 shape and the v2 shape: title renamed heading, author split at its first space', async () => {
    const before = Date.now();
    // GIVEN the same notes put to both servers
    for (const server of servers()) {
      await api(server, 'PUT', '/notes/shape', { title: 'The Left Hand of Darkness', author: 'Ursula K. Le Guin', tags: ['sf', 'sf'] });
      await api(server, 'PUT', '/notes/one-word', { title: 'Les Bijoux de la Castafiore', author: 'Hergé' });
    }
    // WHEN the items are read raw
    const updatedAt = { N: expect.stringMatching(/^\d+$/) };
    // THEN v1 keeps title and author; tags a list (order and duplicates kept), absent when empty
    expect(await rawItem(v1, 'shape')).toStrictEqual({
      id: { S: 'shape' },
      title: { S: 'The Left Hand of Darkness' },
      author: { S: 'Ursula K. Le Guin' },
      tags: { L: [{ S: 'sf' }, { S: 'sf' }] },
      updatedAt,
    });
    expect(await rawItem(v1, 'one-word')).toStrictEqual({ id: { S: 'one-word' }, title: { S: 'Les Bijoux de la Castafiore' }, author: { S: 'Hergé' }, updatedAt });
    // AND v2 has heading, authorFirst and authorLast ('' for a one-word author), no title or author
    expect(await rawItem(v2, 'shape')).toStrictEqual({
      id: { S: 'shape' },
      heading: { S: 'The Left Hand of Darkness' },
      authorFirst: { S: 'Ursula' },
      authorLast: { S: 'K. Le Guin' },
      tags: { L: [{ S: 'sf' }, { S: 'sf' }] },
      updatedAt,
    });
    expect(await rawItem(v2, 'one-word')).toStrictEqual({
      id: { S: 'one-word' },
      heading: { S: 'Les Bijoux de la Castafiore' },
      authorFirst: { S: 'Hergé' },
      authorLast: { S: '' },
      updatedAt,
    });
    // AND updatedAt is the write's time in epoch milliseconds
    const stamp = Number((await rawItem(v2, 'shape'))!.updatedAt.N);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Date.now());
  });

  it('agrees with the migration: the v2 server stores up(what v1 stores), and serves a migrated item as v1 served it', async () => {
    // GIVEN a note written through v1, with an untidy unicode author
    const v1Reply = await api(v1, 'PUT', '/notes/agree', { title: 'Petals of Blood', author: ' Ngũgĩ  wa Thiong’o', tags: ['kenya', 'ünïcode'] });
    const v1Item = unmarshall((await rawItem(v1, 'agree'))!);
    // WHEN the same note is written through v2
    await api(v2, 'PUT', '/notes/agree', { title: 'Petals of Blood', author: ' Ngũgĩ  wa Thiong’o', tags: ['kenya', 'ünïcode'] });
    const v2Item = unmarshall((await rawItem(v2, 'agree'))!);
    // THEN it is the item the migration makes of the v1 item (same updatedAt aside), and down gives v1's back
    expect({ ...v2Item, updatedAt: v1Item.updatedAt }).toStrictEqual(up(v1Item));
    expect(down({ ...v2Item, updatedAt: v1Item.updatedAt })).toStrictEqual(v1Item);

    // WHEN the migrated v1 item is what v2's table holds (as a release's copy writes it, meta included)
    const migrated = up({ ...v1Item, id: 'migrated' });
    await dynamodb.send(new PutItemCommand({ TableName: v2.table, Item: marshall({ ...migrated, _ssOrigin: 'copy' }) }));
    // THEN v2 answers it exactly as v1 answered the original: clients do not notice the release
    expect(await api(v2, 'GET', '/notes/migrated')).toEqual({ status: 200, json: { ...(v1Reply.json as object), id: 'migrated' } });
  });

  it.each([
    ['no title', { author: 'A B' }],
    ['a blank title', { title: '  ', author: 'A B' }],
    ['no author', { title: 't' }],
    ['a blank author', { title: 't', author: ' \t ' }],
    ['a number for author', { title: 't', author: 42 }],
    ['tags not an array', { title: 't', author: 'A', tags: 'sf' }],
    ['an empty tag', { title: 't', author: 'A', tags: ['sf', ''] }],
    ['21 tags', { title: 't', author: 'A', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
    ['a title of 201 characters', { title: 'x'.repeat(201), author: 'A' }],
    ['a lone surrogate', { title: '\ud800', author: 'A' }],
    ['an unknown field', { title: 't', author: 'A', colour: 'red' }],
    ['another id in the body', { id: 'other', title: 't', author: 'A' }],
    ['an array body', [{ title: 't', author: 'A' }]],
    ['invalid JSON', '{"title":'],
  ])('refuses a PUT with %s: 400 with a JSON error, nothing written (v1 and v2)', async (_name, body) => {
    for (const server of servers()) {
      // WHEN the invalid note is put
      const reply = await api(server, 'PUT', '/notes/bad', body);
      // THEN 400 with an error message, and no item
      expect(reply).toEqual({ status: 400, json: { error: expect.any(String) } });
      expect(await rawItem(server, 'bad')).toBeUndefined();
    }
  });

  it('answers 400 for an invalid id, 404 for an unknown route, 405 for an unknown method (v1 and v2)', async () => {
    for (const server of servers()) {
      expect(await api(server, 'GET', '/notes/a%20b')).toEqual({ status: 400, json: { error: expect.stringContaining('not valid') } });
      expect(await api(server, 'GET', '/notes')).toEqual({ status: 404, json: { error: expect.any(String) } });
      expect(await api(server, 'GET', '/notes/a/b')).toEqual({ status: 404, json: { error: expect.any(String) } });
      expect(await api(server, 'GET', '/')).toEqual({ status: 404, json: { error: expect.any(String) } });
      expect(await api(server, 'POST', '/notes/n1', { title: 't', author: 'A' })).toEqual({ status: 405, json: { error: expect.any(String) } });
    }
  });

  it('the release checks pass against both versions and leave no note behind', async () => {
    for (const server of servers()) {
      // GIVEN a release's marker
      const marker = `sha-0123456789ab-v${server.version}`;
      // WHEN every check runs THEN none throws
      for (const check of checks) await expect(check.run({ baseUrl: server.baseUrl, marker }), check.name).resolves.toBeUndefined();
      // AND no note carrying the marker is left
      expect((await scanAll(server.table)).filter((item) => String(item.id).includes(marker))).toEqual([]);
    }
  });
});
