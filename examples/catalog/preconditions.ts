/**
 * Entity tags and `If-Match` for the catalog (RFC 9110, 8.8.3 and 13.1.1), with one twist that makes
 * writes safe across a release flip.
 *
 * During a flip both stacks take writes (DNS caches expire at different times) and the syncs copy
 * each stack's writes to the other, seconds behind. A client that wrote a product on the old stack
 * and writes it again on the new one would otherwise race its own first write: if the sync delivers
 * the first write after the second, the second is silently overwritten. So the client sends the
 * tag of the product as it last saw it, and a stack that does not hold that state yet waits for
 * the sync to bring it before writing, instead of failing (412) at once. Once it holds exactly the
 * client's last write, every record of that write has been applied, and the new write comes after.
 */
import { createHash } from 'node:crypto';
import { canonicalProduct, type ProductBody } from './product';
import type { ProductStore, StoredProduct } from './store';

/**
 * The product's entity tag: `"r<rev>.<hash of the whole product>"`. Weak (`W/`) while the product
 * is not settled: its items disagree on rev because a sync is part-way through applying a write,
 * and such a state is not one any client wrote. A weak tag never satisfies If-Match.
 */
export function entityTagOf(stored: StoredProduct): string {
  const { product } = stored;
  const hash = createHash('sha256').update(JSON.stringify(canonicalProduct(product))).digest('base64url').slice(0, 22);
  const tag = `"${product.rev !== undefined ? `r${product.rev}.` : ''}${hash}"`;
  return stored.settled ? tag : `W/${tag}`;
}

/** The tag of what a client has just written (a settled product by construction). */
export function entityTagOfBody(body: ProductBody): string {
  return entityTagOf({ product: { id: '', ...body }, settled: true });
}

export class PreconditionFailed extends Error {}

export interface AwaitPreconditionProps {
  readonly store: ProductStore;
  readonly id: string;
  /** The request's If-Match header. */
  readonly ifMatch: string;
  /** How long the stack waits for a sync to bring the state the client names. @default 8_000 ms */
  readonly waitMs?: number;
  /** First pause between reads while waiting; it doubles up to 400 ms. @default 50 ms */
  readonly pollMs?: number;
}

export interface PreconditionWait {
  /** How long the write was held for the state to arrive: 0 when it was there at once. */
  readonly waitedMs: number;
}

const MAX_POLL_MS = 400;

/** @default of `waitMs`: below the 10 s a client usually waits for an answer. */
export const DEFAULT_PRECONDITION_WAIT_MS = 8_000;

/**
 * Resolves once the product holds a state `ifMatch` names (`*`: any settled product). Throws
 * PreconditionFailed at once when the product has moved past it (a settled product at a later rev:
 * someone else wrote it), or after `waitMs` when it never arrived.
 */
export async function awaitPrecondition(props: AwaitPreconditionProps): Promise<PreconditionWait> {
  const wanted = parseIfMatch(props.ifMatch);
  if (wanted !== '*' && wanted.length === 0) throw new PreconditionFailed(`If-Match "${props.ifMatch}" names no strong entity tag: send the ETag a GET or PUT answered, e.g. "r3.abc…"`);
  const waitMs = props.waitMs ?? DEFAULT_PRECONDITION_WAIT_MS;
  const started = Date.now();
  const deadline = started + waitMs;
  for (let reads = 1; ; reads++) {
    const stored = await props.store.read(props.id);
    const tag = stored ? entityTagOf(stored) : undefined;
    if (tag !== undefined && stored!.settled && (wanted === '*' || wanted.includes(tag))) return { waitedMs: reads === 1 ? 0 : Date.now() - started };
    if (wanted !== '*' && stored?.settled && movedPast(stored, wanted)) {
      throw new PreconditionFailed(`product ${props.id} has changed since the state If-Match names (it is now ${tag}, not ${wanted.join(' or ')}): read it again and retry`);
    }
    if (Date.now() >= deadline) {
      const now = tag ?? 'absent';
      throw new PreconditionFailed(`product ${props.id} did not reach the state If-Match names (${wanted === '*' ? '*' : wanted.join(' or ')}) within ${waitMs} ms (it is ${now}): if it was just written on another release, its sync is behind; retry later`);
    }
    // Backing off: under load every waiting write re-reading at a fixed pace would slow the very
    // syncs it waits for.
    await new Promise((r) => setTimeout(r, Math.min((props.pollMs ?? 50) * 2 ** (reads - 1), MAX_POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}

/** `*`, or the strong tags of an If-Match list (weak ones can never match, RFC 9110 13.1.1). */
function parseIfMatch(header: string): '*' | string[] {
  if (header.trim() === '*') return '*';
  return header
    .split(',')
    .map((t) => t.trim())
    .filter((t) => /^"[^"]*"$/.test(t));
}

/**
 * Whether a settled product is past the rev of every wanted tag (so waiting cannot help). At the
 * same rev it may still be arriving: a sync that has put some of a write's items and not yet the
 * others leaves a product whose items agree on rev but which lacks a channel.
 */
function movedPast(stored: StoredProduct, wanted: readonly string[]): boolean {
  const rev = stored.product.rev;
  if (rev === undefined || wanted.length === 0) return false;
  return wanted.every((t) => {
    const m = /^"r(\d+)\./.exec(t);
    return m !== null && rev > Number(m[1]);
  });
}
