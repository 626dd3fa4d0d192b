/**
 * The app configuration a user writes in the `app` field of `stackshift.config.ts`: the app name (prefix of every stack and
 * table), the public DNS zone and record the flip moves, and the release fleet's defaults.
 * Validated here; a bad value is one user error line with code `CONFIG_INVALID`.
 */
import { z } from 'zod';
import { zodUserError } from './table-manifest';

export const CONFIG_INVALID = 'CONFIG_INVALID';

/** A DNS name of labels [a-z0-9-] joined by dots, at least two labels, no trailing dot. */
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const appConfigSchema = z
  .strictObject({
    /** Prefix of every stack, table and tag; 2-31 characters. */
    app: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, 'must be 2-31 characters of [a-z0-9-] starting with a letter'),
    /** The public hosted zone EdgeStack creates, e.g. `catalog.example.test`. */
    zoneName: z.string().regex(DNS_NAME, 'must be a lowercase DNS name such as "example.com" (no trailing dot)'),
    /** The record the flip UPSERTs. @default `www.<zoneName>` */
    recordName: z.string().regex(DNS_NAME, 'must be a lowercase DNS name (no trailing dot)').optional(),
    /** EC2 instance type of a release's fleet. @default t3.micro */
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must be an EC2 instance type such as "t3.micro"')
      .default('t3.micro'),
    /** Instances per release. @default 2 */
    desiredCapacity: z.number().int('must be a whole number').min(1, 'must be at least 1').max(20, 'must be at most 20').default(2),
    /** The AMI the bake starts from. @default - the bake chooses */
    baseAmiId: z.string().regex(/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'must be an AMI id such as "ami-0123456789abcdef0"').optional(),
    /** TTL of the public record: how long clients may keep reaching the previous stack after a flip. @default 5 */
    recordTtlSeconds: z.number().int('must be a whole number').min(1, 'must be at least 1').max(86400, 'must be at most 86400').default(5),
    /** How long after a promote the previous stack is kept for a rollback (teardown refuses it without --force). @default 60 */
    rollbackWindowMinutes: z.number().int('must be a whole number').min(0, 'must be at least 0').default(60),
    /** Branch stacks older than this are torn down by `gc`. @default 72 */
    branchTtlHours: z.number().positive('must be more than 0').default(72),
    /** The promotion gate on forward-sync lag, in milliseconds. @default 1000 */
    lagGateMs: z.number().int('must be a whole number').min(1, 'must be at least 1').default(1000),
    /**
     * The longest a write may take in the app. At a fenced cut-over the old stack's load balancer
     * holds new writes, then waits this long for writes already inside the app before it drains the
     * sync: the write pause is about this plus the drain. @default 1000
     */
    writeDrainMs: z.number().int('must be a whole number').min(0, 'must be at least 0').max(60_000, 'must be at most 60000').default(1000),
    /** Copy throughput `plan` estimates with (source items per second, measured by bench:copy). @default 5000 */
    copyItemsPerSecond: z.number().positive('must be more than 0').default(5000),
    /** Stream retention `plan` checks the copy against, in hours (DynamoDB Streams keep 24 h). @default 24 */
    streamRetentionHours: z.number().positive('must be more than 0').max(24, 'must be at most 24 (DynamoDB Streams retention)').default(24),
  })
  .transform((c) => ({ ...c, recordName: c.recordName ?? `www.${c.zoneName}` }))
  .superRefine((c, ctx) => {
    if (c.recordName !== c.zoneName && !c.recordName.endsWith(`.${c.zoneName}`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['recordName'],
        input: c.recordName,
        message: `is not inside the zone "${c.zoneName}"`,
      });
    }
  });

/** What a user writes. */
export type AppConfigInput = z.input<typeof appConfigSchema>;
/** After validation, with defaults applied. */
export type AppConfig = Readonly<z.output<typeof appConfigSchema>>;

/** Validate the app configuration and apply defaults. Throws a `CONFIG_INVALID` user error. */
export function parseAppConfig(input: unknown): AppConfig {
  const result = appConfigSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    throw zodUserError(CONFIG_INVALID, 'app config', result.error, 'fix the app field of stackshift.config.ts');
  }
  return result.data;
}
