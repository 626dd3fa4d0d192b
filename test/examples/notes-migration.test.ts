import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NumberValue, type Item } from 'stackshift';
import { noteV1Schema, noteV2Schema, notesV2SplitAuthor } from '../../examples/notes/migrations/notes-v2-split-author';
import { MigrationRegistry } from '../../lib/data/migrations/registry';

const { up, down } = notesV2SplitAuthor;
// The migration is pure: it never reads through the context.
const noReads = {
  get: () => Promise.reject(new Error('notes v2 reads nothing')),
  queryPartition: () => Promise.reject(new Error('notes v2 reads nothing')),
};

function upOne(item: Item): Item {
  return up(item, noReads) as Item;
}

function downOne(item: Item): Item {
  return down!(item, noReads) as Item;
}

// -- arbitraries: every valid v1 note -----------------------------------------------------------

/** A word: any graphemes (accents, CJK, emoji, zero-width joiners) but no whitespace. */
const word = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((w) => /^\S+$/.test(w));
/** A normalized author: one to five words, single spaces. */
const author = fc.array(word, { minLength: 1, maxLength: 5 }).map((words) => words.join(' '));
const tags = fc.oneof(
  fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }), { maxLength: 4 }),
  fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 8 }), { minLength: 1, maxLength: 4 }).map((t) => new Set(t)),
);
/** Attributes the app does not know yet; they must travel unchanged (numbers beyond 2^53 too). */
const RESERVED = new Set(['id', 'title', 'author', 'tags', 'updatedAt', 'heading', 'authorFirst', 'authorLast']);
const extras = fc.dictionary(
  fc.stringMatching(/^[a-z][A-Za-z0-9]{0,8}$/).filter((k) => !RESERVED.has(k)),
  fc.oneof(fc.string(), fc.boolean(), fc.integer(), fc.bigInt({ min: 2n ** 60n, max: 2n ** 90n }).map((n) => NumberValue.from(n.toString()))),
  { maxKeys: 3 },
);
const v1Note: fc.Arbitrary<Item> = fc
  .tuple(
    fc.record(
      {
        id: fc.string({ minLength: 1, maxLength: 20 }),
        title: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
        author,
        tags,
        updatedAt: fc.maxSafeNat(),
      },
      { requiredKeys: ['id', 'title', 'author', 'updatedAt'] },
    ),
    extras,
  )
  .map(([note, more]) => ({ ...more, ...note }));

describe('notes v2: title → heading, author → authorFirst + authorLast', () => {
  it('down(up(x)) is x for every valid v1 note, and both sides pass their schemas (property)', () => {
    fc.assert(
      fc.property(v1Note, (v1) => {
        // GIVEN a valid v1 note
        expect(noteV1Schema.safeParse(v1).success).toBe(true);
        // WHEN it is migrated up and back down
        const v2 = upOne(v1);
        const back = downOne(v2);
        // THEN the v2 item has v2's names only, and the round trip is exact
        expect(noteV2Schema.safeParse(v2).success).toBe(true);
        expect(v2).not.toHaveProperty('title');
        expect(v2).not.toHaveProperty('author');
        expect(`${v2.authorFirst} ${v2.authorLast}`.trimEnd()).toBe(v1.author);
        expect(noteV1Schema.safeParse(back).success).toBe(true);
        expect(back).toStrictEqual(v1);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['two words', 'Toni Morrison', 'Toni', 'Morrison'],
    ['several words: the rest goes to authorLast', 'Ursula K. Le Guin', 'Ursula', 'K. Le Guin'],
    ['one word: authorLast is empty', 'Hergé', 'Hergé', ''],
    ['non-Latin scripts and apostrophes', 'Ngũgĩ wa Thiong’o', 'Ngũgĩ', 'wa Thiong’o'],
    ['CJK', '村上 春樹', '村上', '春樹'],
    ['a hyphenated first name stays whole', 'Jean-Paul Sartre', 'Jean-Paul', 'Sartre'],
  ])('%s', (_name, v1Author, first, last) => {
    // GIVEN a v1 note by v1Author
    const v1 = { id: 'n1', title: 'A title', author: v1Author, tags: ['a', 'b'], updatedAt: 1_700_000_000_000 };
    // WHEN it is migrated up
    const v2 = upOne(v1);
    // THEN title is renamed, author split at its first space, the rest unchanged; down restores it
    expect(v2).toStrictEqual({ id: 'n1', heading: 'A title', authorFirst: first, authorLast: last, tags: ['a', 'b'], updatedAt: 1_700_000_000_000 });
    expect(downOne(v2)).toStrictEqual(v1);
  });

  it.each([
    ['a trailing space', 'Hergé '],
    ['a leading space', ' Hergé'],
    ['two spaces between words', 'Toni  Morrison'],
    ['a tab', 'Toni\tMorrison'],
    ['a no-break space', 'Toni\u00a0Morrison'],
    ['nothing', ''],
  ])('up refuses an author with %s (it would not come back exactly) instead of changing it', (_name, badAuthor) => {
    // GIVEN a v1 item the app would never have written: its author is not normalized
    const item = { id: 'n1', title: 'A title', author: badAuthor, updatedAt: 1 };
    // WHEN / THEN up throws (the engine dead-letters the item)
    expect(() => upOne(item)).toThrow(/not a v1 note/);
  });

  it('up refuses a v1 item that already carries a v2 attribute, down one that carries a v1 attribute', () => {
    expect(() => upOne({ id: 'n1', title: 't', author: 'A B', updatedAt: 1, heading: 'old' })).toThrow(/heading/);
    expect(() => downOne({ id: 'n1', heading: 't', authorFirst: 'A', authorLast: 'B', updatedAt: 1, author: 'old' })).toThrow(/author/);
  });

  it('down refuses a v2 item whose split is not one up could have made', () => {
    // "A B" + "C" would join to "A B C", which up splits as "A" + "B C": not the same item
    expect(() => downOne({ id: 'n1', heading: 't', authorFirst: 'A B', authorLast: 'C', updatedAt: 1 })).toThrow(/not a v2 note/);
    expect(() => downOne({ id: 'n1', heading: 't', authorFirst: 'A', authorLast: ' C', updatedAt: 1 })).toThrow(/not a v2 note/);
  });

  it('runs through the engine: a reversible chain, meta attributes ignored, a bad item a MIGRATION_THREW dead letter', () => {
    // GIVEN the migration registered as the config registers it
    const registry = new MigrationRegistry().register(notesV2SplitAuthor);
    const keyNames = { partitionKey: 'id' };
    const upChain = registry.chain('notes', 1, 2, { keyNames });
    const downChain = registry.chain('notes', 2, 1, { keyNames });
    expect(registry.chainIsReversible('notes', 1, 2)).toBe(true);
    // WHEN a stored v1 item (with the engine's meta attributes) goes up and back down
    const v1 = { id: 'n1', title: 'Dune', author: 'Frank Herbert', updatedAt: 5 };
    const [v2] = upChain.applySync({ ...v1, _ssOrigin: 'copy' })!;
    // THEN
    expect(v2).toStrictEqual({ id: 'n1', heading: 'Dune', authorFirst: 'Frank', authorLast: 'Herbert', updatedAt: 5 });
    expect(downChain.applySync({ ...v2, _ssOrigin: 'sync' })).toStrictEqual([v1]);
    expect(() => upChain.applySync({ id: 'n2', title: 'x', author: 'Frank  Herbert', updatedAt: 5 })).toThrow(
      expect.objectContaining({ code: 'MIGRATION_THREW', direction: 'up' }),
    );
  });
});
