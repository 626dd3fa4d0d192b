import { defineConfig } from 'tsup';

/**
 * The package as adopters install it: the public API (`import … from 'stackshift'`, with types) and
 * the `stackshift` command, ESM for Node 22+, dependencies left to npm. A team's config is loaded at
 * run time (lib/config/load-config.ts), so nothing of theirs is bundled.
 */
export default defineConfig({
  entry: { index: 'lib/index.ts', cli: 'bin/cli.ts', app: 'bin/app.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node22',
  dts: { entry: { index: 'lib/index.ts' } },
  splitting: true,
  sourcemap: true,
  clean: true,
  outDir: 'dist',
});
