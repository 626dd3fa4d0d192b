import { spawnSync } from 'node:child_process';
import { userError } from '../errors';

/** DynamoDB Local 3.x needs Java 17 (the bundled Jetty 12 too). */
export const MIN_JAVA_MAJOR = 17;

/**
 * The major version in `java -version` output: `openjdk version "17.0.15"` gives 17,
 * `java version "1.8.0_381"` gives 8.
 *
 * @returns undefined when the output names no version
 */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const quoted = /version "([^"]+)"/.exec(versionOutput)?.[1];
  if (quoted === undefined) return undefined;
  const parts = quoted.split(/[._+-]/);
  const major = Number(parts[0] === '1' ? parts[1] : parts[0]);
  return Number.isInteger(major) ? major : undefined;
}

/** Fails with one clear line unless `java` runs and is 17 or newer. */
export function checkJava(java: string): void {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  const output = `${result.stderr ?? ''}${result.stdout ?? ''}`;
  const major = result.error ? undefined : parseJavaMajor(output);
  if (major !== undefined && major >= MIN_JAVA_MAJOR) return;
  const found = result.error
    ? `${java}: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`
    : major !== undefined
      ? `java ${major}`
      : (output.split('\n')[0]?.trim() || `${java} printed no version`);
  throw userError('LOCAL_JAVA_MISSING', `java ${MIN_JAVA_MAJOR} or newer is needed for DynamoDB Local (found: ${found})`, {
    fix: 'install openjdk-17-jre-headless',
  });
}
