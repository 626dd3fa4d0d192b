import { ListResourceRecordSetsCommand, Route53Client, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalName, listRecordSetsOf, paginateRecordSetsOf } from '../../lib/dns/record-sets';
import { ReleaseError } from '../../lib/errors';

const weighted = (name: string, id: string): ResourceRecordSet => ({
  Name: name,
  Type: 'CNAME',
  SetIdentifier: id,
  Weight: 1,
  TTL: 5,
  ResourceRecords: [{ Value: `${id}.elb.test` }],
});

// moto ignores StartRecordIdentifier, so Route 53's cursor inside one name's weighted record sets
// (name + type + identifier) can only be exercised with a scripted client.
describe('paginateRecordSetsOf (scripted Route 53 pages)', () => {
  const client = new Route53Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const r53 = mockClient(client);
  afterEach(() => r53.reset());

  it('GIVEN a page boundary inside the weighted sets of the name THEN it follows the three-field cursor and stops at the next name', async () => {
    r53
      .on(ListResourceRecordSetsCommand, { StartRecordName: 'www.z.test.', StartRecordIdentifier: undefined })
      .resolves({
        ResourceRecordSets: [weighted('www.z.test.', 'a'), weighted('www.z.test.', 'b')],
        IsTruncated: true,
        NextRecordName: 'www.z.test.',
        NextRecordType: 'CNAME',
        NextRecordIdentifier: 'c',
        MaxItems: 2,
      })
      .on(ListResourceRecordSetsCommand, { StartRecordName: 'www.z.test.', StartRecordType: 'CNAME', StartRecordIdentifier: 'c' })
      .resolves({
        ResourceRecordSets: [weighted('www.z.test.', 'c'), weighted('xyz.www.z.test.', 'other')],
        IsTruncated: true,
        NextRecordName: 'xyz.www.z.test.',
        NextRecordType: 'CNAME',
        MaxItems: 2,
      });

    const sets = await listRecordSetsOf(client, { hostedZoneId: 'Z', recordName: 'WWW.z.test', pageSize: 2 });

    expect(sets.map((s) => s.SetIdentifier)).toEqual(['a', 'b', 'c']);
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(2);
  });

  it('GIVEN a listing whose cursor does not move THEN it stops with ROUTE_LIST_STUCK instead of looping', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [weighted('www.z.test.', 'a')],
      IsTruncated: true,
      NextRecordName: 'www.z.test.',
      NextRecordType: 'CNAME',
      MaxItems: 1,
    });

    const pages: ResourceRecordSet[][] = [];
    const err = await (async () => {
      for await (const page of paginateRecordSetsOf(client, { hostedZoneId: 'Z', recordName: 'www.z.test', pageSize: 1 })) pages.push(page);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(ReleaseError.isReleaseError(err) && err.code).toBe('ROUTE_LIST_STUCK');
    expect(pages.length).toBeLessThanOrEqual(3);
  });
});

describe('canonicalName', () => {
  it('lowercases, adds the trailing dot and unescapes Route 53 octal escapes', () => {
    expect(canonicalName('WWW.Example.test')).toBe('www.example.test.');
    expect(canonicalName('www.example.test.')).toBe('www.example.test.');
    expect(canonicalName('\\052.example.test.')).toBe('*.example.test.');
  });
});
