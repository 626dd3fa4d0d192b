import { describe, expect, it } from 'vitest';
import { isPromotable, phaseOf } from '../../lib/release/phase';
import type { Checkpoints, ReleaseRecord } from '../../lib/ledger/release-records';

function record(checkpoints: Checkpoints, verb: ReleaseRecord['intent']['verb'] = 'release', steps: Record<string, { startedAt: string }> = { 'release:tag': { startedAt: 't' } }): ReleaseRecord {
  return {
    releaseId: 'sha-0123456789ab',
    app: 'catalog',
    sha: '0123456789ab'.padEnd(40, '0'),
    dataVersions: { products: 2 },
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'me@host',
    intent: { verb, by: 'me@host', at: '2026-01-01T00:00:00.000Z' },
    checkpoints,
    steps,
    version: 1,
  };
}
const none = { live: null, previous: null };
const liveIsMe = { live: 'sha-0123456789ab', previous: 'sha-old' };

describe('phaseOf: a pure function of the record and the app state', () => {
  it.each([
    ['Created', record({}, 'release', {}), none],
    ['InProgress', record({ ami: { amiId: 'ami-1', reused: false } }), none],
    ['Failed', record({ failed: { step: 'copy', code: 'X', message: 'm', at: 't' } }), none],
    ['Ready', record({ readyAt: 't' }), none],
    ['Promoting', record({ readyAt: 't' }, 'promote'), none],
    ['Live', record({ readyAt: 't', promoted: { at: '2026-01-02', previousReleaseId: 'sha-old', steps: [100] } }, 'promote'), liveIsMe],
    ['RolledBack', record({ readyAt: 't', promoted: { at: '2026-01-02', previousReleaseId: 'sha-old', steps: [100] }, rolledBackAt: '2026-01-03' }, 'rollback'), { live: 'sha-old', previous: 'sha-0123456789ab' }],
    ['Previous', record({ readyAt: 't', promoted: { at: '2026-01-02', previousReleaseId: null, steps: [100] } }, 'promote'), { live: 'sha-new', previous: 'sha-0123456789ab' }],
    ['TornDown', record({ tornDown: { at: 't', backups: [] } }, 'teardown'), none],
  ] as const)('%s', (phase, r, app) => {
    expect(phaseOf(r, app)).toBe(phase);
  });

  it('allows promote from Ready and RolledBack only (and resuming a Promoting one)', () => {
    expect(['Ready', 'RolledBack', 'Promoting'].every((p) => isPromotable(p as never))).toBe(true);
    expect(['Created', 'InProgress', 'Failed', 'Live', 'Previous', 'TornDown'].some((p) => isPromotable(p as never))).toBe(false);
  });
});
