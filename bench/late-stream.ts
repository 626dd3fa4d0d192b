/**
 * npm run bench:late-stream -- [--older N] [--writes N] [--json]
 *
 * What a write costs on a table whose stream was turned on after N records went into another
 * stream: a release's tables get their streams at promote, long after production's stream began.
 * Two DynamoDB Locals, one after the other, each fresh:
 *   baseline   as DynamoDB Local ships (its stream records indexed by sequence number only)
 *   indexed    as tools/DynamoDbLocalLoopback.java leaves it (also by stream and by shard)
 * In each: a table `early` with a stream gets N items (N stream records), then a table `late` gets
 * its stream, then --writes puts one after the other, and --writes/3 transactions of 3 items, on
 * `late` and, as a control, on `early`. Reported: mean ms per call, and baseline ÷ indexed.
 * The last line is one JSON object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, UpdateTableCommand, waitUntilTableExists, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { Command, Option } from 'commander';
import { BatchWriter } from '../lib/data/write/batch-writer';
import { silentIoHost } from '../lib/io';
import { defaultStateDir, localAwsEnv, startLocalAws, stopLocalAws } from '../lib/local';
import { writeAll } from './write-all';

const opts = new Command('bench:late-stream')
  .addOption(new Option('--older <n>', 'stream records written before the late stream is turned on').argParser(Number).default(30_000))
  .addOption(new Option('--writes <n>', 'puts timed per table (and a third as many 3-item transactions)').argParser(Number).default(300))
  .option('--json', 'JSON lines progress on stderr')
  .parse()
  .opts<{ older: number; writes: number; json?: boolean }>();

const log = (msg: string) => process.stderr.write(`${opts.json ? JSON.stringify({ bench: msg }) : `[bench] ${msg}`}\n`);

interface Costs {
  /** Mean ms per PutItem. */
  readonly putMs: number;
  /** Mean ms per TransactWriteItems of 3 puts. */
  readonly txnMs: number;
}

interface VariantResult {
  readonly late: Costs;
  readonly early: Costs;
}

const KEY = {
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
  BillingMode: 'PAY_PER_REQUEST',
} satisfies Omit<CreateTableCommandInput, 'TableName'>;
const STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

async function variant(streamRecordIndexes: boolean): Promise<VariantResult> {
  const stateDir = mkdtempSync(join(defaultStateDir(), 'bench-late-stream-'));
  const { state } = await startLocalAws({ ioHost: silentIoHost, stateDir, streamRecordIndexes });
  const env = localAwsEnv(state);
  const ddb = new DynamoDBClient({ endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, region: env.AWS_REGION, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
  const doc = DynamoDBDocumentClient.from(ddb);
  try {
    await ddb.send(new CreateTableCommand({ TableName: 'early', ...KEY, StreamSpecification: STREAM }));
    await ddb.send(new CreateTableCommand({ TableName: 'late', ...KEY }));
    await waitUntilTableExists({ client: ddb, maxWaitTime: 60 }, { TableName: 'late' });
    await writeAll(new BatchWriter({ client: doc, concurrency: 8 }), 'early', olderItems(opts.older), { partitionKey: 'pk', sortKey: 'sk' });
    await ddb.send(new UpdateTableCommand({ TableName: 'late', StreamSpecification: STREAM }));
    return { late: await costs(doc, 'late'), early: await costs(doc, 'early') };
  } finally {
    ddb.destroy();
    await stopLocalAws({ ioHost: silentIoHost, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function* olderItems(n: number): Generator<Record<string, unknown>> {
  for (let i = 0; i < n; i++) yield { pk: `older-${i}`, sk: 'x', payload: 'p'.repeat(200) };
}

async function costs(doc: DynamoDBDocumentClient, table: string): Promise<Costs> {
  const puts = opts.writes;
  let t0 = performance.now();
  for (let i = 0; i < puts; i++) await doc.send(new PutCommand({ TableName: table, Item: { pk: `put-${i % 50}`, sk: 'x', n: i } }));
  const putMs = (performance.now() - t0) / puts;
  const txns = Math.max(1, Math.round(puts / 3));
  t0 = performance.now();
  for (let i = 0; i < txns; i++) {
    await doc.send(new TransactWriteCommand({ TransactItems: ['a', 'b', 'c'].map((sk) => ({ Put: { TableName: table, Item: { pk: `txn-${i % 20}`, sk, n: i } } })) }));
  }
  const txnMs = (performance.now() - t0) / txns;
  return { putMs: round(putMs), txnMs: round(txnMs) };
}

const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  log(`baseline: DynamoDB Local as shipped, ${opts.older} older stream records`);
  const baseline = await variant(false);
  log(`baseline: late ${JSON.stringify(baseline.late)}, early ${JSON.stringify(baseline.early)}`);
  log('indexed: stream records indexed by stream and shard');
  const indexed = await variant(true);
  log(`indexed: late ${JSON.stringify(indexed.late)}, early ${JSON.stringify(indexed.early)}`);
  const result = {
    olderRecords: opts.older,
    writes: opts.writes,
    baseline,
    indexed,
    // How many times slower the baseline is, on the late stream (the promote's case) and the control.
    ratio: {
      latePut: round(baseline.late.putMs / indexed.late.putMs),
      lateTxn: round(baseline.late.txnMs / indexed.late.txnMs),
      earlyPut: round(baseline.early.putMs / indexed.early.putMs),
      earlyTxn: round(baseline.early.txnMs / indexed.early.txnMs),
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
