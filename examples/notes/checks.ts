/**
 * The notes app's release checks: run by stackshift against a new stack's own endpoint before the
 * release is Ready. The note a check writes has the run's marker in its id and is deleted again,
 * also when the check fails.
 */
import type { ReleaseCheck } from 'stackshift';

interface Reply {
  readonly status: number;
  readonly text: string;
}

async function call(baseUrl: string, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(new URL(path, baseUrl), {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, text: await res.text() };
}

async function expectStatus(baseUrl: string, method: 'GET' | 'PUT' | 'DELETE', path: string, status: number, body?: unknown): Promise<Reply> {
  const reply = await call(baseUrl, method, path, body);
  if (reply.status !== status) throw new Error(`${method} ${path} answered ${reply.status}, expected ${status}: ${reply.text.slice(0, 300)}`);
  return reply;
}

/** The id of the check's note number `n`: it carries the marker. */
function noteId(marker: string, n: number): string {
  const id = `check-${marker}-${n}`;
  if (!/^[A-Za-z0-9._~-]{1,128}$/.test(id)) throw new Error(`the marker "${marker}" cannot be part of a note id (A-Z a-z 0-9 . _ ~ -, at most 128)`);
  return id;
}

/** Runs `body`, then deletes the note at `path` whatever happened; the check's own failure wins. */
async function cleaningUp(baseUrl: string, path: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await call(baseUrl, 'DELETE', path).catch(() => undefined);
  }
}

interface Note {
  readonly id: string;
  readonly title: string;
  readonly author: string;
  readonly tags: readonly string[];
}

function expectNote(reply: Reply, expected: Note): void {
  let got: Partial<Note> | undefined;
  try {
    got = JSON.parse(reply.text) as Partial<Note>;
  } catch {
    got = undefined;
  }
  const same =
    got?.id === expected.id &&
    got.title === expected.title &&
    got.author === expected.author &&
    Array.isArray(got.tags) &&
    got.tags.length === expected.tags.length &&
    got.tags.every((tag, i) => tag === expected.tags[i]);
  if (!same) throw new Error(`expected the note ${JSON.stringify(expected)}, got ${reply.text.slice(0, 300)}`);
}

const health: ReleaseCheck = {
  name: 'health',
  async run({ baseUrl }) {
    await expectStatus(baseUrl, 'GET', '/health', 200);
  },
};

const noteLifecycle: ReleaseCheck = {
  name: 'note put, get, delete',
  async run({ baseUrl, marker }) {
    const id = noteId(marker, 1);
    const path = `/notes/${id}`;
    // Several words and non-ASCII letters: what the v2 split must carry exactly.
    const note = { title: `Release check ${marker}`, author: 'Ngũgĩ wa Thiong’o', tags: ['release-check', 'ünïcode'] };
    await cleaningUp(baseUrl, path, async () => {
      expectNote(await expectStatus(baseUrl, 'PUT', path, 200, note), { id, ...note });
      expectNote(await expectStatus(baseUrl, 'GET', path, 200), { id, ...note });
      await expectStatus(baseUrl, 'DELETE', path, 204);
      await expectStatus(baseUrl, 'GET', path, 404);
    });
  },
};

const invalidInput: ReleaseCheck = {
  name: 'invalid input is refused and writes nothing',
  async run({ baseUrl, marker }) {
    const path = `/notes/${noteId(marker, 2)}`;
    await cleaningUp(baseUrl, path, async () => {
      await expectStatus(baseUrl, 'PUT', path, 400, { title: 'No author', author: '   ' });
      await expectStatus(baseUrl, 'GET', path, 404);
    });
  },
};

export const checks: ReleaseCheck[] = [health, noteLifecycle, invalidInput];
