import { defineConfig } from 'vitest/config';

export default defineConfig({
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
