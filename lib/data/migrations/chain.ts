/**
 * A chain of migration steps for one table, from one data version to another: what the copy engine,
 * the stream sync and the reverse sync run on every item.
 *
 * Hot path: most migrations are pure functions of one item. `applySync` runs such a chain without
 * allocating a promise per item; a step is only known to be asynchronous after it was called and
 * returned a thenable (a function's result cannot be known without calling it), so the chain learns:
 * the first thenable marks the chain asynchronous, `applySync` returns `undefined` from then on
 * without calling anything, and the caller uses `apply`.
 */
import type { z } from 'zod';
import { ReleaseError, userError } from '../../errors';
import { META_PREFIX, keyOf, stableJson, type Item, type Key, type KeyNames } from '../../item/item';
import { isNumeric, numberPrecisionLoss } from '../../item/numbers';
import type { Migration, MigrationContext, MigrationResult } from './migration';

/** `up` runs version N-1 → N (forward copy and sync); `down` runs N → N-1 (reverse sync, rollback). */
export type MigrationDirection = 'up' | 'down';

/** A down chain crosses a migration without `down` (thrown when the chain is built). */
export const MIGRATION_NO_DOWN = 'MIGRATION_NO_DOWN';

/** The user's migration threw or rejected. */
export const MIGRATION_THREW = 'MIGRATION_THREW';
/** An output item failed the step's zod schema (`schema` for up, `downSchema` for down), or was not an item. */
export const SCHEMA_INVALID = 'SCHEMA_INVALID';
/** An output item has an attribute starting with `_ss` (reserved for the engine's meta attributes). */
export const META_ATTRIBUTE = 'META_ATTRIBUTE';
/** A final output item lacks a key attribute of the target table. */
export const KEY_MISSING = 'KEY_MISSING';
/**
 * An output number lost digits (lib/item/numbers.ts `numberPrecisionLoss`): an integer beyond 2^53
 * as a JavaScript number, or an exact input number that came out as a different JavaScript number.
 */
export const NUMBER_PRECISION = 'NUMBER_PRECISION';

export type MigrationItemErrorCode = typeof MIGRATION_THREW | typeof SCHEMA_INVALID | typeof META_ATTRIBUTE | typeof KEY_MISSING | typeof NUMBER_PRECISION;

const ITEM_ERROR_BRAND = Symbol.for('stackshift.MigrationItemError');

export interface MigrationItemErrorProps {
  readonly code: MigrationItemErrorCode;
  readonly message: string;
  readonly table: string;
  /** The version of the failing step (the version its `up` produces, or its `down` starts from). */
  readonly version: number;
  readonly direction: MigrationDirection;
  /** The item the failing step was given (meta attributes removed). */
  readonly input: Item;
  /** The offending output item. @default - none (the step threw) */
  readonly output?: Item;
  /** The offending attribute (META_ATTRIBUTE, KEY_MISSING). @default - none */
  readonly attribute?: string;
  /** The zod issues (SCHEMA_INVALID). @default - none */
  readonly issues?: z.ZodError['issues'];
  readonly fix?: string;
  readonly cause?: unknown;
}

/**
 * One item that a migration chain could not migrate. The engine dead-letters the source item
 * (source key, sequence number, image, this error) and carries on; it never stops a copy.
 * A user error: the migration code or the data is at fault, not the tool.
 */
export class MigrationItemError extends ReleaseError {
  /** Brand check that survives duplicate module copies (unlike `instanceof`). */
  public static isMigrationItemError(x: unknown): x is MigrationItemError {
    return typeof x === 'object' && x !== null && ITEM_ERROR_BRAND in x;
  }

  public declare readonly code: MigrationItemErrorCode;
  public readonly table: string;
  public readonly version: number;
  public readonly direction: MigrationDirection;
  public readonly input: Item;
  public readonly output?: Item;
  public readonly attribute?: string;
  public readonly issues?: z.ZodError['issues'];

  public constructor(props: MigrationItemErrorProps) {
    super(props.code, 'user', props.message, { fix: props.fix, cause: props.cause });
    Object.defineProperty(this, ITEM_ERROR_BRAND, { value: true });
    this.name = 'MigrationItemError';
    this.table = props.table;
    this.version = props.version;
    this.direction = props.direction;
    this.input = props.input;
    this.output = props.output;
    this.attribute = props.attribute;
    this.issues = props.issues;
  }
}

export interface MigrationChainProps {
  readonly table: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  /** The migrations in application order: ascending for `up`, descending for `down`. */
  readonly steps: readonly Migration[];
  /** The key attributes of the table the outputs are written to. */
  readonly keyNames: KeyNames;
}

/** What `sourcesOf` returns: source keys, or a partition value meaning "every source item under it". */
export type SourceKeys = { readonly partition: string | number } | readonly Key[];

type StepFn = (item: Item, ctx: MigrationContext) => MigrationResult | Promise<MigrationResult>;

interface Step {
  readonly migration: Migration;
  readonly fn: StepFn;
  readonly schema: z.ZodType | undefined;
}

/** Returned internally when the sync fast path meets an asynchronous step. */
const BAIL = Symbol('bail');

/**
 * The context the sync fast path gives to steps. A step that reads returns a thenable and sends the
 * caller to `apply`, so nothing is read twice; the reads never settle (no unhandled rejections),
 * and the abandoned call is garbage once dropped.
 */
const PROBE_CONTEXT: MigrationContext = {
  get: () => NEVER,
  queryPartition: () => NEVER,
};
const NEVER: Promise<never> = new Promise<never>(() => {});

export class MigrationChain {
  public readonly table: string;
  public readonly fromVersion: number;
  public readonly toVersion: number;
  public readonly direction: MigrationDirection;
  public readonly keyNames: KeyNames;
  public readonly migrations: readonly Migration[];
  private readonly steps: Step[];
  /** Set once a step returned a thenable: the sync fast path is not tried again. */
  private sawAsync = false;
  /** Shared-output declarations of the last step (up chains only; see `isShared`). */
  private readonly last: Migration | undefined;

  public constructor(props: MigrationChainProps) {
    this.table = props.table;
    this.fromVersion = props.fromVersion;
    this.toVersion = props.toVersion;
    this.direction = props.toVersion >= props.fromVersion ? 'up' : 'down';
    this.keyNames = props.keyNames;
    this.migrations = [...props.steps];
    this.steps = props.steps.map((migration) => {
      const fn = this.direction === 'up' ? migration.up : migration.down;
      if (!fn) {
        throw userError(MIGRATION_NO_DOWN, `${migration.table} v${migration.version} has no down migration: cannot go from version ${props.fromVersion} to ${props.toVersion}`, {
          fix: `add down() to the ${migration.table} v${migration.version} migration, or roll forward instead`,
        });
      }
      return {
        migration,
        fn: fn.bind(migration),
        schema: this.direction === 'up' ? migration.schema : migration.downSchema,
      };
    });
    this.last = this.direction === 'up' ? props.steps[props.steps.length - 1] : undefined;
  }

  /** True when from == to: items pass through unchanged. */
  public get isIdentity(): boolean {
    return this.steps.length === 0;
  }

  /** False once any step was seen returning a promise: `applySync` will return undefined. */
  public get syncCapable(): boolean {
    return !this.sawAsync;
  }

  /**
   * Migrates one item, awaiting asynchronous steps (fan-out items of one step run concurrently, so
   * their context reads are batched together). Meta attributes of the input are removed first.
   * Rejects with a `MigrationItemError` when the item cannot be migrated.
   */
  public apply(item: Item, ctx: MigrationContext): Promise<Item[]> {
    try {
      const result = this.run([stripMeta(item)], 0, ctx, false);
      return result instanceof Promise ? result : Promise.resolve(result as Item[]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Migrates one item synchronously, or returns `undefined` when a step is asynchronous (call `apply`
   * instead). For a chain of pure steps this allocates no promise. Steps are called with a context
   * whose reads never settle: a step that reads returns a thenable, which is abandoned.
   * Throws a `MigrationItemError` when the item cannot be migrated.
   */
  public applySync(item: Item): Item[] | undefined {
    if (this.sawAsync) return undefined;
    const result = this.run([stripMeta(item)], 0, PROBE_CONTEXT, true);
    return result === BAIL ? undefined : (result as Item[]);
  }

  /**
   * True for output items that several source items may produce: the last step's `isShared`.
   * Down chains declare none: their outputs are recomputed from the newer table's current state
   * (the context's reads), so the reverse sync writes them as they come.
   */
  public isShared(item: Item): boolean {
    return this.last?.isShared?.(item) ?? false;
  }

  /** The last step's `merge` (up chains only). @default - undefined: differing shared content is a dead letter */
  public get merge(): ((existing: Item, incoming: Item) => Item) | undefined {
    const last = this.last;
    return last?.merge ? (existing, incoming) => last.merge!(existing, incoming) : undefined;
  }

  /**
   * The source keys that can produce an output item: the step's `sourcesOf` for a single-step up
   * chain. Multi-step chains do not compose it (an intermediate version's keys are never stored),
   * and down chains have no inverse declared: `undefined` means "use the source key recorded on the
   * target item" (META.source).
   */
  public sourcesOf(item: Item): SourceKeys | undefined {
    if (this.direction !== 'up' || this.steps.length !== 1) return undefined;
    return this.steps[0].migration.sourcesOf?.(item);
  }

  /**
   * Runs steps `from..` over `inputs`, synchronously while every step returns a plain value. On the
   * first thenable: with `bail` it returns BAIL, otherwise it continues asynchronously.
   */
  private run(inputs: Item[], from: number, ctx: MigrationContext, bail: boolean): Item[] | Promise<Item[]> | typeof BAIL {
    let current = inputs;
    for (let i = from; i < this.steps.length; i++) {
      const step = this.steps[i];
      const next: Item[] = [];
      for (let j = 0; j < current.length; j++) {
        const raw = this.call(step, current[j], ctx);
        if (isThenable(raw)) {
          this.sawAsync = true;
          if (bail) {
            // Abandon the call; a rejection of it must not surface as unhandled.
            Promise.resolve(raw).catch(() => undefined);
            return BAIL;
          }
          return this.finishAsync(i, current, j, raw, next, ctx);
        }
        this.collect(step, current[j], raw, next);
      }
      current = next;
    }
    return current;
  }

  /** Step `i` returned a thenable for input `j`: runs the rest of step i concurrently, then the later steps. */
  private async finishAsync(
    i: number,
    inputs: Item[],
    j: number,
    first: PromiseLike<MigrationResult>,
    next: Item[],
    ctx: MigrationContext,
  ): Promise<Item[]> {
    const step = this.steps[i];
    const pending: Promise<MigrationResult>[] = [this.settle(step, inputs[j], first)];
    try {
      for (let k = j + 1; k < inputs.length; k++) {
        const raw = this.call(step, inputs[k], ctx);
        pending.push(isThenable(raw) ? this.settle(step, inputs[k], raw) : Promise.resolve(raw));
      }
    } catch (err) {
      for (const p of pending) p.catch(() => undefined);
      throw err;
    }
    const results = await Promise.all(pending);
    for (let k = 0; k < results.length; k++) this.collect(step, inputs[j + k], results[k], next);
    return this.run(next, i + 1, ctx, false) as Item[] | Promise<Item[]>;
  }

  private call(step: Step, input: Item, ctx: MigrationContext): MigrationResult | PromiseLike<MigrationResult> {
    try {
      return step.fn(input, ctx);
    } catch (err) {
      throw this.threw(step, input, err);
    }
  }

  private settle(step: Step, input: Item, p: PromiseLike<MigrationResult>): Promise<MigrationResult> {
    return Promise.resolve(p).catch((err: unknown) => {
      throw this.threw(step, input, err);
    });
  }

  /** Validates one step's result for one input and appends its items to `out`. */
  private collect(step: Step, input: Item, result: MigrationResult, out: Item[]): void {
    if (result === null || result === undefined) return;
    if (Array.isArray(result)) {
      for (const item of result as readonly unknown[]) {
        if (item === null || item === undefined) continue;
        out.push(this.checkOutput(step, input, item));
      }
      return;
    }
    out.push(this.checkOutput(step, input, result));
  }

  private checkOutput(step: Step, input: Item, output: unknown): Item {
    const { table, version } = step.migration;
    const where = `${table} v${version} ${this.direction}`;
    if (typeof output !== 'object' || output === null || Array.isArray(output) || output instanceof Set || output instanceof Uint8Array) {
      throw new MigrationItemError({
        code: SCHEMA_INVALID,
        message: `${where} returned ${describeValue(output)} for ${this.describe(input)}, not an item`,
        fix: 'return an object, an array of objects, or null to drop the item',
        table,
        version,
        direction: this.direction,
        input,
      });
    }
    const item = output as Item;
    for (const attribute in item) {
      if (attribute.startsWith(META_PREFIX)) {
        throw new MigrationItemError({
          code: META_ATTRIBUTE,
          message: `${where} returned an item with attribute "${attribute}" for ${this.describe(input)}`,
          fix: `rename it: attributes starting with "${META_PREFIX}" are reserved for the engine`,
          table,
          version,
          direction: this.direction,
          input,
          output: item,
          attribute,
        });
      }
    }
    // RULE 0 (exact values), enforced here: an output that lost digits of a number is refused (a
    // dead letter), never written changed.
    const loss = numberPrecisionLoss(input, item);
    if (loss !== undefined) {
      throw new MigrationItemError({
        code: NUMBER_PRECISION,
        message: `${where} returned an item that loses precision for ${this.describe(input)}: ${loss}`,
        fix: 'read numbers with exactText(value) and write them with exactNumber(text) or a bigint (lib/item/numbers.ts)',
        table,
        version,
        direction: this.direction,
        input,
        output: item,
      });
    }
    if (step.schema) {
      let parsed: ReturnType<z.ZodType['safeParse']>;
      try {
        parsed = step.schema.safeParse(item);
      } catch (err) {
        throw new MigrationItemError({
          code: SCHEMA_INVALID,
          message: `${where} schema could not check the item for ${this.describe(input)}: ${err instanceof Error ? err.message : String(err)}`,
          fix: 'use a synchronous zod schema (no async refinements)',
          table,
          version,
          direction: this.direction,
          input,
          output: item,
          cause: err,
        });
      }
      if (!parsed.success) {
        const issues = parsed.error.issues;
        throw new MigrationItemError({
          code: SCHEMA_INVALID,
          message: `${where} returned an item that fails its ${this.direction === 'up' ? 'schema' : 'downSchema'} for ${this.describe(input)}: ${schemaIssuesText(issues, item)}`,
          table,
          version,
          direction: this.direction,
          input,
          output: item,
          issues,
        });
      }
    }
    // Only the last step's outputs are written, so only they need the target table's key attributes.
    if (step === this.steps[this.steps.length - 1]) {
      const { partitionKey, sortKey } = this.keyNames;
      const attribute = isMissing(item[partitionKey]) ? partitionKey : sortKey && isMissing(item[sortKey]) ? sortKey : undefined;
      if (attribute !== undefined) {
        throw new MigrationItemError({
          code: KEY_MISSING,
          message: `${where} returned an item without key attribute "${attribute}" for ${this.describe(input)}: ${truncate(stableJson(item))}`,
          fix: `set "${attribute}" on every item the migration returns`,
          table,
          version,
          direction: this.direction,
          input,
          output: item,
          attribute,
        });
      }
    }
    return item;
  }

  private threw(step: Step, input: Item, err: unknown): MigrationItemError {
    if (MigrationItemError.isMigrationItemError(err)) return err;
    const { table, version } = step.migration;
    return new MigrationItemError({
      code: MIGRATION_THREW,
      message: `${table} v${version} ${this.direction} threw for ${this.describe(input)}: ${err instanceof Error ? err.message : String(err)}`,
      table,
      version,
      direction: this.direction,
      input,
      cause: err,
    });
  }

  /** An item named by its key when it has one (intermediate versions may not), else its content. */
  private describe(item: Item): string {
    const key = keyOf(item, this.keyNames);
    const hasKey = Object.values(key).some((v) => v !== undefined);
    return `item ${truncate(stableJson(hasKey ? key : item))}`;
  }
}

function isThenable(x: unknown): x is PromiseLike<MigrationResult> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

function isMissing(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

/** The item without meta attributes; the same object when it has none (no allocation on the hot path). */
function stripMeta(item: Item): Item {
  for (const k in item) {
    if (k.startsWith(META_PREFIX)) {
      const out: Item = {};
      for (const [name, value] of Object.entries(item)) if (!name.startsWith(META_PREFIX)) out[name] = value;
      return out;
    }
  }
  return item;
}

/**
 * zod issues as one line that names each field and its value (`price: expected int, received
 * number (got number 12.5)`); a union's issues are those of its closest branch. At most 5.
 */
export function schemaIssuesText(issues: readonly Issue[], item: unknown): string {
  return closestIssues(issues)
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(item)'}: ${issue.message.toLowerCase()} (got ${describeValue(valueAt(item, issue.path))})`)
    .join('; ');
}

/** A zod issue as far as these messages read it. */
interface Issue {
  readonly code?: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly errors?: ReadonlyArray<readonly Issue[]>;
}

/**
 * Issues that name fields: a union's "invalid input" replaced by the issues of its closest branch
 * (the one with the fewest), paths prefixed, so the message says which field and which value.
 */
function closestIssues(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
      out.push(...closestIssues(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }))));
    } else {
      out.push(issue);
    }
  }
  return out;
}

/** The value at a zod issue's path in an item. */
function valueAt(item: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = item;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a nested array';
  if (v instanceof Set) return 'a set';
  if (v instanceof Uint8Array) return 'binary';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `string ${truncate(JSON.stringify(v))}`;
  if (v !== null && typeof v === 'object' && !isNumeric(v)) return `object ${truncate(stableJson(v))}`;
  return `${isNumeric(v) ? 'number' : typeof v} ${truncate(String(v))}`;
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Brand check of a MigrationItemError (same as `MigrationItemError.isMigrationItemError`). */
export function isMigrationItemError(x: unknown): x is MigrationItemError {
  return MigrationItemError.isMigrationItemError(x);
}
