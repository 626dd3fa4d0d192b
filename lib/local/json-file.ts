import * as fs from 'node:fs';
import type { z } from 'zod';

/**
 * Reads a JSON file this tool wrote and validates it: undefined when the file does not exist;
 * `corrupt(detail, cause)` builds the error for a file that is not JSON or fails the schema.
 */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>, corrupt: (detail: string, cause?: unknown) => Error): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw corrupt((err as Error).message, err);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupt(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
