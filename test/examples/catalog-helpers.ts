/** Shared set-up of the catalog example's tests: an in-process server on a table of its own. */
import type { AddressInfo } from 'node:net';
import { createCatalogServer, type CatalogServer, type CatalogServerProps } from '../../examples/catalog/app';
import type { ProductStore } from '../../examples/catalog/store';
import { ProductStoreV1 } from '../../examples/catalog/store-v1';
import { ProductStoreV2 } from '../../examples/catalog/store-v2';
import { createTable, uniqueName } from '../_helpers/tables';

export interface RunningCatalog {
  readonly table: string;
  readonly store: ProductStore;
  readonly baseUrl: string;
  readonly host: string;
  readonly port: number;
  readonly app: CatalogServer;
  close(): Promise<void>;
}

/** A fresh products table of `version` and a server on it, listening on a free loopback port. */
export async function startCatalog(version: 1 | 2, store?: (table: string) => ProductStore): Promise<RunningCatalog> {
  const table = uniqueName(`catalog-v${version}`);
  await createTable(table);
  const s = store?.(table) ?? (version === 1 ? new ProductStoreV1({ tableName: table }) : new ProductStoreV2({ tableName: table }));
  return serve(s, table);
}

/** A server on an existing store. */
export async function serve(store: ProductStore, table = '', options: Omit<CatalogServerProps, 'store'> = {}): Promise<RunningCatalog> {
  const app = createCatalogServer({ store, logError: () => undefined, ...options });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  return { table, store, app, host: '127.0.0.1', port, baseUrl: `http://127.0.0.1:${port}`, close: () => app.shutdown(1_000) };
}
