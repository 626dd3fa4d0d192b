import { describe, expect, it } from 'vitest';
import { ReleaseError } from '../../../lib/errors';
import type { Item } from '../../../lib/item/item';
import type { Migration } from '../../../lib/data/migrations/migration';
import { MIGRATION_CHAIN_GAP, MIGRATION_INVALID, MIGRATION_NO_DOWN, MigrationRegistry } from '../../../lib/data/migrations/registry';

const keyNames = { partitionKey: 'pk', sortKey: 'sk' };
const ctx = { get: async () => undefined, queryPartition: async () => [] };

/** A migration that appends its version to `trail` (and removes it in down). */
function step(version: number, options: { down?: boolean; table?: string } = {}): Migration {
  return {
    table: options.table ?? 'products',
    version,
    description: `step ${version}`,
    up: (item: Item) => ({ ...item, trail: [...(item.trail as number[]), version] }),
    ...(options.down === false ? {} : { down: (item: Item) => ({ ...item, trail: (item.trail as number[]).filter((v) => v !== version) }) }),
  };
}

function userErrorOf(fn: () => unknown): ReleaseError {
  try {
    fn();
  } catch (err) {
    expect(ReleaseError.isUserError(err)).toBe(true);
    return err as ReleaseError;
  }
  throw new Error('expected a user error, nothing was thrown');
}

describe('MigrationRegistry.register', () => {
  it('rejects a (table, version) registered twice, in one call or across calls, and registers none of a bad call', () => {
    // GIVEN a registry with products v2
    const registry = new MigrationRegistry().register(step(2));
    // WHEN v2 is registered again, or v3 twice in one call
    const again = userErrorOf(() => registry.register(step(2)));
    const twice = userErrorOf(() => registry.register(step(3), step(3)));
    // THEN both are MIGRATION_INVALID and v3 was not half-registered
    expect(again.code).toBe(MIGRATION_INVALID);
    expect(twice.code).toBe(MIGRATION_INVALID);
    expect(registry.latestVersion('products')).toBe(2);
  });

  it('accepts the same version for different tables', () => {
    // GIVEN / WHEN v2 of two tables
    const registry = new MigrationRegistry().register(step(2), step(2, { table: 'orders' }));
    // THEN each table is at version 2
    expect(registry.latestVersion('products')).toBe(2);
    expect(registry.latestVersion('orders')).toBe(2);
    expect(registry.tables()).toEqual(['orders', 'products']);
  });

  it.each([
    ['version 1', 1],
    ['version 0', 0],
    ['a fractional version', 2.5],
    ['a negative version', -3],
  ])('rejects %s with MIGRATION_INVALID', (_what, version) => {
    // GIVEN / WHEN a migration with a version below 2 or not an integer
    const err = userErrorOf(() => new MigrationRegistry().register(step(version)));
    // THEN it is refused
    expect(err.code).toBe(MIGRATION_INVALID);
  });

  it('rejects a migration without a table name', () => {
    const err = userErrorOf(() => new MigrationRegistry().register(step(2, { table: '' })));
    expect(err.code).toBe(MIGRATION_INVALID);
  });
});

describe('MigrationRegistry.latestVersion', () => {
  it('is 1 for a table without migrations and the highest version otherwise', () => {
    // GIVEN products v2 and v3 registered out of order
    const registry = new MigrationRegistry().register(step(3), step(2));
    // THEN
    expect(registry.latestVersion('orders')).toBe(1);
    expect(registry.latestVersion('products')).toBe(3);
    expect(registry.migrationsOf('products').map((m) => m.version)).toEqual([2, 3]);
  });
});

describe('MigrationRegistry.chain', () => {
  it('chains up steps in version order', async () => {
    // GIVEN v2..v4
    const registry = new MigrationRegistry().register(step(4), step(2), step(3));
    // WHEN chaining 1 → 4 and 2 → 4
    const full = registry.chain('products', 1, 4, { keyNames });
    const partial = registry.chain('products', 2, 4, { keyNames });
    // THEN every step runs once, in order
    const item = { pk: 'p', sk: 's', trail: [] };
    expect(full.direction).toBe('up');
    expect(await full.apply(item, ctx)).toEqual([{ ...item, trail: [2, 3, 4] }]);
    expect(partial.applySync(item)).toEqual([{ ...item, trail: [3, 4] }]);
  });

  it('names the table, the missing version and the fix on a gap', () => {
    // GIVEN v2 and v4 but no v3
    const registry = new MigrationRegistry().register(step(2), step(4));
    // WHEN chaining 1 → 4
    const err = userErrorOf(() => registry.chain('products', 1, 4, { keyNames }));
    // THEN MIGRATION_CHAIN_GAP says what is missing and how to fix it
    expect(err.code).toBe(MIGRATION_CHAIN_GAP);
    expect(err.message).toContain('"products"');
    expect(err.message).toContain('version 3');
    expect(err.fix).toMatch(/register a migration .* version 3/);
  });

  it('is a gap when the target version is beyond the latest', () => {
    const err = userErrorOf(() => new MigrationRegistry().register(step(2)).chain('products', 1, 3, { keyNames }));
    expect(err.code).toBe(MIGRATION_CHAIN_GAP);
    expect(err.message).toContain('version 3');
  });

  it('builds a reverse chain from the down steps, newest first', async () => {
    // GIVEN v2 and v3 with down
    const registry = new MigrationRegistry().register(step(2), step(3));
    // WHEN chaining 3 → 1
    const chain = registry.chain('products', 3, 1, { keyNames });
    // THEN it runs v3.down then v2.down
    expect(chain.direction).toBe('down');
    expect(chain.migrations.map((m) => m.version)).toEqual([3, 2]);
    expect(await chain.apply({ pk: 'p', sk: 's', trail: [2, 3] }, ctx)).toEqual([{ pk: 'p', sk: 's', trail: [] }]);
    expect(registry.chainIsReversible('products', 1, 3)).toBe(true);
  });

  it('refuses a reverse chain across a step without down, and chainIsReversible says so', () => {
    // GIVEN v3 has no down
    const registry = new MigrationRegistry().register(step(2), step(3, { down: false }), step(4));
    // WHEN chaining 4 → 1
    const err = userErrorOf(() => registry.chain('products', 4, 1, { keyNames }));
    // THEN MIGRATION_NO_DOWN names v3, and only ranges crossing v3 are irreversible
    expect(err.code).toBe(MIGRATION_NO_DOWN);
    expect(err.message).toContain('v3');
    expect(registry.chainIsReversible('products', 1, 4)).toBe(false);
    expect(registry.chainIsReversible('products', 4, 2)).toBe(false);
    expect(registry.chainIsReversible('products', 3, 4)).toBe(true);
    expect(registry.chainIsReversible('products', 1, 2)).toBe(true);
  });

  it('throws the gap error from chainIsReversible too', () => {
    const err = userErrorOf(() => new MigrationRegistry().register(step(3)).chainIsReversible('products', 1, 3));
    expect(err.code).toBe(MIGRATION_CHAIN_GAP);
  });

  it('gives an identity chain for from == to, even for a table without migrations', () => {
    // GIVEN no migrations
    const chain = new MigrationRegistry().chain('orders', 1, 1, { keyNames });
    // WHEN an item goes through it
    const item = { pk: 'o', sk: 'x' };
    // THEN it comes back as is
    expect(chain.isIdentity).toBe(true);
    expect(chain.applySync(item)![0]).toBe(item);
  });

  it.each([
    [0, 2],
    [1.5, 2],
    [2, -1],
  ])('rejects versions %s → %s with MIGRATION_INVALID', (from, to) => {
    const err = userErrorOf(() => new MigrationRegistry().register(step(2)).chain('products', from, to, { keyNames }));
    expect(err.code).toBe(MIGRATION_INVALID);
  });
});
