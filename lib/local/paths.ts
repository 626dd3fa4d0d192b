import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file lives in `<repo>/lib/local/`. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Node arguments that run this package's own CLI (bin/cli): the TypeScript source through tsx when
 * running from source, the built JavaScript when installed.
 */
export function cliCommand(): string[] {
  const source = path.extname(fileURLToPath(import.meta.url)) === '.ts';
  return source ? ['--import', 'tsx', path.join(REPO_ROOT, 'bin', 'cli.ts')] : [path.join(REPO_ROOT, 'bin', 'cli.js')];
}

/** Where the state file and the emulators' logs live unless told otherwise. */
export function defaultStateDir(): string {
  return path.join(REPO_ROOT, '.local');
}

/** The moto server the set-up script installs into the project venv. */
export function defaultMotoServer(): string {
  return path.join(REPO_ROOT, '.venv', 'bin', 'moto_server');
}

/** The single-file Java launcher that binds DynamoDB Local to the loopback address. */
export const DYNAMODB_LOOPBACK_LAUNCHER = path.join(REPO_ROOT, 'tools', 'DynamoDbLocalLoopback.java');

/** A path as the user would type it from the repository root, for messages. */
export function displayPath(p: string): string {
  const rel = path.relative(REPO_ROOT, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
