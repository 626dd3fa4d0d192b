/**
 * Echo suppression between the forward sync (old release → new release, origin 'sync') and the
 * reverse sync (new → old after a promote, origin 'reverse'), which run at the same time around a
 * DNS flip (DESIGN.md, Data, point 8). Each reads the stream of the table the other writes to, so
 * without a marker every write would bounce back and be applied again (and a delete could be
 * undone by the echo of the stamp that preceded it).
 *
 * The marker is a per-write token, `<origin>:<source table>:<sequenceNumber>` of the record being
 * applied, naming the table the write came from:
 *   - every put the sync makes carries it in META.write;
 *   - before a delete, the sync stamps the item with it in META.deleting (a conditional update, only
 *     if the item still exists), then deletes it on condition that the stamp is still there, so the
 *     REMOVE record's old image says who deleted it.
 *
 * Why a token per write and not just an origin marker: a user's UpdateItem on an item the sync
 * wrote keeps every attribute it does not set, the origin marker included, so an origin marker
 * alone would make that user write look like an echo and it would be lost. With a token, a write
 * of the other direction is recognised by its token being NEW (different from the old image's):
 * a user's UpdateItem leaves the token unchanged, and a user's PutItem drops it.
 *
 * Why the source table in the token: an echo is a write made by the sync that flows from OUR
 * target into our source, nothing else. A table can take writes from a third release's sync: v1,
 * the rollback target of v2, gets v2's writes through the reverse sync v2 → v1, while a release
 * `fix` copied from v1 follows v1 forward. Judged by direction alone, the forward sync v1 → fix took
 * those reverse-sync writes for echoes and skipped them, so `fix` never had them, and promoting it
 * after a rollback to v1 lost them (found by the model-based lifecycle test). Tokens written before
 * the table was named (`<origin>:<sequenceNumber>`) are still judged by direction.
 */
import { META, stableJson, withoutMeta, type Item } from '../../item/item';

/** The direction a sync applier writes in: forward ('sync') or back to the previous release ('reverse'). */
export type SyncOrigin = 'sync' | 'reverse';

/** The minimal shape of a stream record `isEcho` looks at. */
export interface EchoCandidate {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly newImage?: Item;
  readonly oldImage?: Item;
}

/**
 * The token a write made while applying the record `sequenceNumber` of `sourceTable`'s stream
 * carries: `<origin>:<sourceTable>:<sequenceNumber>` (table names hold no colon).
 */
export function writeToken(origin: SyncOrigin, sequenceNumber: string, sourceTable: string): string {
  return `${origin}:${sourceTable}:${sequenceNumber}`;
}

/** The other direction's origin. */
export function otherOrigin(origin: SyncOrigin): SyncOrigin {
  return origin === 'sync' ? 'reverse' : 'sync';
}

/**
 * True when `record` is the echo of a write that the OTHER direction's applier made — the one
 * writing from `ownTarget` into the table we read — so an applier with origin `ownOrigin` writing
 * to `ownTarget` must skip it:
 *   - INSERT / MODIFY: the new image carries a token of the other direction in META.write that
 *     differs from the old image's (the other side put the item), or likewise in META.deleting
 *     (the other side stamped the item before deleting it: applying that stamp's MODIFY would
 *     write back an item whose deletion is on its way);
 *   - REMOVE: the old image carries a token of the other direction in META.deleting (only the
 *     sync sets it, right before its own conditional delete).
 *   - for the reverse sync, also the bulk copy's writes (it is part of the forward direction): an
 *     INSERT whose new image the copy wrote (origin 'copy', no sync token), or a copy re-put that
 *     changed nothing a user can see. Otherwise a reverse sync starting at the trim horizon would
 *     replay the copy's images over newer writes on the old table.
 * Records of our own direction's writes cannot reach us (we do not read the table we write).
 */
export function isEcho(record: EchoCandidate, ownOrigin: SyncOrigin, ownTarget: string): boolean {
  const mine = (token: unknown): boolean => isTokenFrom(token, otherOrigin(ownOrigin), ownTarget);
  if (record.eventName === 'REMOVE') return mine(record.oldImage?.[META.deleting]);
  const fresh = (attribute: string): boolean => {
    const token = record.newImage?.[attribute];
    return mine(token) && token !== record.oldImage?.[attribute];
  };
  return fresh(META.write) || fresh(META.deleting) || (ownOrigin === 'reverse' && isCopyWrite(record));
}

function isCopyWrite(record: EchoCandidate): boolean {
  const image = record.newImage;
  if (!image || image[META.origin] !== 'copy' || image[META.write] !== undefined) return false;
  if (record.eventName === 'INSERT' || !record.oldImage) return true;
  // A user's UpdateItem of a copied item keeps the copy's origin but changes the content.
  return stableJson(withoutMeta(record.oldImage)) === stableJson(withoutMeta(image));
}

/** A token written by the `origin` applier that read `table`'s stream (or, legacy, by any `origin` applier). */
function isTokenFrom(token: unknown, origin: SyncOrigin, table: string): boolean {
  if (typeof token !== 'string' || !token.startsWith(`${origin}:`)) return false;
  const parts = token.split(':');
  return parts.length === 2 || parts[1] === table;
}
