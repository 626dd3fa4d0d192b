/**
 * Backward compatibility (DESIGN.md, Data, point 9; seed 003's zero-downtime rule): while release N
 * and N+1 can both be live (around the flip, and after a rollback by DNS), items written by N+1 must
 * be readable by N. The check samples the release's table, runs each item through the `down` chain
 * (what the reverse sync would write to N's table) and validates every output against N's zod
 * schema. An item that `down` maps to nothing is fine (N never sees it); an item `down` cannot
 * migrate at all is a failure (the reverse sync would dead-letter it and N would miss the write).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { messageOf, userError } from '../../errors';
import { DATA_IO, type IoHost } from '../../io';
import { keyString, withoutMeta, type Item, type KeyNames } from '../../item/item';
import type { MigrationChain } from '../migrations/chain';
import { createMigrationContext } from '../migrations/context';
import type { MigrationContext } from '../migrations/migration';
import { createItemClient } from '../../item/numbers';
import { schemaIssuesText } from '../migrations/chain';

/** The chain given is not a down chain. */
export const COMPAT_NOT_DOWN = 'COMPAT_NOT_DOWN';

export interface BackwardCompatProps {
  readonly ioHost: IoHost;
  /** @default - a document client on a DynamoDBClient from the environment's configuration */
  readonly client?: DynamoDBDocumentClient;
  /** The release's (N+1) physical table. */
  readonly table: string;
  readonly keyNames: KeyNames;
  /** The chain from the release's data version back to the previous release's (`registry.chain(t, n+1, n)`). */
  readonly downChain: MigrationChain;
  /** The previous release's (N) item schema. */
  readonly previousSchema: z.ZodType;
  /** Items sampled at most. @default 1000 */
  readonly sample?: number;
  /** Parallel scan segments the sample is taken from. @default 4 */
  readonly segments?: number;
  /** Failure samples kept in the result. @default 10 */
  readonly sampleLimit?: number;
  /** What `down` reads through (the release's table). @default - a consistent-read context on `table` */
  readonly ctx?: MigrationContext;
}

export interface BackwardCompatSample {
  /** The release item's key, as stable JSON. */
  readonly key: string;
  readonly error: string;
}

export interface BackwardCompatResult {
  /** Release items checked. */
  readonly sampled: number;
  /** Sampled items whose `down` output fails the previous schema, or that `down` cannot migrate. */
  readonly failures: number;
  readonly samples: readonly BackwardCompatSample[];
}

/** Checks a sample of the release's items against the previous release's schema, through `down`. */
export async function checkBackwardCompatibility(props: BackwardCompatProps): Promise<BackwardCompatResult> {
  if (props.downChain.direction !== 'down' && !props.downChain.isIdentity) {
    throw userError(COMPAT_NOT_DOWN, `the chain of "${props.downChain.table}" goes up (v${props.downChain.fromVersion} → v${props.downChain.toVersion}), not down`, {
      fix: "pass registry.chain(table, releaseVersion, previousVersion): the previous release reads what down produces",
    });
  }
  const sample = Math.max(0, Math.floor(props.sample ?? 1000));
  const segments = Math.max(1, Math.min(props.segments ?? 4, Math.max(1, sample)));
  const sampleLimit = props.sampleLimit ?? 10;
  const client = props.client ?? createItemClient(new DynamoDBClient({}));
  const ctx = props.ctx ?? createMigrationContext({ client, tableName: props.table, keyNames: props.keyNames });

  // Parallel scan: each segment fills its share of the sample, so the sample spreads over the
  // key space instead of being the first partition's items.
  const share = Math.ceil(sample / segments);
  const pages = await Promise.all(Array.from({ length: segments }, (_, segment) => scanShare(client, props.table, segment, segments, share)));
  const items = pages.flat().slice(0, sample);

  let failures = 0;
  const samples: BackwardCompatSample[] = [];
  const fail = (item: Item, error: string): void => {
    failures++;
    const key = keyString(item, props.keyNames);
    if (samples.length < sampleLimit) samples.push({ key, error });
    DATA_IO.COMPAT_W6001.emit(props.ioHost, `${props.table} ${key}: ${error}`, { table: props.table, key, error });
  };
  await Promise.all(
    items.map(async (item) => {
      let outputs: Item[];
      try {
        outputs = await props.downChain.apply(item, ctx);
      } catch (err) {
        fail(item, `down failed: ${messageOf(err)}`);
        return;
      }
      for (const out of outputs) {
        const parsed = props.previousSchema.safeParse(withoutMeta(out));
        if (!parsed.success) {
          const issues = schemaIssuesText(parsed.error.issues, withoutMeta(out));
          fail(item, `down output ${keyString(out, props.keyNames)} fails the previous schema: ${issues}`);
          return;
        }
      }
    }),
  );
  const result: BackwardCompatResult = { sampled: items.length, failures, samples };
  DATA_IO.COMPAT_I6000.emit(props.ioHost, `${props.table}: ${failures} of ${items.length} sampled items fail the previous release's schema`, {
    table: props.table,
    sampled: items.length,
    failures,
  });
  return result;
}

async function scanShare(client: DynamoDBDocumentClient, table: string, segment: number, totalSegments: number, share: number): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, unknown> | undefined;
  while (out.length < share) {
    const page = await client.send(
      new ScanCommand({ TableName: table, Segment: segment, TotalSegments: totalSegments, Limit: share - out.length, ExclusiveStartKey: start }),
    );
    out.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
    if (!start) break;
  }
  return out;
}
