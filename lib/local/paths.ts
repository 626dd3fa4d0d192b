import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * This package's own root (its tools/ and bin/): this file lives in `<root>/lib/local/`. Read-only
 * once installed: nothing is ever written here.
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The folder of a project's stackshift state (local AWS, the moto venv, logs); git-ignored. */
export const STATE_FOLDER = '.stackshift';

/** The project stackshift works for: $STACKSHIFT_REPO, else the current directory. */
export function projectDir(): string {
  return path.resolve(process.env.STACKSHIFT_REPO ?? process.cwd());
}

/** Where the state file and the emulators' logs live unless told otherwise: `<project>/.stackshift/local`. */
export function defaultStateDir(project: string = projectDir()): string {
  return path.join(project, STATE_FOLDER, 'local');
}

/** The venv moto server is installed into: `<project>/.stackshift/venv`. */
export function motoVenvDir(project: string = projectDir()): string {
  return path.join(project, STATE_FOLDER, 'venv');
}

/** The moto server of the project venv. */
export function defaultMotoServer(project: string = projectDir()): string {
  return path.join(motoVenvDir(project), 'bin', 'moto_server');
}

/** The single-file Java launcher that binds DynamoDB Local to the loopback address. */
export const DYNAMODB_LOOPBACK_LAUNCHER = path.join(PACKAGE_ROOT, 'tools', 'DynamoDbLocalLoopback.java');

/**
 * tsx's loader, by absolute URL: `--import tsx` would resolve from the child's working directory
 * (a team's repository, an artifact), where this package's dependencies need not be.
 */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Node arguments that run a script: TypeScript through tsx, JavaScript as it is. */
export function nodeArgsFor(entry: string): string[] {
  return /\.[cm]?ts$/.test(entry) ? ['--import', TSX_LOADER, entry] : [entry];
}

/**
 * Node arguments that run this package's own CLI (bin/cli): the TypeScript source through tsx when
 * running from source, the built JavaScript when installed.
 */
export function cliCommand(): string[] {
  const source = path.extname(fileURLToPath(import.meta.url)) === '.ts';
  return nodeArgsFor(path.join(PACKAGE_ROOT, 'bin', source ? 'cli.ts' : 'cli.js'));
}

/** A path as the user would type it from the project root, for messages. */
export function displayPath(p: string): string {
  const rel = path.relative(projectDir(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
