import { createHook } from 'node:async_hooks';
import { describe, expect, it, vi } from 'vitest';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { exactNumber, exactText } from '../../../lib/item/numbers';
import { ReleaseError } from '../../../lib/errors';
import type { Item } from '../../../lib/item/item';
import {
  KEY_MISSING,
  META_ATTRIBUTE,
  MIGRATION_THREW,
  MigrationChain,
  MigrationItemError,
  SCHEMA_INVALID,
  NUMBER_PRECISION,
  isMigrationItemError,
} from '../../../lib/data/migrations/chain';
import type { Migration, MigrationContext } from '../../../lib/data/migrations/migration';

const keyNames = { partitionKey: 'pk', sortKey: 'sk' };
const noReads: MigrationContext = {
  get: () => Promise.reject(new Error('no reads expected')),
  queryPartition: () => Promise.reject(new Error('no reads expected')),
};

function migration(version: number, up: Migration['up'], extra: Partial<Migration> = {}): Migration {
  return { table: 'things', version, description: `v${version}`, up, ...extra };
}

function chainOf(...steps: Migration[]): MigrationChain {
  return new MigrationChain({ table: 'things', fromVersion: 1, toVersion: 1 + steps.length, steps, keyNames });
}

/** Runs `fn`, expects a MigrationItemError, returns it. */
function itemErrorOf(fn: () => unknown): MigrationItemError {
  try {
    fn();
  } catch (err) {
    expect(isMigrationItemError(err)).toBe(true);
    return err as MigrationItemError;
  }
  throw new Error('expected a MigrationItemError, nothing was thrown');
}

async function itemRejectionOf(p: Promise<unknown>): Promise<MigrationItemError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!MigrationItemError.isMigrationItemError(err)) throw new Error(`expected a MigrationItemError, got ${String(err)}`);
  return err;
}

describe('MigrationChain: outputs', () => {
  it('feeds every output of a step into the next (fan-out), in order', async () => {
    // GIVEN v2 splits an item in two and v3 tags each half
    const chain = chainOf(
      migration(2, (item) => [
        { ...item, sk: `${item.sk}#a` },
        { ...item, sk: `${item.sk}#b` },
      ]),
      migration(3, (item) => ({ ...item, tagged: true })),
    );
    const item = { pk: 'p1', sk: 's' };
    // WHEN the item is migrated, sync and async
    const sync = chain.applySync(item);
    const async = await chain.apply(item, noReads);
    // THEN both halves went through v3
    const expected = [
      { pk: 'p1', sk: 's#a', tagged: true },
      { pk: 'p1', sk: 's#b', tagged: true },
    ];
    expect(sync).toEqual(expected);
    expect(async).toEqual(expected);
  });

  it('drops an item whose step returns null, undefined or an empty array, and skips nulls in an array', () => {
    // GIVEN a step that drops odd ids and returns [x, null] for even ones
    const chain = chainOf(migration(2, (item) => ((item.n as number) % 2 ? null : [item, null as unknown as Item])));
    // THEN
    expect(chain.applySync({ pk: 'p', sk: 's', n: 1 })).toEqual([]);
    expect(chain.applySync({ pk: 'p', sk: 's', n: 2 })).toEqual([{ pk: 'p', sk: 's', n: 2 }]);
    expect(chainOf(migration(2, () => undefined)).applySync({ pk: 'p', sk: 's' })).toEqual([]);
    expect(chainOf(migration(2, () => [])).applySync({ pk: 'p', sk: 's' })).toEqual([]);
  });

  it('passes the item through unchanged when from == to', async () => {
    // GIVEN an identity chain
    const chain = new MigrationChain({ table: 'things', fromVersion: 2, toVersion: 2, steps: [], keyNames });
    const item = { pk: 'p', sk: 's', x: 1 };
    // THEN the same object comes back
    expect(chain.isIdentity).toBe(true);
    expect(chain.applySync(item)![0]).toBe(item);
    expect((await chain.apply(item, noReads))[0]).toBe(item);
  });

  it('hands migrations the input without the engine meta attributes', () => {
    // GIVEN a source item written by an earlier copy (it carries _ssSrc, _ssOrigin) and a spreading step
    const seen: Item[] = [];
    const chain = chainOf(
      migration(2, (item) => {
        seen.push(item);
        return { ...item, v: 2 };
      }),
    );
    // WHEN it is migrated
    const out = chain.applySync({ pk: 'p', sk: 's', _ssSrc: '{}', _ssOrigin: 'copy' });
    // THEN the step never saw meta attributes, so its output is valid
    expect(seen).toEqual([{ pk: 'p', sk: 's' }]);
    expect(out).toEqual([{ pk: 'p', sk: 's', v: 2 }]);
  });
});

describe('MigrationChain: item errors (dead letters)', () => {
  it('wraps a throwing step as MIGRATION_THREW, a user error with the step and the input', () => {
    // GIVEN a step that throws
    const cause = new Error('boom');
    const chain = chainOf(
      migration(2, () => {
        throw cause;
      }),
    );
    // WHEN
    const err = itemErrorOf(() => chain.applySync({ pk: 'p', sk: 's' }));
    // THEN
    expect(err.code).toBe(MIGRATION_THREW);
    expect(ReleaseError.isUserError(err)).toBe(true);
    expect(err.cause).toBe(cause);
    expect(err.version).toBe(2);
    expect(err.direction).toBe('up');
    expect(err.input).toEqual({ pk: 'p', sk: 's' });
  });

  it('wraps a rejecting async step as MIGRATION_THREW', async () => {
    const chain = chainOf(migration(2, async () => Promise.reject(new Error('no'))));
    const err = await itemRejectionOf(chain.apply({ pk: 'p', sk: 's' }, noReads));
    expect(err.code).toBe(MIGRATION_THREW);
  });

  it('names the field and its value in a schema failure, inside a union too', () => {
    // GIVEN a union schema (as the catalog's v2) and a listing whose price is not an integer
    const schema = z.union([z.object({ sk: z.literal('PRODUCT'), title: z.string() }), z.object({ sk: z.literal('LISTING'), price: z.number().int() })]);
    const chain = chainOf(migration(2, (item) => item, { schema }));
    // WHEN it is migrated
    const err = itemErrorOf(() => chain.applySync({ pk: 'p', sk: 'LISTING', price: 12.5 }));
    // THEN the message names price and 12.5, not "invalid input"
    expect(err.code).toBe(SCHEMA_INVALID);
    expect(err.message).toMatch(/price: .*\(got number 12\.5\)/);
  });

  it('refuses an output number that lost digits (NUMBER_PRECISION), and passes exact numbers through', () => {
    const big = NumberValue.from('12345678901234567890');
    const lossy = chainOf(migration(2, (item) => ({ ...item, n: Number(exactText(item.n)) })));
    expect(itemErrorOf(() => lossy.applySync({ pk: 'p', sk: 's', n: big })).code).toBe(NUMBER_PRECISION);
    expect(itemErrorOf(() => lossy.applySync({ pk: 'p', sk: 's', n: NumberValue.from('0.1000000000000000055511151231257827') })).code).toBe(NUMBER_PRECISION);
    const exact = chainOf(migration(2, (item) => ({ ...item, n: exactNumber((BigInt(exactText(item.n)) * 2n).toString()) })));
    expect(exact.applySync({ pk: 'p', sk: 's', n: big })).toEqual([{ pk: 'p', sk: 's', n: NumberValue.from('24691357802469135780') }]);
    expect(exact.applySync({ pk: 'p', sk: 's', n: 21 })).toEqual([{ pk: 'p', sk: 's', n: 42 }]);
  });

  it('checks every output against the step schema: SCHEMA_INVALID with the zod issues', async () => {
    // GIVEN v2 with a schema that needs a numeric price, and an item whose price is a string
    const chain = chainOf(migration(2, (item) => item, { schema: z.object({ pk: z.string(), price: z.number() }) }));
    // WHEN it is migrated (sync and async paths)
    const err = itemErrorOf(() => chain.applySync({ pk: 'p', sk: 's', price: '12' }));
    const asyncErr = await itemRejectionOf(chain.apply({ pk: 'p', sk: 's', price: '12' }, noReads));
    // THEN
    expect(err.code).toBe(SCHEMA_INVALID);
    expect(asyncErr.code).toBe(SCHEMA_INVALID);
    expect(err.issues?.map((i) => i.path)).toEqual([['price']]);
    expect(err.output).toEqual({ pk: 'p', sk: 's', price: '12' });
    // and a valid item passes with its extra attributes kept (the schema only validates)
    expect(chain.applySync({ pk: 'p', sk: 's', price: 12, extra: 'kept' })).toEqual([{ pk: 'p', sk: 's', price: 12, extra: 'kept' }]);
  });

  it('validates down outputs against downSchema', async () => {
    // GIVEN a v2 whose down output fails the v1 schema
    const m = migration(2, (item) => item, {
      down: (item) => ({ ...item, old: 'x' }),
      downSchema: z.object({ old: z.number() }),
    });
    const down = new MigrationChain({ table: 'things', fromVersion: 2, toVersion: 1, steps: [m], keyNames });
    // WHEN / THEN
    expect(down.direction).toBe('down');
    expect((await itemRejectionOf(down.apply({ pk: 'p', sk: 's' }, noReads))).code).toBe(SCHEMA_INVALID);
  });

  it('refuses an output that is not an item with SCHEMA_INVALID', () => {
    const chain = chainOf(migration(2, () => 'nope' as unknown as Item));
    expect(itemErrorOf(() => chain.applySync({ pk: 'p', sk: 's' })).code).toBe(SCHEMA_INVALID);
  });

  it('refuses an output attribute starting with _ss: META_ATTRIBUTE naming it', () => {
    // GIVEN a step that adds an attribute in the engine's namespace
    const chain = chainOf(migration(2, (item) => ({ ...item, _ssMine: 1 })));
    // WHEN
    const err = itemErrorOf(() => chain.applySync({ pk: 'p', sk: 's' }));
    // THEN
    expect(err.code).toBe(META_ATTRIBUTE);
    expect(err.attribute).toBe('_ssMine');
  });

  it('refuses a final output without a target key attribute (KEY_MISSING) but not an intermediate one', () => {
    // GIVEN v2 drops sk (an intermediate shape) and v3 sets it back, and a chain ending at v2
    const v2 = migration(2, ({ sk: _sk, ...rest }) => rest);
    const v3 = migration(3, (item) => ({ ...item, sk: 'restored' }));
    // WHEN / THEN the two-step chain is fine, the one-step chain is not
    expect(chainOf(v2, v3).applySync({ pk: 'p', sk: 's' })).toEqual([{ pk: 'p', sk: 'restored' }]);
    const err = itemErrorOf(() => chainOf(v2).applySync({ pk: 'p', sk: 's' }));
    expect(err.code).toBe(KEY_MISSING);
    expect(err.attribute).toBe('sk');
    // and an empty partition key counts as missing
    expect(itemErrorOf(() => chainOf(migration(2, (item) => ({ ...item, pk: '' }))).applySync({ pk: 'p', sk: 's' })).attribute).toBe('pk');
  });
});

describe('MigrationChain: sync fast path', () => {
  it('runs a pure chain without allocating a single promise and calls each step once per item', () => {
    // GIVEN a two-step pure chain with spied steps
    const up2 = vi.fn((item: Item) => ({ ...item, a: 1 }));
    const up3 = vi.fn((item: Item) => [item, { ...item, sk: `${item.sk}#copy` }]);
    const chain = chainOf(migration(2, up2), migration(3, up3));
    const items = Array.from({ length: 1000 }, (_, i) => ({ pk: `p${i}`, sk: 's' }));
    // WHEN 1000 items go through applySync while promise creation is counted
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    }).enable();
    let outputs = 0;
    let control: number | undefined;
    try {
      for (const item of items) outputs += chain.applySync(item)!.length;
      // (control: the hook does see promises, e.g. the one `apply` returns)
      const before = promises;
      void chain.apply(items[0], noReads);
      control = promises - before;
      promises = before;
    } finally {
      hook.disable();
    }
    // THEN no promise was created, every item was migrated, each step ran once per input
    expect(control).toBeGreaterThan(0);
    expect(promises).toBe(0);
    expect(outputs).toBe(2000);
    expect(up2).toHaveBeenCalledTimes(1001);
    expect(up3).toHaveBeenCalledTimes(1001);
    expect(chain.syncCapable).toBe(true);
  });

  it('learns that a step is async: applySync gives undefined and stops calling it, apply does the work with the reads', async () => {
    // GIVEN a pure v2 and a v3 that reads through the context
    const up2 = vi.fn((item: Item) => ({ ...item, a: 1 }));
    const up3 = vi.fn(async (item: Item, ctx: MigrationContext) => ({ ...item, extra: (await ctx.get({ pk: 'x', sk: 'y' }))?.v }));
    const chain = chainOf(migration(2, up2), migration(3, up3));
    const get = vi.fn(async () => ({ pk: 'x', sk: 'y', v: 42 }));
    const ctx: MigrationContext = { get, queryPartition: async () => [] };
    // WHEN applySync is tried twice, then apply is used
    const first = chain.applySync({ pk: 'p', sk: 's' });
    const second = chain.applySync({ pk: 'p', sk: 's' });
    const applied = await chain.apply({ pk: 'p', sk: 's' }, ctx);
    // THEN the first try ran the steps once (without touching the real context) and the second not at all
    expect(first).toBeUndefined();
    expect(second).toBeUndefined();
    expect(chain.syncCapable).toBe(false);
    expect(up3).toHaveBeenCalledTimes(2); // once probed by applySync, once by apply
    expect(get).toHaveBeenCalledTimes(1);
    expect(applied).toEqual([{ pk: 'p', sk: 's', a: 1, extra: 42 }]);
  });

  it('runs the fan-out of an async step concurrently, so its reads can be batched together', async () => {
    // GIVEN v2 fans out into 3 and v3 reads once per item; reads resolve only when released
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const requested: string[] = [];
    const ctx: MigrationContext = {
      get: async (key) => {
        requested.push(String(key.pk));
        await gate;
        return { ...key, n: requested.length };
      },
      queryPartition: async () => [],
    };
    const chain = chainOf(
      migration(2, (item) => [1, 2, 3].map((i) => ({ ...item, pk: `${item.pk}${i}` }))),
      migration(3, async (item, c) => ({ ...item, found: Boolean(await c.get({ pk: item.pk, sk: item.sk })) })),
    );
    // WHEN the item is applied
    const done = chain.apply({ pk: 'p', sk: 's' }, ctx);
    await Promise.resolve();
    // THEN all three reads were asked for before any was answered
    expect(requested).toEqual(['p1', 'p2', 'p3']);
    release();
    expect(await done).toEqual(['p1', 'p2', 'p3'].map((pk) => ({ pk, sk: 's', found: true })));
  });
});

describe('MigrationChain: shared outputs and source keys', () => {
  const shared = (version: number): Migration =>
    migration(version, (item) => item, {
      isShared: (item) => item.sk === 'SHARED',
      merge: (a, b) => ({ ...a, n: Math.max(a.n as number, b.n as number) }),
      sourcesOf: (item) => ({ partition: item.pk as string }),
      down: (item) => item,
    });

  it('takes isShared and merge from the last step', () => {
    // GIVEN v2 without declarations and v3 with them
    const chain = chainOf(migration(2, (item) => item), shared(3));
    // THEN
    expect(chain.isShared({ pk: 'p', sk: 'SHARED' })).toBe(true);
    expect(chain.isShared({ pk: 'p', sk: 'other' })).toBe(false);
    expect(chain.merge?.({ n: 1 }, { n: 3 })).toEqual({ n: 3 });
    expect(chainOf(shared(2), migration(3, (item) => item)).merge).toBeUndefined();
  });

  it('composes sourcesOf only for a single-step up chain', () => {
    // THEN single-step: the step's answer; multi-step and down: undefined (use the recorded source key)
    expect(chainOf(shared(2)).sourcesOf({ pk: 'p', sk: 'SHARED' })).toEqual({ partition: 'p' });
    expect(chainOf(migration(2, (item) => item), shared(3)).sourcesOf({ pk: 'p', sk: 'SHARED' })).toBeUndefined();
    const down = new MigrationChain({ table: 'things', fromVersion: 2, toVersion: 1, steps: [shared(2)], keyNames });
    expect(down.sourcesOf({ pk: 'p', sk: 'SHARED' })).toBeUndefined();
    expect(down.isShared({ pk: 'p', sk: 'SHARED' })).toBe(false);
  });
});
