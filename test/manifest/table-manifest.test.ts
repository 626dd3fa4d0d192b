import { describe, expect, it } from 'vitest';
import { ReleaseError } from '../../lib/errors';
import {
  MANIFEST_INVALID,
  parseTableManifest,
  physicalTableName,
  RELEASE_ID_INVALID,
  releaseId,
  releaseIdFromBranch,
  releaseIdFromSha,
  TABLE_NAME_INVALID,
  tablePascalName,
} from '../../lib/manifest/table-manifest';

/** Run `fn`, expect a user error, return it. */
function userErrorOf(fn: () => unknown): ReleaseError {
  try {
    fn();
  } catch (err) {
    expect(ReleaseError.isUserError(err)).toBe(true);
    return err as ReleaseError;
  }
  throw new Error('expected a user error, nothing was thrown');
}

const products = {
  name: 'products',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  stream: true,
  globalSecondaryIndexes: [{ indexName: 'bySku', partitionKey: { name: 'sku', type: 'S' } }],
};

describe('parseTableManifest', () => {
  it('accepts a valid manifest and keeps every field', () => {
    // GIVEN a manifest with a GSI, a stream, a TTL attribute and a version attribute
    const input = { tables: [{ ...products, timeToLiveAttribute: 'expiresAt', versionAttribute: 'rev' }] };
    // WHEN it is parsed
    const manifest = parseTableManifest(input);
    // THEN it comes back unchanged
    expect(manifest).toEqual(input);
  });

  it.each([
    ['an uppercase name', { tables: [{ ...products, name: 'Products' }] }, /tables\[0\]\.name "Products"/],
    ['a name with an underscore', { tables: [{ ...products, name: 'order_items' }] }, /"order_items"/],
    ['a bad key type', { tables: [{ ...products, partitionKey: { name: 'pk', type: 'X' } }] }, /partitionKey\.type "X"/],
    ['no tables', { tables: [] }, /at least one table/],
    ['an unknown field', { tables: [{ ...products, billing: 'PROVISIONED' }] }, /billing/],
    ['a duplicate table', { tables: [products, products] }, /tables\[1\]\.name "products" is declared twice/],
    ['names that clash in output ids', { tables: [{ ...products, name: 'a-1' }, { ...products, name: 'a1' }] }, /clashes with "a-1"/],
    [
      'a key attribute with two types',
      { tables: [{ ...products, globalSecondaryIndexes: [{ indexName: 'byPk', partitionKey: { name: 'pk', type: 'N' } }] }] },
      /conflicts with type 'S'/,
    ],
    ['a version attribute with a space', { tables: [{ ...products, versionAttribute: 'my rev' }] }, /versionAttribute "my rev"/],
    ['not an object', 'products', /expected object/],
  ])('rejects %s with MANIFEST_INVALID', (_what, input, message) => {
    // GIVEN an invalid manifest
    // WHEN it is parsed
    const err = userErrorOf(() => parseTableManifest(input));
    // THEN one user error line with the code, the bad value and the fix
    expect(err.code).toBe(MANIFEST_INVALID);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
    expect(err.fix).toMatch(/release\/tables\.ts/);
  });
});

describe('physicalTableName', () => {
  it('joins app, release id and logical name', () => {
    // GIVEN / WHEN / THEN
    expect(physicalTableName('catalog', 'sha-0123456789ab', 'products')).toBe('catalog-sha-0123456789ab-products');
  });

  it('rejects a name longer than 255 characters', () => {
    // GIVEN a logical name that makes the physical name 256 characters
    const logical = 'x'.repeat(256 - 'catalog-sha-0123456789ab-'.length);
    // WHEN the physical name is computed
    const err = userErrorOf(() => physicalTableName('catalog', 'sha-0123456789ab', logical));
    // THEN it is refused with the length
    expect(err.code).toBe(TABLE_NAME_INVALID);
    expect(err.message).toMatch(/256 characters/);
  });

  it('rejects characters DynamoDB does not allow', () => {
    // GIVEN an app name with a space
    // WHEN / THEN
    expect(userErrorOf(() => physicalTableName('my app', 'sha-0123456789ab', 'products')).code).toBe(TABLE_NAME_INVALID);
  });
});

describe('release ids', () => {
  it('takes the first 12 hex digits of a sha, lowercased', () => {
    // GIVEN a full uppercase sha / WHEN / THEN
    expect(releaseIdFromSha('0123456789ABCDEF0123456789abcdef01234567')).toBe('sha-0123456789ab');
    expect(releaseIdFromSha('abcdef1')).toBe('sha-abcdef1');
  });

  it.each(['abc123', 'xyz1234', '0123456789abcdef0123456789abcdef012345678', ''])('rejects sha %j', (sha) => {
    // GIVEN a value that is not 7..40 hex digits / WHEN
    const err = userErrorOf(() => releaseIdFromSha(sha));
    // THEN a user error naming the bad value
    expect(err.code).toBe(RELEASE_ID_INVALID);
    expect(err.message).toContain(`"${sha}"`);
  });

  it('slugs a branch', () => {
    // GIVEN branch names with slashes, dots, underscores and capitals / WHEN / THEN
    expect(releaseIdFromBranch('feature/New_Checkout.v2')).toBe('br-feature-new-checkout-v2');
    expect(releaseIdFromBranch('main')).toBe('br-main');
  });

  it.each([
    ['a space', 'my branch'],
    ['non-ascii', 'féature'],
    ['no letters or digits', '//--'],
    ['a slug over 40 characters', `feature/${'a'.repeat(40)}`],
  ])('rejects a branch with %s', (_what, branch) => {
    // GIVEN an unusable branch name / WHEN
    const err = userErrorOf(() => releaseIdFromBranch(branch));
    // THEN a user error naming it
    expect(err.code).toBe(RELEASE_ID_INVALID);
    expect(err.message).toContain(`"${branch}"`);
  });

  it('needs exactly one of sha and branch', () => {
    // GIVEN both, or neither / WHEN / THEN
    expect(userErrorOf(() => releaseId({ sha: 'abcdef1', branch: 'main' })).code).toBe(RELEASE_ID_INVALID);
    expect(userErrorOf(() => releaseId({})).code).toBe(RELEASE_ID_INVALID);
    expect(releaseId({ branch: 'main' })).toBe('br-main');
  });

  it('PascalCases logical names for construct ids', () => {
    // GIVEN / WHEN / THEN
    expect(tablePascalName('order-items')).toBe('OrderItems');
  });
});
