/**
 * The notes app's stackshift config, as it sits at the root of the repository that adopts the app:
 * this file at `<repo>/stackshift.config.ts` and the rest of examples/notes/ in `<repo>/app/`
 * (test/integ/adopt-from-tarball.test.ts lays it out so). Its `./app/...` imports resolve only
 * there, so this repository's tsconfig leaves the file out.
 */
import { defineConfig } from 'stackshift';
import { checks } from './app/checks';
import { notesV2SplitAuthor } from './app/migrations/notes-v2-split-author';

export default defineConfig({
  app: 'notes',
  zoneName: 'notes.example.test',
  appDir: 'app',
  appEntry: 'server.mjs',
  tables: [
    {
      // v1 { id, title, author, tags?, updatedAt }; v2 renames title and splits author (the migration).
      name: 'notes',
      partitionKey: { name: 'id', type: 'S' },
      // NEW_AND_OLD_IMAGES: the forward and reverse syncs read full images
      stream: true,
    },
  ],
  migrations: [notesV2SplitAuthor],
  checks,
});
