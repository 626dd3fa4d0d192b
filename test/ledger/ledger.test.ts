import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, NumberValue, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerClient, createLedgerTable, Ledger } from '../../lib/ledger';
import { EdgeStack } from '../../stacks/edge-stack';
import { ledgerFixture, type LedgerFixture } from './ledger-fixture';

interface KeyElement {
  AttributeName?: string;
  KeyType?: string;
}

const byName = (a: { AttributeName?: string }, b: { AttributeName?: string }) => (a.AttributeName! < b.AttributeName! ? -1 : 1);

describe('createLedgerTable', () => {
  let fixture: LedgerFixture;
  const dynamodb = new DynamoDBClient({});

  beforeAll(async () => {
    // GIVEN a ledger table created for local use
    fixture = await ledgerFixture('ledger-table');
  });
  afterAll(async () => {
    await fixture.dispose();
    dynamodb.destroy();
  });

  it('creates the table as EdgeStack declares it', async () => {
    // GIVEN the ledger table EdgeStack synthesizes
    const edge = new EdgeStack(new cdk.App(), 'Edge', { app: 'probe', zoneName: 'probe.example.test' });
    const tables = Object.values(Template.fromStack(edge).findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(1);
    const declared = tables[0].Properties;

    // WHEN the local table is described
    const { Table: table } = await dynamodb.send(new DescribeTableCommand({ TableName: fixture.tableName }));
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: fixture.tableName }));

    // THEN keys, attribute types, billing, the GSI and TTL match the template
    expect(table?.KeySchema).toEqual(declared.KeySchema);
    expect([...(table?.AttributeDefinitions ?? [])].sort(byName)).toEqual([...declared.AttributeDefinitions].sort(byName));
    expect(table?.BillingModeSummary?.BillingMode).toBe(declared.BillingMode);
    const gsis = (table?.GlobalSecondaryIndexes ?? []).map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema?.map((k: KeyElement) => ({ AttributeName: k.AttributeName, KeyType: k.KeyType })),
      Projection: { ProjectionType: g.Projection?.ProjectionType },
    }));
    expect(gsis).toEqual(declared.GlobalSecondaryIndexes);
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(declared.TimeToLiveSpecification.AttributeName);
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });

  it('leaves an existing table as it is', async () => {
    // WHEN the table is created again
    const again = createLedgerTable(createLedgerClient(new DynamoDBClient({})), fixture.tableName);

    // THEN that succeeds
    await expect(again).resolves.toBeUndefined();
  });
});

describe('Ledger', () => {
  let fixture: LedgerFixture;

  beforeAll(async () => {
    fixture = await ledgerFixture('ledger-client');
  });
  afterAll(() => fixture.dispose());

  it('reads numbers back exactly, wrapping only those a JavaScript number cannot hold', async () => {
    // GIVEN a record with a safe integer, a decimal, and numbers beyond double precision
    const ledger = fixture.ledger();
    const Item = { pk: 'numbers', sk: 'x', small: 42, decimal: 0.5, big: NumberValue.from('123456789012345678901'), fine: NumberValue.from('0.12345678901234567890123') };
    await ledger.client.send(new PutCommand({ TableName: ledger.tableName, Item }));

    // WHEN it is read
    const out = await ledger.client.send(new GetCommand({ TableName: ledger.tableName, Key: { pk: 'numbers', sk: 'x' } }));

    // THEN safe numbers are numbers and the others keep every digit
    expect(out.Item?.small).toBe(42);
    expect(out.Item?.decimal).toBe(0.5);
    expect(out.Item?.big).toBeInstanceOf(NumberValue);
    expect(String(out.Item?.big)).toBe('123456789012345678901');
    expect(String(out.Item?.fine)).toBe('0.12345678901234567890123');
  });

  it('measures time with the injected clock', () => {
    // GIVEN a ledger with a fixed clock
    const ledger = new Ledger({ tableName: 't', clock: () => Date.UTC(2031, 1, 2) });

    // THEN both forms of now come from it
    expect(ledger.now()).toBe(Date.UTC(2031, 1, 2));
    expect(ledger.nowIso()).toBe('2031-02-02T00:00:00.000Z');
  });
});
