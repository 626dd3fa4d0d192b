import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

/** True when running the TypeScript sources (this repository), false when running the built package (dist/). */
export const FROM_SOURCE = path.extname(HERE) === '.ts';

/**
 * This package's own root (tools/, and bin/ or dist/): the nearest folder above this module with
 * stackshift's package.json (a source file and a bundled chunk sit at different depths). Read-only
 * once installed: nothing is ever written here.
 */
export const PACKAGE_ROOT = packageRoot(path.dirname(HERE));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'stackshift') return dir;
    if (path.dirname(dir) === dir) throw new Error(`stackshift's package.json is not above ${from}`);
  }
}

/** Built: the folder of the bundle this module is part of (dist/, where cli.js and index.js sit beside it). */
const BUNDLE_DIR = path.dirname(HERE);

/** The public API module (`import … from 'stackshift'`) of this copy of the package. */
export function publicApiFile(): string {
  return FROM_SOURCE ? path.join(PACKAGE_ROOT, 'lib', 'index.ts') : path.join(BUNDLE_DIR, 'index.js');
}

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
 * running from source, the built JavaScript of this same build when built (the package's dist/, or
 * the tests' build: test/_helpers/cli-bundle.ts).
 */
export function cliCommand(): string[] {
  return nodeArgsFor(FROM_SOURCE ? path.join(PACKAGE_ROOT, 'bin', 'cli.ts') : path.join(BUNDLE_DIR, 'cli.js'));
}

/** A path as the user would type it from the project root, for messages. */
export function displayPath(p: string): string {
  const rel = path.relative(projectDir(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
