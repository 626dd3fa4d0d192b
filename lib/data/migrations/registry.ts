/**
 * Every migration of an app, by table and version, and the chains between two data versions.
 * A table with no migration is at version 1; version N's migration turns N-1 items into N items.
 */
import { userError } from '../../errors';
import type { KeyNames } from '../../item/item';
import { MIGRATION_NO_DOWN, MigrationChain } from './chain';
import type { Migration } from './migration';

/** A migration that cannot be registered (bad table, bad version, duplicate), or a bad version asked for. */
export const MIGRATION_INVALID = 'MIGRATION_INVALID';
/** A chain needs a version that no registered migration produces. */
export const MIGRATION_CHAIN_GAP = 'MIGRATION_CHAIN_GAP';
export { MIGRATION_NO_DOWN };

export interface ChainOptions {
  /** The key attributes of the table the chain's outputs are written to (checked on every output). */
  readonly keyNames: KeyNames;
}

export class MigrationRegistry {
  /** table → version → migration */
  private readonly byTable = new Map<string, Map<number, Migration>>();

  /**
   * Adds migrations. All or nothing: a bad one (empty table, version not an integer ≥ 2, `up`
   * missing, or a (table, version) already registered) throws MIGRATION_INVALID and registers none.
   */
  public register(...migrations: readonly Migration[]): this {
    const seen = new Set<string>();
    for (const m of migrations) {
      const what = `migration ${JSON.stringify(m?.table)} v${String(m?.version)}`;
      if (typeof m?.table !== 'string' || m.table.length === 0) {
        throw userError(MIGRATION_INVALID, `${what} has no table name`, { fix: 'set `table` to the logical table name in release/tables.ts' });
      }
      if (!Number.isInteger(m.version) || m.version < 2) {
        throw userError(MIGRATION_INVALID, `${what}: version ${String(m.version)} is not an integer ≥ 2`, {
          fix: 'version 1 is the data before any migration: number the first migration of a table 2',
        });
      }
      if (typeof m.up !== 'function') throw userError(MIGRATION_INVALID, `${what} has no up function`, { fix: 'add up(item, ctx)' });
      if (m.down !== undefined && typeof m.down !== 'function') {
        throw userError(MIGRATION_INVALID, `${what}: down is ${typeof m.down}, not a function`, { fix: 'make down a function or leave it out' });
      }
      const id = `${m.table}\u0000${m.version}`;
      if (seen.has(id) || this.byTable.get(m.table)?.has(m.version)) {
        throw userError(MIGRATION_INVALID, `${what} is registered twice`, {
          fix: `give each migration of table "${m.table}" its own version`,
        });
      }
      seen.add(id);
    }
    for (const m of migrations) {
      let versions = this.byTable.get(m.table);
      if (!versions) this.byTable.set(m.table, (versions = new Map()));
      versions.set(m.version, m);
    }
    return this;
  }

  /** The highest registered version of a table; 1 when it has no migration. */
  public latestVersion(table: string): number {
    const versions = this.byTable.get(table);
    return versions && versions.size > 0 ? Math.max(...versions.keys()) : 1;
  }

  /** The tables with at least one migration. */
  public tables(): string[] {
    return [...this.byTable.keys()].sort();
  }

  /** A table's migrations in version order. */
  public migrationsOf(table: string): Migration[] {
    return [...(this.byTable.get(table)?.values() ?? [])].sort((a, b) => a.version - b.version);
  }

  /**
   * The chain that turns `fromVersion` items into `toVersion` items: `up` steps when from < to,
   * `down` steps in descending order when from > to, an identity chain when equal.
   * Throws MIGRATION_CHAIN_GAP when a version in between is not registered, MIGRATION_NO_DOWN when a
   * down chain crosses a migration without `down`, MIGRATION_INVALID for a version that is not an
   * integer ≥ 1.
   */
  public chain(table: string, fromVersion: number, toVersion: number, options: ChainOptions): MigrationChain {
    const steps = this.between(table, fromVersion, toVersion);
    if (fromVersion > toVersion) {
      const missing = steps.filter((m) => !m.down).map((m) => m.version);
      if (missing.length > 0) {
        throw userError(
          MIGRATION_NO_DOWN,
          `table "${table}" cannot go back from version ${fromVersion} to ${toVersion}: ${missing.map((v) => `v${v}`).join(', ')} ${missing.length === 1 ? 'has' : 'have'} no down migration`,
          { fix: `add down() to the ${table} v${missing.join(', v')} migration, or roll forward instead` },
        );
      }
      steps.reverse();
    }
    return new MigrationChain({ table, fromVersion, toVersion, steps, keyNames: options.keyNames });
  }

  /**
   * Whether data can go from `toVersion` back to `fromVersion` (either order accepted): every
   * migration in between has `down`. `plan` uses it to say a rollback would be lossy.
   * Throws MIGRATION_CHAIN_GAP like `chain`.
   */
  public chainIsReversible(table: string, fromVersion: number, toVersion: number): boolean {
    return this.between(table, fromVersion, toVersion).every((m) => typeof m.down === 'function');
  }

  /** The migrations of versions (min, max], ascending; throws on a gap. */
  private between(table: string, fromVersion: number, toVersion: number): Migration[] {
    for (const [name, v] of [
      ['fromVersion', fromVersion],
      ['toVersion', toVersion],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw userError(MIGRATION_INVALID, `${name} ${String(v)} of table "${table}" is not an integer ≥ 1`, {
          fix: 'data versions start at 1 (no migration) and count up by one per migration',
        });
      }
    }
    const lo = Math.min(fromVersion, toVersion);
    const hi = Math.max(fromVersion, toVersion);
    const versions = this.byTable.get(table);
    const steps: Migration[] = [];
    for (let v = lo + 1; v <= hi; v++) {
      const m = versions?.get(v);
      if (!m) {
        const known = versions && versions.size > 0 ? [...versions.keys()].sort((a, b) => a - b).join(', ') : 'none';
        throw userError(
          MIGRATION_CHAIN_GAP,
          `table "${table}" has no migration for version ${v}: going from version ${fromVersion} to ${toVersion} needs versions ${lo + 1} to ${hi} (registered: ${known})`,
          { fix: `register a migration with table "${table}" and version ${v} (it turns version ${v - 1} items into version ${v} items)` },
        );
      }
      steps.push(m);
    }
    return steps;
  }
}
