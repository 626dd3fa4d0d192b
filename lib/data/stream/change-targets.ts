import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { toolError } from '../../errors';
import { META, keyOf, keyString, parseStableJson, stableJson, withoutMeta, type Item, type Key, type KeyNames } from '../../item/item';
import type { MigrationChain, SourceKeys } from '../migrations/chain';
import type { MigrationContext } from '../migrations/migration';
import { contentHash, type SharedWriteOutcome } from '../write/shared-writer';
import type { ConditionalWrites } from './conditional-writes';
import type { SyncOrigin } from './echo';
import type { PendingPuts } from './pending-puts';
import type { TargetReads } from './target-reads';

/** Who is writing: the source key whose record is applied, and that record's write token. */
export interface WriteScope {
  /** `stableJson` of the source key (META.source of what it produces). */
  readonly ownKey: string;
  /** `<origin>:<source table>:<sequenceNumber>` (echo.ts `writeToken`). */
  readonly token: string;
}

/** A shared write or drop that the rule refuses: different content from several sources, no merge. */
export interface SharedRefusal {
  readonly ok: false;
  readonly error: string;
}

export type SharedOutcome = { readonly ok: true; readonly puts: number; readonly deletes: number } | SharedRefusal;

export interface ChangeTargetsProps {
  readonly targetTable: string;
  /** Key attribute names of both tables (the source's and the target's are the same). */
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** Reads of the source table, strongly consistent: the remaining sources of a shared item. */
  readonly sourceContext: MigrationContext;
  readonly origin: SyncOrigin;
  /**
   * This batch's puts of unique items (pending-puts.ts): written when the batch ends, and settled
   * before any other operation on their key.
   */
  readonly pending: PendingPuts;
  /** The conditional put of one shared item (shared-writer.ts's rule), coalesced with other lanes' puts. */
  readonly sharedPut: (item: Item) => Promise<SharedWriteOutcome>;
  /** Consistent reads of target items, coalesced. */
  readonly reads: TargetReads;
  /** Conditional puts, updates and deletes (replaces, stamp-then-delete), coalesced. */
  readonly conditional: ConditionalWrites;
  /** Optimistic attempts of a conditional replace or delete of one shared item. */
  readonly mergeAttempts: number;
}

/** What should become of a shared target item, given every source that currently produces it. */
type Resolution =
  | { readonly action: 'put'; readonly item: Item }
  | { readonly action: 'delete' }
  | { readonly action: 'keep' }
  | { readonly action: 'conflict'; readonly error: string };

/** Migrates one item: the chain's allocation-free path when it can, else the asynchronous one. */
export async function migrateItem(chain: MigrationChain, item: Item, ctx: MigrationContext): Promise<Item[]> {
  return chain.applySync(item) ?? (await chain.apply(item, ctx));
}

/**
 * The target-side writes of the stream apply: stamped puts, the copy's rule for shared
 * (many-to-one) items, and deletes that announce themselves (stamp, then delete).
 */
export class ChangeTargets {
  private readonly names: KeyNames;

  public constructor(private readonly props: ChangeTargetsProps) {
    this.names = props.keyNames;
  }

  /**
   * A migrated output with the engine's meta attributes: the source that produced it, the origin,
   * the write token (echo suppression), and for shared items the content hash the conditional
   * writes compare.
   */
  public stamp(output: Item, sourceKey: string, token: string): Item {
    const item: Item = { ...output, [META.source]: sourceKey, [META.origin]: this.props.origin, [META.write]: token };
    if (this.props.chain.isShared(output)) item[META.contentHash] = contentHash(output);
    return item;
  }

  /**
   * Plain idempotent puts of items only one source produces: kept until the batch ends (the last
   * put of a key wins, as applied one by one; see pending-puts.ts).
   */
  public putUnique(items: readonly Item[]): void {
    for (const item of items) this.props.pending.add(item);
  }

  /**
   * Writes one shared item (stamped, with its content hash) produced by the new image of `scope`'s
   * source. THE RULE (the copy's, lib/data/copy/page-writer.ts): equal content is fine; different
   * content goes through the declared `merge`, or is refused (a dead letter), never last-writer-wins.
   *
   * Unlike the copy, the stream cannot trust "the item holds my own earlier write" (which source
   * wrote a shared item last is an accident of copy order): on a conflict, it recomputes the
   * content from every source that currently produces the item — this record's new image for its
   * own key, the source table (consistent reads) for the others. If they all agree now (the last
   * channel of a product to take a title change), the item is replaced; if not, merge or refuse.
   */
  public async writeShared(item: Item, scope: WriteScope): Promise<SharedOutcome> {
    let outcome = await this.sharedPut(item);
    if (outcome.status === 'written') return { ok: true, puts: 1, deletes: 0 };
    let stored: Item | undefined = outcome.existing;
    for (let attempt = 0; attempt < this.props.mergeAttempts; attempt++) {
      if (!stored) {
        // Deleted since the check: the key is free again, which the plain rule handles.
        outcome = await this.sharedPut(item);
        if (outcome.status === 'written') return { ok: true, puts: 1, deletes: 0 };
        stored = outcome.existing;
        continue;
      }
      const r = await this.resolveSettled(item, scope, item, stored);
      if (r.action === 'conflict') return { ok: false, error: r.error };
      if (r.action !== 'put') return { ok: true, puts: 0, deletes: 0 };
      if (await this.replace(r.item, stored)) return { ok: true, puts: 1, deletes: 0 };
      stored = await this.read(item);
    }
    throw this.contended(item);
  }

  /**
   * A shared item that `scope`'s source no longer produces (its old image did; its new image does
   * not, or it was removed). It is deleted only when no remaining source produces it: the
   * migration's `sourcesOf` names them, they are read consistently from the source table and
   * migrated, and when one still produces the key, its output is put instead (so the item
   * records a live source).
   */
  public async dropShared(output: Item, scope: WriteScope): Promise<SharedOutcome> {
    let stored = await this.read(output);
    for (let attempt = 0; attempt < this.props.mergeAttempts; attempt++) {
      if (!stored) return { ok: true, puts: 0, deletes: 0 };
      const r = await this.resolveSettled(output, scope, undefined, stored);
      switch (r.action) {
        case 'conflict':
          return { ok: false, error: r.error };
        case 'keep':
          return { ok: true, puts: 0, deletes: 0 };
        case 'put':
          if (await this.replace(r.item, stored)) return { ok: true, puts: 1, deletes: 0 };
          break;
        case 'delete': {
          const hash = stored[META.contentHash];
          // Guarded by the hash read: a source that wrote the item meanwhile is seen on the next round.
          const guard = typeof hash === 'string' ? { expression: '#h = :h', names: { '#h': META.contentHash }, values: { ':h': hash } } : NO_HASH;
          if (await this.stampAndDelete(keyOf(output, this.names), scope.token, guard)) return { ok: true, puts: 0, deletes: 1 };
          break;
        }
      }
      stored = await this.read(output);
    }
    throw this.contended(output);
  }

  /**
   * A unique target item that `scope`'s source no longer produces: stamped and deleted, only when
   * it still records this source (or no source: items the previous release's app wrote, for the
   * reverse sync). An item another source now produces (a key-changing migration moved it there
   * in parallel) is left alone. True when it was deleted.
   */
  public async dropUnique(output: Item, scope: WriteScope): Promise<boolean> {
    const own = await this.stampAndDelete(keyOf(output, this.names), scope.token, {
      expression: '(attribute_not_exists(#src) OR #src = :src)',
      names: { '#src': META.source },
      values: { ':src': scope.ownKey },
    });
    if (own) return true;
    // The item records another source. An output with two producers (under a down chain, a v1
    // channel copy comes from its listing and from the product item) must not keep a delete from
    // happening silently: it goes unless the recorded source still produces it now.
    const current = await this.read(output);
    const recorded = current?.[META.source];
    if (typeof recorded !== 'string' || recorded === scope.ownKey) return false;
    if (await this.stillProduces(parseStableJson(recorded), output)) return false;
    return this.stampAndDelete(keyOf(output, this.names), scope.token, {
      expression: '#src = :src',
      names: { '#src': META.source },
      values: { ':src': recorded },
    });
  }

  /** Whether the current source item `key` (consistent read) migrates to an item with `output`'s key. */
  private async stillProduces(key: Key, output: Item): Promise<boolean> {
    const source = await this.props.sourceContext.get(key);
    if (!source) return false;
    try {
      const wanted = keyString(output, this.names);
      return (await migrateItem(this.props.chain, source, this.props.sourceContext)).some((o) => keyString(o, this.names) === wanted);
    } catch {
      return false; // a source that no longer migrates produces nothing
    }
  }

  /**
   * The delete protocol of echo suppression (echo.ts): first stamp META.deleting with the write
   * token, conditional on the item existing (and `guard`), then delete it conditional on the stamp
   * still being there. The REMOVE record then carries the token in its old image, and the stamp's
   * MODIFY record carries it in its new image, so the other direction skips both. The second
   * condition also keeps a write made between the two calls (a put replaces the stamp).
   * False when the item was absent, failed the guard, or was replaced in between.
   */
  private async stampAndDelete(key: Key, token: string, guard: Guard): Promise<boolean> {
    const { targetTable, conditional } = this.props;
    await this.props.pending.settle(key);
    const stamped = await conditional.write({
      Update: {
        TableName: targetTable,
        Key: key,
        UpdateExpression: 'SET #del = :tok',
        ConditionExpression: `attribute_exists(#pk) AND ${guard.expression}`,
        ExpressionAttributeNames: { '#pk': this.names.partitionKey, '#del': META.deleting, ...guard.names },
        ExpressionAttributeValues: { ':tok': token, ...guard.values },
      },
    });
    if (!stamped) return false;
    return conditional.write({
      Delete: {
        TableName: targetTable,
        Key: key,
        ConditionExpression: '#del = :tok',
        ExpressionAttributeNames: { '#del': META.deleting },
        ExpressionAttributeValues: { ':tok': token },
      },
    });
  }

  /**
   * `resolve`, believing a conflict only once it outlasts a few re-reads. The sources are read as
   * they are now, and a read can land inside one of the app's transactions: DynamoDB gives Query and
   * separate GetItems read-committed isolation, so a product whose channels one transaction is
   * retitling can show the old title on one channel and the new on another for a moment. Drifted
   * data (what a conflict is for) stays drifted; a half-visible transaction is gone by the next read.
   */
  private async resolveSettled(keyItem: Item, scope: WriteScope, incoming: Item | undefined, stored: Item): Promise<Resolution> {
    for (let reread = 0; ; reread++) {
      const r = await this.resolve(keyItem, scope, incoming, stored);
      if (r.action !== 'conflict' || reread >= CONFLICT_REREADS) return r;
      await new Promise((done) => setTimeout(done, CONFLICT_REREAD_MS * 2 ** reread));
    }
  }

  /**
   * What a shared item should hold, from every source that produces it now. `incoming` is the
   * new image's output of `scope`'s source (writes); undefined when that source no longer
   * produces it (drops).
   */
  private async resolve(keyItem: Item, scope: WriteScope, incoming: Item | undefined, stored: Item): Promise<Resolution> {
    const merge = this.props.chain.merge;
    const hint = this.props.chain.sourcesOf(withoutMeta(keyItem));
    const what = `shared item ${stableJson(keyOf(keyItem, this.names))}`;
    if (!hint) {
      // No inverse key mapping (a multi-step chain, or none declared): only the source recorded on
      // the item is known, so this falls back to the copy's rule.
      const own = stored[META.source] === scope.ownKey;
      if (!incoming) return own ? { action: 'delete' } : { action: 'keep' };
      if (own) return { action: 'put', item: incoming };
      if (merge) return { action: 'put', item: this.merged(merge, [stored, incoming], scope.ownKey, scope.token) };
      return { action: 'conflict', error: `${what} already has different content from source ${String(stored[META.source])}; declare a merge in the migration or fix the source data` };
    }

    // A drop of an item another source is recorded for: when that source still produces the stored
    // content, the answer below is `keep` whatever the others produce, and one (batched) read of it
    // says so without reading every source (a Query per record otherwise).
    const recorded = stored[META.source];
    if (!incoming && typeof recorded === 'string' && recorded !== scope.ownKey && (await this.stillProducesStored(recorded, keyItem, stored, scope))) {
      return { action: 'keep' };
    }
    const others = await this.producers(hint, keyItem, scope);
    const all = incoming ? [incoming, ...others] : others;
    if (all.length === 0) return { action: 'delete' };
    const storedHash = stored[META.contentHash];
    if (!incoming) {
      // A remaining source still produces the content stored: keep it, re-recorded under that source
      // when it named the source that is leaving.
      const same = others.find((o) => o[META.contentHash] === storedHash);
      if (same) return stored[META.source] === scope.ownKey ? { action: 'put', item: same } : { action: 'keep' };
    }
    if (all.every((o) => o[META.contentHash] === all[0][META.contentHash])) return { action: 'put', item: all[0] };
    if (incoming && others.length > 0 && others.every((o) => o[META.contentHash] === others[0][META.contentHash])) {
      // This record can be older than the source table: a change of its own key already committed
      // (one transaction updating every channel of a product) is still ahead in the stream, while
      // the other sources were read as they are now. The sources' CURRENT state decides: when the
      // own key now agrees with the others (or produces nothing here), that agreed content is what
      // the stream converges to, so it is written now and the later records re-apply it. Only
      // current sources that disagree are a conflict.
      const own = await this.currentOutput(scope.ownKey, keyItem, scope);
      if (!own || own[META.contentHash] === others[0][META.contentHash]) return { action: 'put', item: others[0] };
    }
    if (merge) return { action: 'put', item: this.merged(merge, all, String(all[0][META.source]), scope.token) };
    const sources = all.map((o) => String(o[META.source])).join(', ');
    return {
      action: 'conflict',
      error: `${what} would get different content from its sources ${sources}; declare a merge in the migration or fix the source data`,
    };
  }

  /**
   * The outputs with `keyItem`'s key of every source `hint` names except `scope`'s own (its state at
   * this point of the stream is the record being applied, not the table's), read consistently
   * from the source table, migrated and stamped; sorted by source key, so a fold is deterministic.
   * A source whose migration fails is left out: when it was applied it became a dead letter and
   * none of its outputs were written, so it does not hold the item up either.
   */
  private async producers(hint: SourceKeys, keyItem: Item, scope: WriteScope): Promise<Item[]> {
    const ctx = this.props.sourceContext;
    const sources: Item[] = Array.isArray(hint)
      ? (await Promise.all((hint as readonly Key[]).map((k) => ctx.get(k)))).filter((i): i is Item => i !== undefined)
      : await ctx.queryPartition((hint as { readonly partition: string | number }).partition);
    const id = keyString(keyItem, this.names);
    const out: Item[] = [];
    for (const source of sources) {
      const sourceKey = keyString(source, this.names);
      if (sourceKey === scope.ownKey) continue;
      let outputs: Item[];
      try {
        outputs = await migrateItem(this.props.chain, source, ctx);
      } catch {
        continue;
      }
      for (const o of outputs) if (keyString(o, this.names) === id) out.push(this.stamp(o, sourceKey, scope.token));
    }
    return out.sort((a, b) => (String(a[META.source]) < String(b[META.source]) ? -1 : 1));
  }

  /** Whether the source `recorded` (stable JSON of its key) now migrates to `stored`'s key with `stored`'s content. */
  private async stillProducesStored(recorded: string, keyItem: Item, stored: Item, scope: WriteScope): Promise<boolean> {
    const current = await this.currentOutput(recorded, keyItem, scope);
    return current !== undefined && current[META.contentHash] === stored[META.contentHash];
  }

  /**
   * What the source `sourceKey` (stable JSON of its key) produces under `keyItem`'s key NOW, read
   * consistently from the source table and stamped; undefined when it produces nothing there (gone,
   * moved on, or no longer migrating).
   */
  private async currentOutput(sourceKey: string, keyItem: Item, scope: WriteScope): Promise<Item | undefined> {
    const source = await this.props.sourceContext.get(parseStableJson(sourceKey));
    if (!source) return undefined;
    let outputs: Item[];
    try {
      outputs = await migrateItem(this.props.chain, source, this.props.sourceContext);
    } catch {
      return undefined; // a source that no longer migrates produces nothing
    }
    const id = keyString(keyItem, this.names);
    const out = outputs.find((o) => keyString(o, this.names) === id);
    return out && this.stamp(out, sourceKey, scope.token);
  }

  private merged(merge: (existing: Item, incoming: Item) => Item, items: readonly Item[], sourceKey: string, token: string): Item {
    const content = items.map(withoutMeta).reduce((acc, next) => merge(acc, next));
    return { ...this.stamp(content, sourceKey, token), [META.contentHash]: contentHash(content) };
  }

  /** Puts `next` over `stored`, conditional on the content hash read: false when someone wrote in between. */
  private async replace(next: Item, stored: Item): Promise<boolean> {
    const hash = stored[META.contentHash];
    await this.props.pending.settle(next);
    return this.props.conditional.write({
      Put: {
        TableName: this.props.targetTable,
        Item: next,
        ConditionExpression: typeof hash === 'string' ? '#h = :h' : 'attribute_exists(#pk) AND attribute_not_exists(#h)',
        ExpressionAttributeNames: typeof hash === 'string' ? { '#h': META.contentHash } : { '#h': META.contentHash, '#pk': this.names.partitionKey },
        ...(typeof hash === 'string' ? { ExpressionAttributeValues: { ':h': hash } } : {}),
      },
    });
  }

  /** The target item as it is now, after this batch's held puts of its key were written (consistent). */
  public async read(item: Item): Promise<Item | undefined> {
    await this.props.pending.settle(item);
    return this.props.reads.get(item);
  }

  private async sharedPut(item: Item): Promise<SharedWriteOutcome> {
    await this.props.pending.settle(item);
    return this.props.sharedPut(item);
  }

  private contended(item: Item) {
    return toolError('MERGE_CONTENDED', `could not settle shared item ${stableJson(keyOf(item, this.names))} after ${this.props.mergeAttempts} attempts: it kept changing`, {
      fix: 'apply the batch again (it is idempotent)',
    });
  }
}

interface Guard {
  readonly expression: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, NativeAttributeValue>;
}

/** Re-reads of the sources before a shared item's conflict is believed (resolveSettled), 25 ms apart, doubling. */
const CONFLICT_REREADS = 3;
const CONFLICT_REREAD_MS = 25;

const NO_HASH: Guard = { expression: 'attribute_not_exists(#h)', names: { '#h': META.contentHash }, values: {} };
