/**
 * notes v2: `title` is renamed `heading`, and `author` is split into `authorFirst` and `authorLast`.
 *
 *   v1: { id, title, author, tags?, updatedAt }
 *   v2: { id, heading, authorFirst, authorLast, tags?, updatedAt }
 *
 * The split is at the first space: "Ursula K. Le Guin" → "Ursula" + "K. Le Guin", "Hergé" → "Hergé"
 * + "". `down` joins the two with one space (just `authorFirst` when `authorLast` is '').
 *
 * That is exact because a v1 author is normalized: the app trims it and makes every run of
 * whitespace one space before storing it, so it is words (no whitespace) separated by single spaces.
 * Then `authorFirst` is one non-empty word and `authorLast` the rest or '', and down(up(x)) == x. An
 * author that is not normalized ("Hergé ", written by something other than the app) would not come
 * back exactly, so `up` refuses it (the item becomes a dead letter for a human) rather than change it.
 * Every other attribute travels unchanged, both ways.
 */
import { z } from 'zod';
import type { Item, Migration } from 'stackshift';

/** Words without whitespace, separated by single spaces. */
const NORMALIZED_AUTHOR = /^\S+(?: \S+)*$/;

const common = {
  id: z.string().min(1),
  // the app writes a list; a string set passes as well (the migration only carries it)
  tags: z.union([z.array(z.string()), z.set(z.string())]).optional(),
  updatedAt: z.number().int().nonnegative(),
};

/** A v1 note. Other attributes are allowed, but not v2's names: `up` would overwrite them. */
export const noteV1Schema = z.looseObject({
  ...common,
  title: z.string().min(1),
  author: z.string().regex(NORMALIZED_AUTHOR, 'expected words separated by single spaces'),
  heading: z.never().optional(),
  authorFirst: z.never().optional(),
  authorLast: z.never().optional(),
});

/** A v2 note. Other attributes are allowed, but not v1's names: `down` would overwrite them. */
export const noteV2Schema = z.looseObject({
  ...common,
  heading: z.string().min(1),
  authorFirst: z.string().regex(/^\S+$/, 'expected one word'),
  authorLast: z.union([z.literal(''), z.string().regex(NORMALIZED_AUTHOR, 'expected words separated by single spaces')]),
  title: z.never().optional(),
  author: z.never().optional(),
});

/** The schema's item, or an error naming what is wrong (the engine makes it a dead letter). */
function parsed<T>(schema: z.ZodType<T>, item: Item, what: string): T {
  const result = schema.safeParse(item);
  if (!result.success) throw new Error(`not a ${what}: ${z.prettifyError(result.error)}`);
  return result.data;
}

export const notesV2SplitAuthor: Migration = {
  table: 'notes',
  version: 2,
  description: 'rename title to heading; split author at its first space into authorFirst and authorLast',
  schema: noteV2Schema,
  downSchema: noteV1Schema,

  up(item: Item): Item {
    const { title, author, ...rest } = parsed(noteV1Schema, item, 'v1 note');
    const space = author.indexOf(' ');
    return {
      ...rest,
      heading: title,
      authorFirst: space < 0 ? author : author.slice(0, space),
      authorLast: space < 0 ? '' : author.slice(space + 1),
    };
  },

  down(item: Item): Item {
    const { heading, authorFirst, authorLast, ...rest } = parsed(noteV2Schema, item, 'v2 note');
    return { ...rest, title: heading, author: authorLast === '' ? authorFirst : `${authorFirst} ${authorLast}` };
  },
};
