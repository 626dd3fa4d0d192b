/**
 * An in-memory DynamoDB stream behind a mocked DynamoDBStreamsClient (aws-sdk-client-mock), for
 * what DynamoDB Local cannot show: shards that split, children, trimmed parents, shards that
 * appear while the reader runs. DescribeStream pages 2 shards at a time. Shards hold generated
 * records, or given ones (split-stream.ts spreads a real table's records over split shards).
 */
import {
  DescribeStreamCommand,
  ListStreamsCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type DescribeStreamCommandInput,
  type ListStreamsCommandInput,
  type GetRecordsCommandInput,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-dynamodb-streams';
import { mockClient } from 'aws-sdk-client-mock';

export interface FakeShardSpec {
  readonly shardId: string;
  readonly parentShardId?: string;
  /** Records in the shard (generated). */
  readonly records: number;
  /** The shard's records as given, instead of generated ones. @default - `records` generated records */
  readonly wire?: readonly _Record[];
  /** Closed shards end: GetRecords at their end returns no NextShardIterator. @default false */
  readonly closed?: boolean;
  /** The DescribeStream round (1-based) from which the shard is listed. @default 1 */
  readonly listedFromRound?: number;
}

interface FakeShard extends FakeShardSpec {
  readonly wire: _Record[];
}

const PAGE = 2;

export class FakeStream {
  public readonly streamArn: string;
  public readonly client = new DynamoDBStreamsClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  /** DescribeStream rounds (a round is the calls of one paginated description). */
  public describeRounds = 0;
  /** Iterator requests: shard id and type. */
  public readonly iteratorRequests: Array<{ shardId: string; type: string }> = [];
  private readonly shards: FakeShard[] = [];
  private seq = 1000;

  /** GetRecords calls that returned records: shard and when. */
  public readonly reads: Array<{ shardId: string; at: number }> = [];

  public constructor(specs: readonly FakeShardSpec[], options: { readonly streamArn?: string } = {}) {
    this.streamArn = options.streamArn ?? 'arn:aws:dynamodb:us-east-1:123456789012:table/fake/stream/2030-01-01T00:00:00.000';
    for (const spec of specs) {
      if (spec.wire) {
        this.shards.push({ ...spec, wire: [...spec.wire] });
        continue;
      }
      const wire = Array.from({ length: spec.records }, (_, i) => this.generated(spec.shardId, i));
      this.shards.push({ ...spec, wire });
    }
    const mock = mockClient(this.client);
    // One stream, whichever table is asked for.
    mock.on(ListStreamsCommand).callsFake(async (input: ListStreamsCommandInput) => ({
      Streams: [{ StreamArn: this.streamArn, TableName: input.TableName, StreamLabel: this.streamArn.split('/stream/')[1] }],
    }));
    mock.on(DescribeStreamCommand).callsFake(async (input: DescribeStreamCommandInput) => this.describe(input));
    mock.on(GetShardIteratorCommand).callsFake(async (input: GetShardIteratorCommandInput) => this.iterator(input));
    mock.on(GetRecordsCommand).callsFake(async (input: GetRecordsCommandInput) => this.records(input));
  }

  /** Adds `n` generated records at the end of an open shard (keys continue the shard's numbering). */
  public append(shardId: string, n: number): void {
    const s = this.shard(shardId);
    for (let i = 0; i < n; i++) s.wire.push(this.generated(shardId, s.wire.length));
  }

  private generated(shardId: string, i: number): _Record {
    const sequenceNumber = String(++this.seq).padStart(21, '0');
    const key = { pk: { S: `${shardId}#${i}` }, sk: { S: 'x' } };
    return {
      eventName: 'INSERT',
      dynamodb: { ApproximateCreationDateTime: new Date(), SequenceNumber: sequenceNumber, Keys: key, NewImage: { ...key, i: { N: String(i) } } },
    };
  }

  /** The keys (`pk`) of a shard's records, in order. */
  public keysOf(shardId: string): string[] {
    return this.shard(shardId).wire.map((r) => r.dynamodb!.Keys!.pk!.S!);
  }

  private shard(shardId: string): FakeShard {
    const s = this.shards.find((x) => x.shardId === shardId);
    if (!s) throw Object.assign(new Error('Shard does not exist'), { name: 'ResourceNotFoundException' });
    return s;
  }

  private describe(input: DescribeStreamCommandInput) {
    if (!input.ExclusiveStartShardId) this.describeRounds++;
    const listed = this.shards.filter((s) => (s.listedFromRound ?? 1) <= this.describeRounds);
    const from = input.ExclusiveStartShardId ? listed.findIndex((s) => s.shardId === input.ExclusiveStartShardId) + 1 : 0;
    const page = listed.slice(from, from + PAGE);
    const more = from + PAGE < listed.length;
    return {
      StreamDescription: {
        StreamArn: this.streamArn,
        StreamStatus: 'ENABLED' as const,
        StreamViewType: 'NEW_AND_OLD_IMAGES' as const,
        Shards: page.map((s) => ({
          ShardId: s.shardId,
          ...(s.parentShardId ? { ParentShardId: s.parentShardId } : {}),
          SequenceNumberRange: { StartingSequenceNumber: s.wire[0]?.dynamodb?.SequenceNumber ?? '0' },
        })),
        ...(more ? { LastEvaluatedShardId: page[page.length - 1]!.shardId } : {}),
      },
    };
  }

  private iterator(input: GetShardIteratorCommandInput) {
    const s = this.shard(input.ShardId!);
    this.iteratorRequests.push({ shardId: s.shardId, type: input.ShardIteratorType! });
    const index =
      input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' ? s.wire.findIndex((r) => r.dynamodb!.SequenceNumber === input.SequenceNumber) + 1 : 0;
    return { ShardIterator: `${s.shardId}|${index}` };
  }

  private records(input: GetRecordsCommandInput) {
    const [shardId, at] = input.ShardIterator!.split('|');
    const s = this.shard(shardId!);
    const index = Number(at);
    const records = s.wire.slice(index, index + (input.Limit ?? 1000));
    if (records.length > 0) this.reads.push({ shardId: s.shardId, at: Date.now() });
    const next = index + records.length;
    const ended = s.closed === true && next >= s.wire.length;
    return { Records: records, ...(ended ? {} : { NextShardIterator: `${s.shardId}|${next}` }) };
  }
}
