/** Assertions on a CLI run (test/_helpers/cli.ts), for tests; the runner itself imports no test framework. */
import { expect } from 'vitest';
import type { CliRun } from './cli';

export function expectOk(run: CliRun): void {
  if (run.code !== 0) throw new Error(`CLI exited ${run.code}:\n${run.stderr.slice(-3000)}`);
}

/** A user error: exit 1, one error line naming the code, no stack trace. */
export function expectUserError(run: CliRun, code: string): void {
  expect(run.code, run.stderr.slice(-2000)).toBe(1);
  const errors = run.messages.filter((m) => m.level === 'error');
  expect(errors).toHaveLength(1);
  expect(errors[0].data?.code).toBe(code);
  expect(errors[0].message).not.toMatch(/\n\s+at /);
}
