import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the public API by its package name, as a team's config imports it (tsconfig.json `paths` for tsx)
  resolve: { alias: { stackshift: fileURLToPath(new URL('./lib/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/_helpers/global-setup.ts'],
    setupFiles: ['test/_helpers/local-env.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration tests share one moto and one DynamoDB Local; files run in parallel but each
    // uses its own names, so keep the worker count at the machine's two cores.
    maxWorkers: 2,
  },
});
