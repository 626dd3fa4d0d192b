import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { contentHash } from '../write/shared-writer';
import { DATA_IO, type IoHost } from '../../io';
import type { DeadLetters } from '../../ledger';
import { META, keyOf, keyString, parseStableJson, stableJson, withoutMeta, type Item, type Key, type KeyNames } from '../../item/item';
import type { MigrationChain } from '../migrations/chain';
import { createMigrationContext } from '../migrations/context';
import type { MigrationContext } from '../migrations/migration';
import { Limiter } from '../write/limiter';
import { scanInSegments, scanSegmentsFor } from '../scan-segments';
import { describeTable } from '../table-info';
import { createItemClient } from '../../item/numbers';

export interface VerifyCopyProps {
  readonly ioHost: IoHost;
  readonly sourceTable: string;
  readonly targetTable: string;
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** Source items recorded as dead letters are reported apart, not as differences. @default - none */
  readonly deadLetters?: DeadLetters;
  /** @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
  /** Parallel scan segments of each pass. @default - from each table's size (`scanSegmentsFor`) */
  readonly segments?: number;
  /** Segments scanned at once: the load verify puts on tables that serve traffic. @default 4 */
  readonly concurrency?: number;
  /** Sample differences kept in the result. @default 10 */
  readonly sampleLimit?: number;
  /**
   * Verify while a sync is running: a difference found is checked once more after this long
   * (consistent reads again) and reported only if it is still there, so a write the sync had not
   * applied yet is not a difference. @default 0 (report at once: source and target at rest)
   */
  readonly settleMs?: number;
  /**
   * How the two sides are matched. `join`: scan the target into memory (key → content hash, about
   * 200 bytes an item), then scan the source and match every migrated output against it; only
   * mismatches are read again, consistently. Two scans in all: several times faster than `lookup`
   * on a busy endpoint (measured: 1.2M target items). `lookup`: scan each side and fetch the other
   * side's items by key (BatchGetItem); memory stays at a page, for tables too large to hold.
   * @default 'join'
   */
  readonly strategy?: 'join' | 'lookup';
}

export type DifferenceKind = 'missing' | 'different' | 'orphaned' | 'unmigratable';

export interface Difference {
  readonly kind: DifferenceKind;
  readonly key: string;
  readonly detail: string;
}

export interface VerifyResult {
  readonly sourceItems: number;
  readonly targetItems: number;
  /** Expected target items that do not exist. */
  readonly missing: number;
  /** Target items whose content differs from the migrated source. */
  readonly different: number;
  /** Target items no current source item produces. */
  readonly orphaned: number;
  /** Source items that fail migration and are NOT recorded as dead letters. */
  readonly unmigratable: number;
  /** Source items recorded as dead letters (reported, not counted as differences). */
  readonly deadLettered: number;
  /** missing + different + orphaned + unmigratable: the promotion gate wants 0. */
  readonly differences: number;
  readonly samples: readonly Difference[];
}

/**
 * Transform-aware two-way diff. Forward: every source item, migrated, equals its target items.
 * Reverse: every target item is produced by a current source item. Item counts prove nothing, so
 * both passes compare content. A mismatch found with eventually consistent reads is re-checked
 * with consistent reads of both sides before it is reported: replication lag is not a difference.
 */
export async function verifyCopy(props: VerifyCopyProps): Promise<VerifyResult> {
  return new CopyVerifier(props).run();
}

class CopyVerifier {
  private readonly client: DynamoDBClient;
  private readonly doc: DynamoDBDocumentClient;
  private readonly concurrency: number;
  private readonly sampleLimit: number;
  private readonly samples: Difference[] = [];
  private readonly counts = { sourceItems: 0, targetItems: 0, missing: 0, different: 0, orphaned: 0, unmigratable: 0, deadLettered: 0 };
  private deadLetterKeys = new Set<string>();
  /** With `settleMs`: differences of the first look, to look at again (forward by source key, reverse by target key). */
  private held?: { forward: Set<string>; reverse: Map<string, Item> };
  private readonly sourceCtx: MigrationContext;
  /** Reads in flight across all segments: verify must not flood the table (or the socket pool). */
  private readonly reads = new Limiter(32);

  public constructor(private readonly props: VerifyCopyProps) {
    this.client = props.dynamodb ?? new DynamoDBClient({});
    this.doc = createItemClient(this.client);
    this.concurrency = props.concurrency ?? 4;
    this.sampleLimit = props.sampleLimit ?? 10;
    this.sourceCtx = createMigrationContext({ client: this.doc, tableName: props.sourceTable, keyNames: props.keyNames });
  }

  public async run(): Promise<VerifyResult> {
    if (this.props.deadLetters) {
      await this.props.deadLetters.assertLedgerExists();
      for (const dl of await this.props.deadLetters.list()) this.deadLetterKeys.add(dl.keyString);
    }
    const settleMs = this.props.settleMs ?? 0;
    if (settleMs > 0) this.held = { forward: new Set(), reverse: new Map() };
    if ((this.props.strategy ?? 'join') === 'join') await this.join();
    else {
      await this.scanAll(this.props.sourceTable, (items) => this.forwardPage(items));
      await this.scanAll(this.props.targetTable, (items) => this.reversePage(items));
    }
    const held = this.held;
    if (held && (held.forward.size > 0 || held.reverse.size > 0)) {
      // Second look, after the sync had time to apply what was in flight: report what remains.
      this.held = undefined;
      await new Promise((r) => setTimeout(r, settleMs));
      for (const sourceKey of held.forward) await this.recheckForward(sourceKey);
      const fresh = await this.batchGet(this.props.targetTable, [...held.reverse.values()].map((t) => keyOf(t, this.props.keyNames)), true);
      const targetItems = this.counts.targetItems;
      await this.reversePage([...fresh.values()]);
      this.counts.targetItems = targetItems;
    }
    const c = this.counts;
    const result: VerifyResult = {
      ...c,
      differences: c.missing + c.different + c.orphaned + c.unmigratable,
      samples: this.samples,
    };
    DATA_IO.VERIFY_I3200.emit(
      this.props.ioHost,
      `verify: ${result.differences} difference(s) (${c.missing} missing, ${c.different} different, ${c.orphaned} orphaned, ${c.unmigratable} unmigratable), ${c.deadLettered} dead-lettered; ${c.sourceItems} source / ${c.targetItems} target items`,
      result,
    );
    return result;
  }

  /**
   * The `join` strategy: the target's items as key → content hash, then every source item's outputs
   * matched against it (an output key seen is accounted for, whatever its content). Suspects — an
   * output missing or different, a target item no source accounts for — go through the same
   * consistent re-checks as `lookup`, so a scan that raced a write is not a difference.
   */
  private async join(): Promise<void> {
    const names = this.props.keyNames;
    const target = new Map<string, string>();
    await this.scanAll(this.props.targetTable, async (items) => {
      this.counts.targetItems += items.length;
      for (const t of items) target.set(keyString(t, names), contentHash(t));
    });
    const accounted = new Set<string>();
    const suspects = new Set<string>();
    await this.scanAll(this.props.sourceTable, async (items) => {
      this.counts.sourceItems += items.length;
      for (const source of items) {
        const sourceKey = keyString(source, names);
        const dead = this.deadLetterKeys.has(sourceKey);
        if (dead) this.counts.deadLettered++;
        const outputs = await this.migrate(source);
        if (!outputs) {
          if (!dead) this.report({ kind: 'unmigratable', key: sourceKey, detail: 'migration fails and the item is not a dead letter' });
          continue;
        }
        for (const out of outputs) {
          const k = keyString(out, names);
          accounted.add(k);
          if (!dead && target.get(k) !== contentHash(out)) suspects.add(sourceKey);
        }
      }
    });
    for (const sourceKey of suspects) await this.recheckForward(sourceKey);
    const orphans: Key[] = [];
    for (const k of target.keys()) if (!accounted.has(k)) orphans.push(parseStableJson(k));
    target.clear();
    if (orphans.length === 0) return;
    // Read consistently and judged by the `lookup` strategy's reverse rule (recorded source, then sourcesOf).
    const fresh = await this.batchGet(this.props.targetTable, orphans, true);
    const counted = this.counts.targetItems;
    await this.reversePage([...fresh.values()]);
    this.counts.targetItems = counted;
  }

  /** Forward: migrate each source item and compare with what the target holds. */
  private async forwardPage(items: Item[]): Promise<void> {
    this.counts.sourceItems += items.length;
    const expected = new Map<string, { item: Item; sourceKey: string }>();
    for (const source of items) {
      const sourceKey = keyString(source, this.props.keyNames);
      if (this.deadLetterKeys.has(sourceKey)) {
        this.counts.deadLettered++;
        continue;
      }
      const outputs = await this.migrate(source);
      if (!outputs) {
        this.report({ kind: 'unmigratable', key: sourceKey, detail: 'migration fails and the item is not a dead letter' });
        continue;
      }
      for (const out of outputs) expected.set(keyString(out, this.props.keyNames), { item: out, sourceKey });
    }
    const actual = await this.batchGet(this.props.targetTable, [...expected.values()].map((e) => keyOf(e.item, this.props.keyNames)), false);
    const suspects = new Set<string>();
    for (const [k, e] of expected) {
      const t = actual.get(k);
      if (!t || !sameContent(t, e.item)) suspects.add(e.sourceKey);
    }
    for (const sourceKey of suspects) await this.recheckForward(sourceKey);
  }

  private async recheckForward(sourceKey: string): Promise<void> {
    const source = await this.get(this.props.sourceTable, parseStableJson(sourceKey));
    if (!source) return; // deleted since the scan: the reverse pass judges its targets
    const outputs = (await this.migrate(source)) ?? [];
    for (const out of outputs) {
      const key = keyOf(out, this.props.keyNames);
      const target = await this.get(this.props.targetTable, key);
      if (!target) this.report({ kind: 'missing', key: stableJson(key), detail: `expected from source ${sourceKey}` }, sourceKey);
      else if (!sameContent(target, out)) this.report({ kind: 'different', key: stableJson(key), detail: firstDifference(withoutMeta(out), withoutMeta(target)) }, sourceKey);
    }
  }

  /**
   * Reverse: each target item must be produced by one of its current source items. First ask the
   * source recorded on the item (batched consistent gets: one call per 100 items); only items that
   * one does not produce go on to the migration's `sourcesOf` (a partition query, for shared items
   * whose recorded source has gone while siblings remain).
   */
  private async reversePage(items: Item[]): Promise<void> {
    this.counts.targetItems += items.length;
    const names = this.props.keyNames;
    const produced = new Map<string, Set<string>>();
    const producesKey = async (source: Item, targetKey: string): Promise<boolean> => {
      const sk = keyString(source, names);
      let set = produced.get(sk);
      if (!set) {
        set = new Set(((await this.migrate(source)) ?? []).map((o) => keyString(o, names)));
        produced.set(sk, set);
      }
      return set.has(targetKey);
    };

    // 1. The recorded source.
    const recorded = items.map((t) => (t[META.source] ? (parseStableJson(String(t[META.source]))) : undefined));
    const sources = await this.batchGet(this.props.sourceTable, recorded.filter((k): k is Key => k !== undefined), true);
    let suspects: Item[] = [];
    for (let i = 0; i < items.length; i++) {
      const source = recorded[i] && sources.get(keyString(recorded[i]!, names));
      if (!source || !(await producesKey(source, keyString(items[i], names)))) suspects.push(items[i]);
    }

    // 2. The migration's inverse key mapping, for what is left.
    const stillSuspect: Item[] = [];
    for (const t of suspects) {
      const hint = this.props.chain.sourcesOf?.(withoutMeta(t));
      if (!hint) {
        stillSuspect.push(t);
        continue;
      }
      const candidates =
        'partition' in hint
          ? await this.queryPartition(hint.partition)
          : [...(await this.batchGet(this.props.sourceTable, [...(hint as readonly Key[])], true)).values()];
      let found = false;
      for (const source of candidates) if (await producesKey(source, keyString(t, names))) found = true;
      if (!found) stillSuspect.push(t);
    }
    suspects = stillSuspect;

    // 3. Consistent re-check: the target item may have been removed since the scan.
    for (const t of suspects) {
      const current = await this.get(this.props.targetTable, keyOf(t, names));
      if (current) {
        this.report({ kind: 'orphaned', key: keyString(t, names), detail: `no current source produces it (recorded source ${String(t[META.source])})` }, undefined, current);
      }
    }
  }

  private async migrate(source: Item): Promise<Item[] | undefined> {
    try {
      return this.props.chain.applySync(source) ?? (await this.props.chain.apply(source, this.sourceCtx));
    } catch {
      return undefined;
    }
  }

  private report(d: Difference, sourceKey?: string, targetItem?: Item): void {
    if (this.held) {
      if (sourceKey !== undefined) this.held.forward.add(sourceKey);
      if (targetItem !== undefined) this.held.reverse.set(d.key, targetItem);
      if (sourceKey !== undefined || targetItem !== undefined) return;
    }
    this.counts[d.kind]++;
    if (this.samples.length < this.sampleLimit) this.samples.push(d);
    DATA_IO.VERIFY_W3201.emit(this.props.ioHost, `${d.kind} ${d.key}: ${d.detail}`, d);
  }

  private async scanAll(table: string, onPage: (items: Item[]) => Promise<void>): Promise<void> {
    const totalSegments = this.props.segments ?? scanSegmentsFor(await describeTable(this.client, table, 'verified'));
    await scanInSegments({ doc: this.doc, tableName: table, totalSegments, concurrency: this.concurrency, onPage });
  }

  private async batchGet(table: string, keys: Key[], consistent: boolean): Promise<Map<string, Item>> {
    const out = new Map<string, Item>();
    for (let i = 0; i < keys.length; i += 100) {
      let request: Record<string, { Keys: Key[]; ConsistentRead: boolean }> | undefined = {
        [table]: { Keys: dedupe(keys.slice(i, i + 100), this.props.keyNames), ConsistentRead: consistent },
      };
      while (request && Object.keys(request).length > 0) {
        const r = await this.limited(() => this.doc.send(new BatchGetCommand({ RequestItems: request })));
        for (const item of r.Responses?.[table] ?? []) out.set(keyString(item, this.props.keyNames), item);
        request = r.UnprocessedKeys as typeof request;
      }
    }
    return out;
  }

  private async queryPartition(value: string | number): Promise<Item[]> {
    const items: Item[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.props.sourceTable,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': this.props.keyNames.partitionKey },
        ExpressionAttributeValues: { ':pk': value },
        ConsistentRead: true,
      },
    );
    await this.limited(async () => {
      for await (const page of pages) items.push(...(page.Items ?? []));
    });
    return items;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    await this.reads.acquire();
    try {
      return await fn();
    } finally {
      this.reads.release();
    }
  }

  private async get(table: string, key: Key): Promise<Item | undefined> {
    return (await this.limited(() => this.doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })))).Item;
  }
}

function sameContent(a: Item, b: Item): boolean {
  return stableJson(withoutMeta(a)) === stableJson(withoutMeta(b));
}

function firstDifference(expected: Item, actual: Item): string {
  for (const k of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    if (stableJson(expected[k]) !== stableJson(actual[k])) {
      return `${k}: expected ${stableJson(expected[k])}, found ${stableJson(actual[k])}`;
    }
  }
  return 'content differs';
}

function dedupe(keys: Key[], names: KeyNames): Key[] {
  const seen = new Map<string, Key>();
  for (const k of keys) seen.set(keyString(k, names), k);
  return [...seen.values()];
}
