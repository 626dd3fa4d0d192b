/**
 * A stream-enabled source table and a ledger of its own per test file, in DynamoDB Local, and an
 * apply callback that records what it was given. Tables stay small: fast, and DynamoDB Local as
 * shipped gets slow with big streams (the launcher indexes stream records: README, "Local AWS").
 */
import { DeleteTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { StreamRecord, StreamRecordBatch } from '../../../lib/data/stream/stream-records';
import { ShardCheckpoints } from '../../../lib/ledger';
import { createTable, documentClient, PRODUCT_KEYS, uniqueName } from '../../_helpers/tables';
import { ledgerFixture, type LedgerFixture } from '../../ledger/ledger-fixture';

export interface StreamFixture {
  readonly ledger: LedgerFixture;
  readonly dynamodb: DynamoDBClient;
  readonly doc: ReturnType<typeof documentClient>;
  /** A new stream table: its name and stream ARN. */
  table(prefix: string): Promise<{ tableName: string; streamArn: string }>;
  /** Checkpoints of a sync (a new sync id unless one is given). */
  checkpoints(syncId?: string): ShardCheckpoints;
  /** A streams client of its own (middleware added to it stays on it). */
  streamsClient(): DynamoDBStreamsClient;
  dispose(): Promise<void>;
}

let syncCounter = 0;

export async function streamFixture(prefix: string): Promise<StreamFixture> {
  const ledger = await ledgerFixture(`${prefix}-ledger`);
  const dynamodb = new DynamoDBClient({});
  const doc = documentClient();
  const tables: string[] = [];
  const clients: DynamoDBStreamsClient[] = [];
  return {
    ledger,
    dynamodb,
    doc,
    async table(p) {
      const tableName = uniqueName(`${prefix}-${p}`);
      await createTable(tableName, PRODUCT_KEYS, { stream: true, client: dynamodb });
      tables.push(tableName);
      const out = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
      return { tableName, streamArn: out.Table!.LatestStreamArn! };
    },
    checkpoints: (syncId) => new ShardCheckpoints(ledger.ledger(), syncId ?? `sync-${++syncCounter}-${Date.now()}`),
    streamsClient() {
      const c = new DynamoDBStreamsClient({});
      clients.push(c);
      return c;
    },
    async dispose() {
      for (const t of tables) await dynamodb.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined);
      for (const c of clients) c.destroy();
      await ledger.dispose();
      dynamodb.destroy();
    },
  };
}

/** An apply that keeps every batch; optionally fails on the n-th call (1-based). */
export class Collector {
  public readonly batches: StreamRecordBatch[] = [];
  private calls = 0;

  public constructor(private readonly options: { failOnCall?: number; onBatch?: (b: StreamRecordBatch) => void } = {}) {}

  public readonly apply = async (batch: StreamRecordBatch): Promise<void> => {
    this.calls++;
    if (this.calls === this.options.failOnCall) throw new Error(`apply failed on call ${this.calls}`);
    this.options.onBatch?.(batch);
    this.batches.push(batch);
  };

  public get records(): StreamRecord[] {
    return this.batches.flatMap((b) => b.records);
  }
}
