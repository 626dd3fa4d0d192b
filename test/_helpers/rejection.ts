import { ReleaseError } from '../../lib/errors';

/** The ReleaseError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<ReleaseError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!ReleaseError.isReleaseError(err)) throw new Error(`expected a ReleaseError, got ${String(err)}`);
  return err;
}

/** The code a promise rejects with (a ReleaseError's code, else the error as text); undefined when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return ReleaseError.isReleaseError(err) ? err.code : String(err);
  }
  return undefined;
}
