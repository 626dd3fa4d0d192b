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
