/**
 * What a team writes once, in `stackshift.config.ts` at the root of its repository (or in
 * `release/`): its app, its tables, its migrations, its release checks and, optionally, what it adds
 * to every release stack. Paths are relative to the repository root.
 *
 *   import { defineConfig } from 'stackshift';
 *   export default defineConfig({ app: 'shop', zoneName: 'shop.example.com', appDir: 'app', appEntry: 'server.js', tables: [...] });
 */
import type { Construct } from 'constructs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Migration } from '../data/migrations/migration';
import type { AppConfigInput } from '../manifest/app-config';
import type { TableSpec } from '../manifest/table-manifest';
import type { ReleaseCheck } from './definition';

/** What `extendReleaseStack` receives about the release stack it extends. */
export interface ReleaseStackContext {
  /** `sha-<12 hex>` or `br-<slug>`. */
  readonly releaseId: string;
  /** The release's tables by logical name (as in `tables`). */
  readonly tables: ReadonlyMap<string, dynamodb.ITable>;
  /** The role of the release's instances: grant it what your constructs need. */
  readonly instanceRole: iam.IRole;
}

/**
 * Adds a team's own constructs (a queue, a bucket, a parameter) to every release stack. Runs once
 * per release stack, inside it; cdk-nag checks what it adds like the rest of the stack.
 */
export type ExtendReleaseStack = (stack: Construct, release: ReleaseStackContext) => void;

export interface StackshiftConfig extends AppConfigInput {
  /** The app's directory, relative to the repository root (what a release is built from). */
  readonly appDir: string;
  /** The app's entry point, relative to `appDir` (`.js`, `.mjs` or `.ts`). */
  readonly appEntry: string;
  /** The app's DynamoDB tables. */
  readonly tables: readonly TableSpec[];
  /** Every migration of every table. @default - none: every table stays at data version 1 */
  readonly migrations?: readonly Migration[];
  /** HTTP checks run against a new stack before it is Ready. @default - none */
  readonly checks?: readonly ReleaseCheck[];
  /** Your own constructs in every release stack. @default - none */
  readonly extendReleaseStack?: ExtendReleaseStack;
}

/** Types a configuration (it is validated when the CLI loads it). */
export function defineConfig(config: StackshiftConfig): StackshiftConfig {
  return config;
}
