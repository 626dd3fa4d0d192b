/**
 * The ledger: one DynamoDB table per app (EdgeStack's `${app}-ledger`) that holds what a crash must
 * not lose — release records, copy jobs and their segment leases, dead letters.
 *
 * Key layout: every kind of record and its key are in keys.ts. `pk` groups the records of one thing,
 * `sk` names a record inside it. The sparse GSI `byKind` (`kind` + `sortAt`) lists records of one
 * kind across the table, newest last; only records worth listing that way set `kind`.
 * `expiresAt` is the table's TTL attribute (epoch SECONDS): DynamoDB deletes a record some time
 * after it. Lease expiries are never stored there — a lease that expires must leave its record.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, NumberValue, type TranslateConfig } from '@aws-sdk/lib-dynamodb';
import { userError } from '../errors';
import { guardSpecialNames } from '../item/special-names';
import { PROBE_KEY } from './keys';

/** Attribute and index names of the ledger table, as EdgeStack declares them. */
export const LEDGER_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  byKindIndex: 'byKind',
  kindAttribute: 'kind',
  sortAtAttribute: 'sortAt',
} as const;

/**
 * How the ledger converts items. Numbers come back as JavaScript numbers when that is exact and as
 * `NumberValue` otherwise: a stored cursor or dead-letter image with a 20-digit key reads back
 * unchanged instead of throwing or losing digits. Undefined fields are dropped on write.
 */
export const LEDGER_TRANSLATE_CONFIG: TranslateConfig = {
  // allowImpreciseNumbers lets a stored image's number set mix plain numbers and NumberValues (the
  // marshaller then writes each NumberValue's text); the ledger's own numbers are all safe integers.
  marshallOptions: { removeUndefinedValues: true, allowImpreciseNumbers: true },
  unmarshallOptions: { wrapNumbers: exactNumber },
};

function exactNumber(text: string): number | NumberValue {
  const n = Number(text);
  if (Number.isSafeInteger(n)) return n;
  if (!Number.isInteger(n) && Number.isFinite(n) && String(n) === text) return n;
  return NumberValue.from(text);
}

/**
 * A document client configured for the ledger (see LEDGER_TRANSLATE_CONFIG).
 *
 * Pass a DynamoDBClient of its own: DynamoDBDocumentClient.from writes its translate options into
 * the shared client config, so a base client must not be shared with another document client.
 */
export function createLedgerClient(dynamodb: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  // dead letters hold whole items: `__proto__` and `constructor` among their attributes must survive the SDK
  return DynamoDBDocumentClient.from(guardSpecialNames(dynamodb), LEDGER_TRANSLATE_CONFIG);
}

export interface LedgerProps {
  /** The ledger table's name, e.g. `ledgerTableName(app)`. */
  readonly tableName: string;
  /**
   * The client every ledger call goes through. Build it with `createLedgerClient` so that large
   * numbers read back exactly. @default - createLedgerClient() on the environment's configuration
   */
  readonly client?: DynamoDBDocumentClient;
  /** Current time in epoch milliseconds: lease expiries and timestamps. @default Date.now */
  readonly clock?: () => number;
}

/** A handle on one ledger table: its name, its client and the clock all leases are measured by. */
export class Ledger {
  public readonly tableName: string;
  public readonly client: DynamoDBDocumentClient;
  private readonly clock: () => number;

  public constructor(props: LedgerProps) {
    this.tableName = props.tableName;
    this.client = props.client ?? createLedgerClient();
    this.clock = props.clock ?? Date.now;
  }

  /** Now, in epoch milliseconds. */
  public now(): number {
    return this.clock();
  }

  /** Now, as an ISO 8601 string: the form of timestamps meant for people and for `sortAt`. */
  public nowIso(): string {
    return new Date(this.clock()).toISOString();
  }

  /**
   * Checks that the ledger table exists (one consistent GetItem of a key nothing uses): a missing
   * ledger is one LEDGER_MISSING user error line with the fix, before anything is written.
   */
  public async assertExists(): Promise<void> {
    try {
      await this.client.send(new GetCommand({ TableName: this.tableName, Key: PROBE_KEY }));
    } catch (err) {
      if (err instanceof ResourceNotFoundException) {
        throw userError(LEDGER_MISSING, `ledger table "${this.tableName}" does not exist`, {
          fix: "deploy the app's EdgeStack first (it creates the ledger table), or check the region and endpoint (AWS_ENDPOINT_URL_DYNAMODB)",
        });
      }
      throw err;
    }
  }
}

/** The ledger table does not exist. */
export const LEDGER_MISSING = 'LEDGER_MISSING';

export interface CreateLedgerTableOptions {
  /** Longest wait for the table to become ACTIVE, in seconds. @default 60 */
  readonly maxWaitSeconds?: number;
}

/**
 * Creates a ledger table as EdgeStack declares it (on-demand, `pk`/`sk` strings, the `byKind` GSI
 * projecting everything, TTL on `expiresAt`) and waits until it is ACTIVE; an existing table is
 * left as it is. For tests and local use: in an AWS account the table comes from EdgeStack.
 * Point-in-time recovery is not set: it protects production data, not a local table.
 */
export async function createLedgerTable(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: CreateLedgerTableOptions = {},
): Promise<void> {
  const { partitionKey, sortKey, byKindIndex, kindAttribute, sortAtAttribute, ttlAttribute } = LEDGER_SCHEMA;
  let created = true;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: partitionKey, AttributeType: 'S' },
          { AttributeName: sortKey, AttributeType: 'S' },
          { AttributeName: kindAttribute, AttributeType: 'S' },
          { AttributeName: sortAtAttribute, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: byKindIndex,
            KeySchema: [
              { AttributeName: kindAttribute, KeyType: 'HASH' },
              { AttributeName: sortAtAttribute, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    created = false;
  }
  // The document client shares its base client's middleware: the waiter's DescribeTable works on it.
  await waitUntilTableExists({ client: client as unknown as DynamoDBClient, maxWaitTime: options.maxWaitSeconds ?? 60 }, { TableName: tableName });
  if (created) {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: ttlAttribute } }),
    );
  }
}
