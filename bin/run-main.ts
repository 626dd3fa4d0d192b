import { exitCodeFor, messageOf, ReleaseError } from '../lib/errors';
import { IO, type IoHost } from '../lib/io';

/**
 * The one top-level catch of every entry point: a user error is one line and exit 1, anything
 * else is printed with its stack and how to report it, exit 2.
 */
export function runMain(io: IoHost, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const text = ReleaseError.isUserError(err)
      ? messageOf(err)
      : `${describe(err)}\nthis is a bug or a platform failure: please report it with the output above`;
    IO.CLI_E9000.emit(io, text, { code: ReleaseError.isReleaseError(err) ? err.code : 'UNEXPECTED' });
    process.exitCode = exitCodeFor(err);
  });
}

/** An error's stack, then each cause's (the CDK toolkit wraps the error that matters). */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
  return parts.join('\ncaused by: ');
}
