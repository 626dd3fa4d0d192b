/**
 * The catalog app's entry point: one process serving one release (a stack's fleet stands behind its
 * load balancer; locally, lib/infra/local-fleet.ts runs one of these per release).
 *
 * Environment: PORT (required), HOST (@default 127.0.0.1), PRODUCTS_TABLE (required), ORDERS_TABLE
 * (unused so far), and the AWS SDK's own (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, credentials).
 * The products table's data version comes from release.json next to this file.
 * SIGTERM/SIGINT: stop accepting, finish requests in flight, exit 0.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCatalogServer } from './app';
import { readReleaseInfo } from './release-info';
import type { ProductStore } from './store';
import { ProductStoreV1 } from './store-v1';
import { ProductStoreV2 } from './store-v2';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The store of the products table's data version. */
export function storeForVersion(version: number, tableName: string): ProductStore {
  if (version === 1) return new ProductStoreV1({ tableName });
  if (version === 2) return new ProductStoreV2({ tableName });
  throw new Error(`products data version ${version} is not supported by this app (it knows 1 and 2)`);
}

function requiredEnv(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

function portFromEnv(): number {
  const raw = requiredEnv('PORT');
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT must be a port number from 1 to 65535 (found: "${raw}")`);
  return port;
}

function log(level: 'info' | 'error', message: string, data: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...data }) + '\n');
}

function main(): void {
  const port = portFromEnv();
  const host = process.env.HOST?.trim() || '127.0.0.1';
  const release = readReleaseInfo(path.join(HERE, 'release.json'));
  const store = storeForVersion(release.dataVersions.products, requiredEnv('PRODUCTS_TABLE'));
  const { server, shutdown } = createCatalogServer({ store });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'draining', { signal });
    void shutdown().then(() => {
      log('info', 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  server.on('error', (err) => {
    log('error', 'server error', { error: err.message });
    process.exit(1);
  });
  server.listen(port, host, () => log('info', 'listening', { host, port, dataVersion: store.dataVersion, pid: process.pid }));
}

try {
  main();
} catch (err) {
  log('error', 'cannot start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
