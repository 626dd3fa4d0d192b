import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordingIoHost } from '../../lib/io';
import { ReleaseEngine } from '../../lib/release/engine';
import { definition } from '../_helpers/catalog';

describe('ReleaseEngine', () => {
  // The sync daemons run with the repository as their working directory: given a relative state
  // directory as it was, a daemon of `--repo elsewhere` looked for local AWS in the wrong place,
  // found none, and set out to install moto there (its verb waited a minute and failed).
  it('resolves a relative state directory from where the command runs, not from the repository', () => {
    // GIVEN a repository elsewhere WHEN the state directory is relative THEN it is absolute, from here
    const engine = new ReleaseEngine({ ioHost: new RecordingIoHost(), definition, repoDir: '/srv/repo', stateDir: 'state/local' });
    expect(engine.stateDir).toBe(path.resolve('state/local'));
    expect(engine.repoDir).toBe('/srv/repo');
  });

  it('defaults the state directory into the repository', () => {
    const saved = process.env.STACKSHIFT_LOCAL_STATE_DIR;
    delete process.env.STACKSHIFT_LOCAL_STATE_DIR;
    try {
      expect(new ReleaseEngine({ ioHost: new RecordingIoHost(), definition, repoDir: '/srv/repo' }).stateDir).toBe('/srv/repo/.stackshift/local');
    } finally {
      if (saved !== undefined) process.env.STACKSHIFT_LOCAL_STATE_DIR = saved;
    }
  });
});
