import { describe, expect, it } from 'vitest';
import type { Item } from '../../lib/item/item';
import { MigrationRegistry } from '../../lib/data/migrations/registry';
import type { Migration } from '../../lib/data/migrations/migration';
import { ReleaseError } from '../../lib/errors';
import { parseTableManifest } from '../../lib/manifest/table-manifest';
import type { ReleaseDefinition } from '../../lib/config/definition';
import { assertLosslessRollback, ROLLBACK_LOSSY } from '../../lib/release/promote-verb';
import { definition as example } from '../_helpers/catalog';

const tables = parseTableManifest({
  tables: [
    { name: 'products', partitionKey: { name: 'pk', type: 'S' } },
    { name: 'orders', partitionKey: { name: 'pk', type: 'S' } },
  ],
});

function migration(table: string, version: number, withDown: boolean): Migration {
  return {
    table,
    version,
    description: `${table} v${version}`,
    up: (item: Item) => ({ ...item, v: version }),
    ...(withDown ? { down: (item: Item) => ({ ...item, v: version - 1 }) } : {}),
  };
}

/** products 1→2 has a down, 2→3 has none; orders 1→2 has a down. */
const definition: ReleaseDefinition = {
  ...example,
  tables,
  migrations: new MigrationRegistry().register(migration('products', 2, true), migration('products', 3, false), migration('orders', 2, true)),
};

const release = (releaseId: string, products: number, orders: number) => ({ releaseId, dataVersions: { products, orders } });

function refusal(fn: () => void): ReleaseError | undefined {
  try {
    fn();
  } catch (e) {
    if (ReleaseError.isReleaseError(e)) return e;
    throw e;
  }
  return undefined;
}

describe('assertLosslessRollback (promote refuses a rollback that would lose writes)', () => {
  it('accepts a promote over a live release whose every migration in between has a down', () => {
    expect(refusal(() => assertLosslessRollback(definition, release('sha-new', 2, 2), release('sha-live', 1, 1)))).toBeUndefined();
    // the same versions: nothing to migrate
    expect(refusal(() => assertLosslessRollback(definition, release('sha-new', 3, 1), release('sha-live', 3, 1)))).toBeUndefined();
  });

  it('refuses one with a migration without down, naming the tables, the releases and the way out', () => {
    const err = refusal(() => assertLosslessRollback(definition, release('sha-new', 3, 2), release('sha-live', 1, 1)));
    expect(err?.code).toBe(ROLLBACK_LOSSY);
    expect(ReleaseError.isUserError(err)).toBe(true);
    expect(err?.message).toMatch(/^a rollback from sha-new to sha-live would lose writes: no down migration for products:/);
    expect(err?.fix).toContain('--allow-lossy-rollback');
  });
});
