/**
 * stackshift's public API: what a team's `stackshift.config.ts` and migrations import.
 *
 *   import { defineConfig, type Migration } from 'stackshift';
 */
export { defineConfig } from './config/define-config';
export type { ExtendReleaseStack, ReleaseStackContext, StackshiftConfig } from './config/define-config';
export type { Migration, MigrationContext, MigrationResult } from './data/migrations/migration';
export type { Item, Key } from './item/item';
export type { ReleaseCheck, ReleaseCheckContext } from './config/definition';
export type { TableSpec, GlobalSecondaryIndexSpec, KeyAttribute, KeyAttributeType } from './manifest/table-manifest';
export { exactNumber, exactText, NumberValue } from './item/numbers';
export { CONSTRUCTOR_ATTRIBUTE, PROTO_ATTRIBUTE } from './item/special-names';

// Driving releases from a program instead of the CLI: the verbs as one object, and the config loader.
export { Stackshift } from './release/stackshift';
export type { GcOptions, PlanOptions, PromoteOptions, ReleaseOptions, StackshiftProps, StatusOptions, TeardownOptions } from './release/stackshift';
export type { VerbResult } from './release/verb-result';
export { findConfigFile, loadConfig } from './config/load-config';
export { defaultIoHost } from './io';
export type { IoHost, IoMessage } from './io';
