import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { messageOf, toolError } from '../../errors';
import { META, keyOf, keyString, stableJson, withoutMeta, type Item, type KeyNames } from '../../item/item';
import type { MigrationChain } from '../migrations/chain';
import { isInvalidRequest, type BatchWriter } from '../write/batch-writer';
import { contentHash, type SharedItemWriter } from '../write/shared-writer';
import type { MigratedPage, MigrationFailure } from './page-migrator';
import { WrittenHashes } from './written-hashes';

export interface PageWriterProps {
  readonly client: DynamoDBDocumentClient;
  readonly targetTable: string;
  readonly targetKeys: KeyNames;
  /** Key attribute names of the source table. */
  readonly sourceKeys: KeyNames;
  readonly chain: MigrationChain;
  readonly batchWriter: BatchWriter;
  readonly sharedWriter: SharedItemWriter;
  /** Attempts of an optimistic merge before giving up. @default 5 */
  readonly mergeAttempts?: number;
}

export interface PageWriteResult {
  readonly written: number;
  /** Source items refused at write time (shared-key conflicts): dead letters. */
  readonly failures: MigrationFailure[];
}

/**
 * Writes a migrated page: shared items first, then the plain puts of every source whose shared
 * items went through. The rule for a shared key (many-to-one):
 *   - equal content from several sources: fine, written once;
 *   - different content: the migration's declared `merge` combines them (optimistic, conditional
 *     on the hash it read); without a merge, the later source is a dead letter and NONE of its
 *     outputs are written — never a silent last-writer-wins;
 *   - the same source writing different content than its own earlier write (a re-run after the
 *     source changed): its new content replaces its old one.
 */
export class PageWriter {
  private readonly hashes = new WrittenHashes();
  private readonly mergeAttempts: number;

  public constructor(private readonly props: PageWriterProps) {
    this.mergeAttempts = props.mergeAttempts ?? 5;
  }

  /**
   * @param partitionLocal allow the batched path for partition-local shared items (see class doc);
   *   false for a segment's first page after a resume, whose partition may straddle the cursor.
   */
  public async write(page: MigratedPage, partitionLocal = false): Promise<PageWriteResult> {
    const failures: MigrationFailure[] = [];
    const refused = new Set<string>();
    const names = this.props.targetKeys;
    let written = 0;

    // 1. Sort each source's shared items: already written with this content (skip), partition-local
    //    (checked here, in memory, then batched), or anything else (conditional write). A source with
    //    a partition-local conflict is refused before any of its items is queued.
    const queued = new Map<string, unknown>();
    const localPuts: Array<{ item: Item; owner: string }> = [];
    const toWrite: Item[] = [];
    const owners: string[] = [];
    for (const s of page.sources) {
      const local: Item[] = [];
      const remote: Item[] = [];
      let conflict: string | undefined;
      for (const item of s.shared) {
        const k = keyString(item, names);
        const hash = item[META.contentHash];
        const known = this.hashes.get(k) ?? queued.get(k);
        if (known === hash) continue;
        if (partitionLocal && this.isPartitionLocal(item, s.source)) {
          if (known !== undefined) {
            conflict = `shared item ${k} already has different content from another source of partition ${stableJson(s.source[this.props.sourceKeys.partitionKey])}; declare a merge in the migration or fix the source data`;
            break;
          }
          local.push(item);
        } else {
          remote.push(item);
        }
      }
      if (conflict) {
        refused.add(s.sourceKey);
        failures.push({ source: s.source, sourceKey: s.sourceKey, code: 'SHARED_CONFLICT', error: conflict });
        continue;
      }
      for (const item of local) {
        queued.set(keyString(item, names), item[META.contentHash]);
        localPuts.push({ item, owner: s.sourceKey });
      }
      for (const item of remote) {
        const k = keyString(item, names);
        if (queued.get(k) === item[META.contentHash]) continue;
        queued.set(k, item[META.contentHash]);
        toWrite.push(item);
        owners.push(s.sourceKey);
      }
    }

    // 2. Conditional writes: the store is the arbiter between sources this worker cannot see.
    if (toWrite.length > 0) {
      const outcomes = await this.props.sharedWriter.write(this.props.targetTable, toWrite, names);
      for (let i = 0; i < outcomes.length; i++) {
        const item = toWrite[i];
        const outcome = outcomes[i];
        const k = keyString(item, names);
        if (outcome.status === 'written') {
          this.hashes.set(k, item[META.contentHash] as string);
          written++;
          continue;
        }
        const resolved = await this.resolveConflict(item, outcome.existing, owners[i]);
        if (resolved.ok) {
          this.hashes.set(k, resolved.hash);
          written++;
        } else if (!refused.has(owners[i])) {
          refused.add(owners[i]);
          const source = page.sources.find((x) => x.sourceKey === owners[i])!;
          failures.push({ source: source.source, sourceKey: owners[i], code: 'SHARED_CONFLICT', error: resolved.error });
        }
      }
    }

    // 3. Plain puts, for every source none of whose shared items was refused.
    const puts: Array<{ put: Item }> = [];
    const owners3: string[] = [];
    const local = localPuts.filter((p) => !refused.has(p.owner));
    for (const p of local) {
      puts.push({ put: p.item });
      owners3.push(p.owner);
    }
    for (const s of page.sources) {
      if (refused.has(s.sourceKey)) continue;
      for (const item of s.unique) {
        puts.push({ put: item });
        owners3.push(s.sourceKey);
      }
    }
    if (puts.length > 0) {
      try {
        written += (await this.props.batchWriter.write(this.props.targetTable, puts, names)).written;
      } catch (err) {
        if (!isInvalidRequest(err)) throw err;
        // One item the target refuses (its size estimate was off, a wrong key type) fails the whole
        // BatchWriteItem call: write each source's items on their own, and dead-letter only the
        // sources refused again. A segment never dies for one item.
        written += await this.writeEach(page, puts, owners3, failures);
      }
      for (const p of local) if (!failures.some((f) => f.sourceKey === p.owner)) this.hashes.set(keyString(p.item, names), p.item[META.contentHash] as string);
    }
    return { written, failures };
  }

  /** The puts of each source on their own; sources whose write is refused as invalid become failures. */
  private async writeEach(page: MigratedPage, puts: ReadonlyArray<{ put: Item }>, owners: readonly string[], failures: MigrationFailure[]): Promise<number> {
    const bySource = new Map<string, Array<{ put: Item }>>();
    for (let i = 0; i < puts.length; i++) {
      let group = bySource.get(owners[i]!);
      if (!group) bySource.set(owners[i]!, (group = []));
      group.push(puts[i]!);
    }
    let written = 0;
    for (const [sourceKey, group] of bySource) {
      try {
        written += (await this.props.batchWriter.write(this.props.targetTable, group, this.props.targetKeys)).written;
      } catch (err) {
        if (!isInvalidRequest(err)) throw err;
        const source = page.sources.find((x) => x.sourceKey === sourceKey)!;
        failures.push({ source: source.source, sourceKey, code: 'WRITE_REFUSED', error: `the target table refused the item: ${messageOf(err)}` });
      }
    }
    return written;
  }

  /**
   * A shared item is partition-local when the migration says every source that can produce it
   * lies in the partition of the source item at hand. A partition is never split between scan
   * segments, and a segment's pages are processed in order by one worker, so that worker sees
   * every source of the item, one after the other: it can check their content in memory and write
   * the item with a plain batched put. The one exception, a partition that straddles a resume
   * cursor, is handled by the caller (the first page after a resume is written conditionally).
   * Migrations that declare a merge always take the conditional path: the store arbitrates merges.
   */
  private isPartitionLocal(item: Item, source: Item): boolean {
    if (this.props.chain.merge) return false;
    const hint = this.props.chain.sourcesOf(withoutMeta(item));
    return hint !== undefined && 'partition' in hint && hint.partition === source[this.props.sourceKeys.partitionKey];
  }

  private async resolveConflict(
    incoming: Item,
    existing: Item | undefined,
    sourceKey: string,
  ): Promise<{ ok: true; hash: string } | { ok: false; error: string }> {
    const merge = this.props.chain.merge;
    let current = existing;
    for (let attempt = 0; attempt < this.mergeAttempts; attempt++) {
      if (!current) {
        current = await this.read(incoming);
        if (!current) return { ok: false, error: 'shared item vanished during the write; retry the page' };
      }
      const currentHash = current[META.contentHash] as string | undefined;
      let next: Item;
      if (current[META.source] === sourceKey) {
        next = incoming; // this source's own earlier write: its new content replaces it
      } else if (merge) {
        const merged = merge(withoutMeta(current), withoutMeta(incoming));
        next = { ...merged, [META.source]: current[META.source], [META.origin]: 'copy', [META.contentHash]: contentHash(merged) };
      } else {
        return {
          ok: false,
          error: `shared item ${stableJson(keyOf(incoming, this.props.targetKeys))} already has different content from source ${String(current[META.source])}; declare a merge in the migration or fix the source data`,
        };
      }
      if (next[META.contentHash] === currentHash) return { ok: true, hash: currentHash! };
      try {
        await this.props.client.send(
          new PutCommand({
            TableName: this.props.targetTable,
            Item: next,
            ConditionExpression: '#h = :h',
            ExpressionAttributeNames: { '#h': META.contentHash },
            ExpressionAttributeValues: { ':h': currentHash },
          }),
        );
        return { ok: true, hash: next[META.contentHash] as string };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        current = undefined; // someone else changed it: read again and re-merge
      }
    }
    throw toolError('MERGE_CONTENDED', `could not merge shared item ${stableJson(keyOf(incoming, this.props.targetKeys))} after ${this.mergeAttempts} attempts`);
  }

  private async read(item: Item): Promise<Item | undefined> {
    const r = await this.props.client.send(
      new GetCommand({ TableName: this.props.targetTable, Key: keyOf(item, this.props.targetKeys), ConsistentRead: true }),
    );
    return r.Item;
  }
}
