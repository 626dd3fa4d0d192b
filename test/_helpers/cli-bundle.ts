/**
 * The CLI as it ships, built once per test run (or soak) from the sources under test: the tests
 * that run `stackshift` as a process run this build, as a team's `npx stackshift` would. A process
 * of the source through tsx spends about a second more CPU starting (tsx's loader hooks resolve and
 * transform every module), and the suite and the soak start hundreds: CLIs, sync daemons, load
 * balancers (all of which the built CLI starts from its own build, lib/local/paths.ts).
 */
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/local/paths';

/** Set to a build's cli.js, test/_helpers/cli.ts runs it; unset, it runs the sources through tsx. */
export const CLI_BUNDLE_ENV = 'STACKSHIFT_TEST_CLI_BUNDLE';

/**
 * Builds bin/cli.ts and the public API (a team's config imports it as `stackshift`) into `outDir`,
 * as tsup.config.ts builds the package, without the type declarations. Returns the CLI's path.
 */
export async function buildCliBundle(outDir: string): Promise<string> {
  // tsup loads esbuild and more: only where a build is made, not in every test file that runs the CLI
  const [{ build }, { default: packageBuild }] = await Promise.all([import('tsup'), import('../../tsup.config')]);
  if (typeof packageBuild !== 'object' || Array.isArray(packageBuild)) throw new Error('tsup.config.ts no longer exports one options object');
  await build({
    ...packageBuild,
    config: false,
    entry: { cli: path.join(PACKAGE_ROOT, 'bin', 'cli.ts'), index: path.join(PACKAGE_ROOT, 'lib', 'index.ts') },
    dts: false,
    silent: true,
    outDir,
  });
  return path.join(outDir, 'cli.js');
}
