/**
 * `release.json`, shipped next to the app: which data version of each table this code reads and
 * writes. The orchestrator migrates the release's tables to these versions before the app serves.
 */
import * as fs from 'node:fs';
import { z } from 'zod';

/** A table the file does not name is at data version 1 (as lib/release/definition.ts reads it). */
const releaseInfoSchema = z.object({
  dataVersions: z.object({
    products: z.number().int().positive().default(1),
    orders: z.number().int().positive().default(1),
  }),
});

export type ReleaseInfo = z.infer<typeof releaseInfoSchema>;

export function readReleaseInfo(file: string): ReleaseInfo {
  const parsed = releaseInfoSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file} is not a valid release file (${issue.path.join('.') || '(root)'}: ${issue.message})`);
  }
  return parsed.data;
}
