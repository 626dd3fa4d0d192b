/**
 * Real calls to the shared emulators started by the vitest globalSetup, with clients configured
 * by the environment alone (test/_helpers/local-env.ts), as engine code will be.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { readLocalAwsState } from '../../lib/local';

const RUN = `${Date.now().toString(36)}-${process.pid}`;

describe('moto through AWS_ENDPOINT_URL', () => {
  it('creates and lists an S3 bucket', async () => {
    // GIVEN an S3 client configured by the environment only
    const s3 = new S3Client({});
    const bucket = `local-test-${RUN}`;

    // WHEN a bucket is created
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const list = await s3.send(new ListBucketsCommand({}));

    // THEN it is listed
    expect(list.Buckets?.map((b) => b.Name)).toContain(bucket);
  });

  it('deploys a stack from a template URL built on AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION', async () => {
    // GIVEN a template in a bucket, addressed as the CDK toolkit does
    const s3 = new S3Client({});
    const bucket = `local-tpl-${RUN}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const template = { Resources: { Topic: { Type: 'AWS::SNS::Topic' } } };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cdk/t.json', Body: JSON.stringify(template) }));
    const cfn = new CloudFormationClient({});
    const base = process.env.AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION!;

    // WHEN stacks are created from that URL and from the same URL on 127.0.0.1
    const stackName = `local-tpl-${RUN}`;
    await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateURL: `${base}/${bucket}/cdk/t.json` }));
    // Its outcome is taken at once: a rejection left unobserved while the next call runs is an unhandled one.
    const viaIp = cfn
      .send(new CreateStackCommand({ StackName: `${stackName}-ip`, TemplateURL: `${process.env.AWS_ENDPOINT_URL}/${bucket}/cdk/t.json` }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    // THEN moto finds the localhost one; it reads the IP one's host as a bucket name and fails
    const described = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    expect(described.Stacks?.[0]?.StackStatus).toBe('CREATE_COMPLETE');
    expect(await viaIp).toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('DynamoDB Local through AWS_ENDPOINT_URL_DYNAMODB(_STREAMS)', () => {
  it('writes to a stream-enabled table and reads the change from its stream', async () => {
    // GIVEN a table with a NEW_AND_OLD_IMAGES stream
    const ddb = new DynamoDBClient({});
    const TableName = `local-stream-${RUN}`;
    const created = await ddb.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName });

    try {
      // WHEN an item is put
      await ddb.send(new PutItemCommand({ TableName, Item: { pk: { S: 'a' }, v: { N: '1' } } }));
      const streams = new DynamoDBStreamsClient({});
      const stream = await streams.send(new DescribeStreamCommand({ StreamArn: created.TableDescription!.LatestStreamArn! }));
      const shards = stream.StreamDescription?.Shards ?? [];
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({ StreamArn: stream.StreamDescription!.StreamArn!, ShardId: shards[0].ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      const records = await streams.send(new GetRecordsCommand({ ShardIterator }));

      // THEN the stream has a shard holding the INSERT with its new image
      expect(shards.length).toBeGreaterThanOrEqual(1);
      expect(records.Records?.map((r) => [r.eventName, r.dynamodb?.NewImage?.pk?.S])).toEqual([['INSERT', 'a']]);

      // AND the table lives in DynamoDB Local, not in moto
      const inMoto = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL });
      expect((await inMoto.send(new ListTablesCommand({}))).TableNames).not.toContain(TableName);
      expect((await ddb.send(new ListTablesCommand({}))).TableNames).toContain(TableName);
    } finally {
      await ddb.send(new DeleteTableCommand({ TableName }));
    }
  });
});

describe('the shared emulators', () => {
  it('listen on 127.0.0.1 only', () => {
    // GIVEN the recorded ports
    const state = readLocalAwsState(inject('localStateDir'))!;
    const ports = [state.moto!.port, state.dynamodb!.port];

    // WHEN the kernel's listening TCP sockets on those ports are listed
    const listeners = listeningAddresses(ports);

    // THEN each port has listeners, all on 127.0.0.1
    for (const port of ports) {
      expect(listeners.filter((l) => l.port === port).length).toBeGreaterThan(0);
    }
    expect(listeners.every((l) => l.address === '127.0.0.1')).toBe(true);
  });
});

describe('DynamoDB Local as the launcher leaves it', () => {
  it('has its stream records indexed by stream and by shard', () => {
    // GIVEN the shared DynamoDB Local's log (tools/DynamoDbLocalLoopback.java writes to it)
    const log = fs.readFileSync(path.join(inject('localStateDir'), 'dynamodb.log'), 'utf8');

    // THEN the launcher added the indexes before it said it was listening (without them, every
    // write to a stream turned on late scans all older stream records: see the launcher)
    const indexed = log.indexOf('stream records indexed by stream and by shard');
    expect(indexed).toBeGreaterThanOrEqual(0);
    expect(log.indexOf('DynamoDbLocalLoopback: listening on')).toBeGreaterThan(indexed);
  });
});

/** LISTEN sockets on `ports` from /proc/net/tcp and tcp6 (addresses in IPv4 dotted form when IPv4 or v4-mapped). */
function listeningAddresses(ports: number[]): { address: string; port: number }[] {
  const out: { address: string; port: number }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [hex, portHex] = local.split(':');
      const port = parseInt(portHex, 16);
      if (state !== '0A' || !ports.includes(port)) continue;
      out.push({ address: decodeAddress(hex), port });
    }
  }
  return out;
}

function decodeAddress(hex: string): string {
  // IPv4 is one little-endian 32-bit word; IPv6 is four of them. A v4-mapped IPv6 address ends in ffff + the IPv4 word.
  const word = (h: string) => [6, 4, 2, 0].map((i) => parseInt(h.slice(i, i + 2), 16)).join('.');
  if (hex.length === 8) return word(hex);
  if (hex.startsWith('0000000000000000FFFF0000')) return word(hex.slice(24));
  return `[${hex}]`;
}
