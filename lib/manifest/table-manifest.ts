/**
 * The table manifest: the DynamoDB tables a release of the app owns, declared once per app in
 * `release/tables.ts`. Every ReleaseStack creates its own copy of each table under a physical
 * name that carries the release id, so two releases never share a table.
 *
 * Validation happens here, before any construct is built: a bad manifest is one user error line
 * (code `MANIFEST_INVALID`) naming the bad value and the fix, not a CloudFormation failure later.
 */
import { z } from 'zod';
import { userError, type ReleaseError } from '../errors';

/** DynamoDB scalar key types: string, number, binary. */
export type KeyAttributeType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  /** The attribute name, e.g. `pk`. */
  readonly name: string;
  readonly type: KeyAttributeType;
}

export interface GlobalSecondaryIndexSpec {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  /** @default - no sort key */
  readonly sortKey?: KeyAttribute;
}

export interface TableSpec {
  /** Logical name, lowercase `[a-z0-9-]`; the physical name adds the app and release id. */
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  /** @default - no sort key */
  readonly sortKey?: KeyAttribute;
  /** Projection is always ALL. @default - no indexes */
  readonly globalSecondaryIndexes?: readonly GlobalSecondaryIndexSpec[];
  /** When true the table has a stream with NEW_AND_OLD_IMAGES (the sync needs full images). @default false */
  readonly stream?: boolean;
  /** @default - no time to live */
  readonly timeToLiveAttribute?: string;
  /**
   * A number the app raises on every write of an item: the syncs never apply a change older than
   * what the other stack holds (ChangeApplier, RULE 7). @default - none: changes apply in stream order only
   */
  readonly versionAttribute?: string;
}

export interface TableManifest {
  readonly tables: readonly TableSpec[];
}

export const MANIFEST_INVALID = 'MANIFEST_INVALID';
export const TABLE_NAME_INVALID = 'TABLE_NAME_INVALID';
export const RELEASE_ID_INVALID = 'RELEASE_ID_INVALID';

/** DynamoDB attribute names: 1..255 bytes; we keep them printable and free of spaces. */
const attributeName = z
  .string()
  .regex(/^[A-Za-z0-9_.:#-]{1,255}$/, 'must be 1-255 characters of [A-Za-z0-9_.:#-]');

const keyAttribute = z.strictObject({
  name: attributeName,
  type: z.enum(['S', 'N', 'B'], { error: "must be 'S', 'N' or 'B'" }),
});

const gsi = z.strictObject({
  // DynamoDB index names: 3-255 characters of [a-zA-Z0-9_.-].
  indexName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 characters of [A-Za-z0-9_.-]'),
  partitionKey: keyAttribute,
  sortKey: keyAttribute.optional(),
});

const LOGICAL_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

const table = z.strictObject({
  name: z
    .string()
    .regex(LOGICAL_NAME, 'must be 1-64 characters of lowercase [a-z0-9-], not starting or ending with "-"'),
  partitionKey: keyAttribute,
  sortKey: keyAttribute.optional(),
  globalSecondaryIndexes: z.array(gsi).max(20, 'DynamoDB allows at most 20 global secondary indexes').optional(),
  stream: z.boolean().optional(),
  timeToLiveAttribute: attributeName.optional(),
  /**
   * A number the app raises on every write of an item (a revision). The syncs around a flip then
   * never apply a change older than what the other stack holds: a client that wrote on the old
   * stack and again on the new one keeps its later write. Without it, the syncs apply full images
   * in stream order only.
   */
  versionAttribute: attributeName.optional(),
});

export const tableManifestSchema = z
  .strictObject({
    tables: z.array(table).min(1, 'must declare at least one table'),
  })
  .superRefine((manifest, ctx) => {
    // Construct ids and output names use the PascalCase form, so it must be unique too ("a-1" and "a1" are not).
    const seen = new Map<string, string>();
    manifest.tables.forEach((t, i) => {
      const pascal = tablePascalName(t.name);
      const other = seen.get(pascal);
      if (other !== undefined) {
        const message = other === t.name ? 'is declared twice; table names must be unique' : `clashes with "${other}" (both are "${pascal}" in output names); rename one`;
        ctx.addIssue({ code: 'custom', path: ['tables', i, 'name'], input: t.name, message });
      }
      seen.set(pascal, t.name);
      // One attribute has one type across the table and its indexes (CloudFormation rejects a conflict).
      const types = new Map<string, string>();
      const keys: Array<[KeyAttribute | undefined, (string | number)[]]> = [
        [t.partitionKey, ['partitionKey']],
        [t.sortKey, ['sortKey']],
      ];
      const indexNames = new Set<string>();
      (t.globalSecondaryIndexes ?? []).forEach((g, j) => {
        if (indexNames.has(g.indexName)) {
          ctx.addIssue({ code: 'custom', path: ['tables', i, 'globalSecondaryIndexes', j, 'indexName'], input: g.indexName, message: 'is declared twice in this table; index names must be unique' });
        }
        indexNames.add(g.indexName);
        keys.push([g.partitionKey, ['globalSecondaryIndexes', j, 'partitionKey']]);
        keys.push([g.sortKey, ['globalSecondaryIndexes', j, 'sortKey']]);
      });
      for (const [key, path] of keys) {
        if (!key) continue;
        const known = types.get(key.name);
        if (known && known !== key.type) {
          ctx.addIssue({ code: 'custom', path: ['tables', i, ...path, 'type'], input: key.type, message: `conflicts with type '${known}' declared for attribute "${key.name}" elsewhere in this table; use one type per attribute` });
        }
        types.set(key.name, key.type);
      }
    });
  });

/** `order-items` → `OrderItems`: the form used in construct ids and output names. */
export function tablePascalName(logicalName: string): string {
  return logicalName
    .split('-')
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** Render the first zod issue as one line: where, the bad value, what is expected. */
export function zodUserError(code: string, what: string, error: z.ZodError, fix: string): ReleaseError {
  const issue = error.issues[0];
  const where = issue.path.length ? formatPath(issue.path) : 'the value';
  // Show the bad value when it is a scalar; an object would make the line unreadable.
  const input: unknown = 'input' in issue ? issue.input : undefined;
  const bad = ['string', 'number', 'boolean'].includes(typeof input) ? ` ${JSON.stringify(input)}` : '';
  return userError(code, `invalid ${what}: ${where}${bad} ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`, { fix });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** The key types a table spec declares: what the copy and the sync check the tables against. */
export function keyTypesOf(spec: TableSpec): { readonly partitionKey: KeyAttributeType; readonly sortKey?: KeyAttributeType } {
  return { partitionKey: spec.partitionKey.type, ...(spec.sortKey ? { sortKey: spec.sortKey.type } : {}) };
}

/** Validate a manifest (for example the export of `release/tables.ts`). Throws a `MANIFEST_INVALID` user error. */
export function parseTableManifest(input: unknown): TableManifest {
  const result = tableManifestSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    throw zodUserError(MANIFEST_INVALID, 'table manifest', result.error, 'fix the table manifest in release/tables.ts');
  }
  return result.data;
}

/** DynamoDB table names: 3-255 characters of [a-zA-Z0-9_.-]. */
const PHYSICAL_TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * The physical (DynamoDB) name of a release's table: `${app}-${releaseId}-${logicalName}`.
 * It is a literal string in the template, so other components read it without deploying.
 */
export function physicalTableName(app: string, releaseId: string, logicalName: string): string {
  const name = `${app}-${releaseId}-${logicalName}`;
  if (name.length > 255) {
    throw userError(TABLE_NAME_INVALID, `table name "${name}" is ${name.length} characters, DynamoDB allows 255`, {
      fix: 'shorten the app name or the logical table name',
    });
  }
  if (!PHYSICAL_TABLE_NAME.test(name)) {
    throw userError(TABLE_NAME_INVALID, `table name "${name}" contains characters DynamoDB does not allow`, {
      fix: 'use only [a-z0-9-] in the app name, release id and logical table name',
    });
  }
  return name;
}

const SHA = /^[0-9a-f]{7,40}$/i;
const BRANCH_SLUG_MAX = 40;
/** Characters accepted in a branch name before slugging (git allows more; we keep it to what maps cleanly). */
const BRANCH_CHARS = /^[A-Za-z0-9._/-]+$/;

/** `sha-<first 12 hex>` for a commit sha (7 to 40 hex digits, any case). */
export function releaseIdFromSha(sha: string): string {
  if (!SHA.test(sha)) {
    throw userError(RELEASE_ID_INVALID, `invalid commit sha "${sha}": expected 7 to 40 hex digits`, {
      fix: 'pass a commit sha such as the output of `git rev-parse HEAD`',
    });
  }
  return `sha-${sha.toLowerCase().slice(0, 12)}`;
}

/**
 * `br-<slug>` for a branch: lowercase, `/`, `_` and `.` become `-`, repeated `-` collapse.
 * The slug must be 1..40 characters; longer branch names are refused rather than truncated, since
 * truncation would let two branches share one stack.
 */
export function releaseIdFromBranch(branch: string): string {
  if (!BRANCH_CHARS.test(branch)) {
    throw userError(RELEASE_ID_INVALID, `invalid branch name "${branch}": only letters, digits, ".", "_", "/" and "-" are supported`, {
      fix: 'rename the branch',
    });
  }
  const slug = branch
    .toLowerCase()
    .replace(/[._/]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (slug.length === 0) {
    throw userError(RELEASE_ID_INVALID, `invalid branch name "${branch}": it has no letters or digits`, { fix: 'rename the branch' });
  }
  if (slug.length > BRANCH_SLUG_MAX) {
    throw userError(
      RELEASE_ID_INVALID,
      `branch name "${branch}" gives the slug "${slug}" of ${slug.length} characters, at most ${BRANCH_SLUG_MAX} are allowed`,
      { fix: 'use a shorter branch name' },
    );
  }
  return `br-${slug}`;
}

/** A release is named by exactly one of a commit sha or a branch (checked at run time: input comes from the CLI). */
export interface ReleaseRef {
  readonly sha?: string;
  readonly branch?: string;
}

/** The release id of a sha or a branch (see `releaseIdFromSha` and `releaseIdFromBranch`). */
export function releaseId(ref: ReleaseRef): string {
  if (ref.sha !== undefined && ref.branch !== undefined) {
    throw userError(RELEASE_ID_INVALID, `both sha "${ref.sha}" and branch "${ref.branch}" given`, { fix: 'name a release by a sha or by a branch, not both' });
  }
  if (ref.sha !== undefined) return releaseIdFromSha(ref.sha);
  if (ref.branch !== undefined) return releaseIdFromBranch(ref.branch);
  throw userError(RELEASE_ID_INVALID, 'a release needs a sha or a branch', { fix: 'name the release by a commit sha or a branch' });
}

/** The shape every release id has: `sha-<7..12 hex>` or `br-<slug>`. */
export const RELEASE_ID_PATTERN = /^(?:sha-[0-9a-f]{7,12}|br-[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)$/;

/**
 * The physical name of an app's ledger table: `${app}-ledger`. Lives here, not in stacks/, so the
 * engine's processes can name it without loading aws-cdk-lib (~200 MB of resident memory).
 */
export function ledgerTableName(app: string): string {
  return `${app}-ledger`;
}
