import { beforeAll } from 'vitest';
import { generateV1Products } from '../../examples/catalog/data';
import type { Item } from '../../lib/item/item';
import { verifyCopy, type VerifyResult } from '../../lib/data/verify/verify-copy';
import type { IoHost } from '../../lib/io';
import { createLedgerClient, createLedgerTable, DeadLetters, Ledger } from '../../lib/ledger';
import { registry } from './catalog';
import { createTable, PRODUCT_KEYS, putAll, uniqueName } from './tables';

/** The example's up chain: v1 channel items → v2 product + listings. */
export const upChain = registry.chain('products', 1, 2, { keyNames: PRODUCT_KEYS });

/** A source (v1) and target (v2) table and the name of the copy job between them. */
export interface TablePair {
  readonly source: string;
  readonly target: string;
  readonly jobId: string;
}

/** A ledger table of the test file's own, created before its tests. */
export function useLedger(): { readonly ledger: () => Ledger; readonly name: string } {
  const name = uniqueName('ledger');
  let ledger: Ledger | undefined;
  beforeAll(async () => {
    await createLedgerTable(createLedgerClient(), name);
    ledger = new Ledger({ tableName: name });
  });
  return { name, ledger: () => ledger! };
}

/**
 * Fresh tables: a source with `products` v1 products (plus `extra` items) and an empty target.
 * Give the source a stream only when the test syncs: stream records slow DynamoDB Local down.
 */
export async function freshPair(products: number, options: { readonly stream?: boolean; readonly extra?: readonly Item[] } = {}): Promise<TablePair> {
  const source = uniqueName('src');
  const target = uniqueName('dst');
  await createTable(source, PRODUCT_KEYS, { stream: options.stream });
  await createTable(target, PRODUCT_KEYS);
  await putAll(source, generateV1Products({ products }));
  if (options.extra?.length) await putAll(source, options.extra);
  return { source, target, jobId: uniqueName('job') };
}

/** The two-way verify of a pair, with the copy job's dead letters. */
export function verifyPair(io: IoHost, ledger: Ledger, p: TablePair): Promise<VerifyResult> {
  return verifyCopy({ ioHost: io, sourceTable: p.source, targetTable: p.target, keyNames: PRODUCT_KEYS, chain: upChain, deadLetters: new DeadLetters(ledger, p.jobId) });
}
