import { describe, expect, it } from 'vitest';
import { ReleaseError } from '../../lib/errors';
import { CONFIG_INVALID, parseAppConfig } from '../../lib/manifest/app-config';
import { appConfig } from '../_helpers/catalog';
import { tables } from '../_helpers/catalog';

function userErrorOf(fn: () => unknown): ReleaseError {
  try {
    fn();
  } catch (err) {
    expect(ReleaseError.isUserError(err)).toBe(true);
    return err as ReleaseError;
  }
  throw new Error('expected a user error, nothing was thrown');
}

describe('parseAppConfig', () => {
  it('applies the defaults', () => {
    // GIVEN the smallest config / WHEN it is parsed
    const config = parseAppConfig({ app: 'catalog', zoneName: 'catalog.example.test' });
    // THEN record name, fleet, flip, rollback window, gc, gate, write drain and estimate settings take their defaults
    expect(config).toEqual({
      app: 'catalog',
      zoneName: 'catalog.example.test',
      recordName: 'www.catalog.example.test',
      instanceType: 't3.micro',
      desiredCapacity: 2,
      recordTtlSeconds: 5,
      rollbackWindowMinutes: 60,
      branchTtlHours: 72,
      lagGateMs: 1000,
      writeDrainMs: 1000,
      copyItemsPerSecond: 5000,
      streamRetentionHours: 24,
    });
  });

  it.each([
    ['an app name with capitals', { app: 'Catalog', zoneName: 'example.test' }, /app "Catalog"/],
    ['an app name of one letter', { app: 'c', zoneName: 'example.test' }, /app "c"/],
    ['a zone with a trailing dot', { app: 'catalog', zoneName: 'example.test.' }, /zoneName "example.test."/],
    ['a record outside the zone', { app: 'catalog', zoneName: 'example.test', recordName: 'www.other.test' }, /recordName "www.other.test" is not inside the zone/],
    ['a bad instance type', { app: 'catalog', zoneName: 'example.test', instanceType: 'micro' }, /instanceType "micro"/],
    ['a capacity of 0', { app: 'catalog', zoneName: 'example.test', desiredCapacity: 0 }, /desiredCapacity 0/],
    ['a bad AMI id', { app: 'catalog', zoneName: 'example.test', baseAmiId: 'ami-xyz' }, /baseAmiId "ami-xyz"/],
  ])('rejects %s with CONFIG_INVALID', (_what, input, message) => {
    // GIVEN a bad config / WHEN it is parsed
    const err = userErrorOf(() => parseAppConfig(input));
    // THEN one user error line naming the value
    expect(err.code).toBe(CONFIG_INVALID);
    expect(err.message).toMatch(message);
  });
});

describe('the example release files', () => {
  it('are valid', () => {
    // GIVEN release/app.ts and release/tables.ts (parsed when imported) / THEN
    expect(appConfig.app).toBe('catalog');
    expect(tables.tables.map((t) => t.name)).toEqual(['products', 'orders']);
  });
});
