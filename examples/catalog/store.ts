/**
 * Where the catalog keeps products. One implementation per data version of the products table;
 * the HTTP layer (app.ts) does not know which one it talks to.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Product, ProductBody } from './product';

/** A product as stored, and whether all of its last write has landed (see `revsAgree`). */
export interface StoredProduct {
  readonly product: Product;
  /** False while a sync is still applying the product's last write item by item. */
  readonly settled: boolean;
}

export interface ProductStore {
  /** The data version of the products table this store reads and writes. */
  readonly dataVersion: number;
  /** The product as the last acknowledged write left it (strongly consistent), or undefined. */
  get(id: string): Promise<Product | undefined>;
  /** `get`, with whether the product is settled (the HTTP layer's preconditions need it). */
  read(id: string): Promise<StoredProduct | undefined>;
  /** Replaces the product, all its channels in one transaction; channels not in `body` are removed. */
  put(id: string, body: ProductBody): Promise<void>;
  /** Removes every item of the product in one transaction; removing a missing product is fine. */
  delete(id: string): Promise<void>;
}

export interface DynamoProductStoreProps {
  readonly tableName: string;
  /** @default a client configured from the environment (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...) */
  readonly client?: DynamoDBDocumentClient;
}

/** What both storage versions share: the table, the client, and reading one product's partition. */
export abstract class DynamoProductStore {
  protected readonly table: string;
  protected readonly client: DynamoDBDocumentClient;

  protected constructor(props: DynamoProductStoreProps) {
    this.table = props.tableName;
    this.client = props.client ?? defaultDocumentClient();
  }

  public abstract read(id: string): Promise<StoredProduct | undefined>;

  public async get(id: string): Promise<Product | undefined> {
    return (await this.read(id))?.product;
  }

  /** The items of a product's partition (with a sort-key prefix), strongly consistent. */
  protected async partition(pk: string, skPrefix?: string): Promise<Record<string, unknown>[]> {
    // A product's partition holds at most four small items: one page, no paginator needed.
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
        ExpressionAttributeValues: skPrefix ? { ':pk': pk, ':prefix': skPrefix } : { ':pk': pk },
        ConsistentRead: true,
      }),
    );
    return out.Items ?? [];
  }
}

export function defaultDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}

/** How many times a transaction cancelled by a conflicting transaction is tried in all. */
const TRANSACTION_ATTEMPTS = 4;

/**
 * Runs a transaction again when DynamoDB cancelled it only because another transaction (or a sync
 * write) held one of its items: that is not the client's fault and must not become a 500.
 */
export async function withTransactionRetry<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= TRANSACTION_ATTEMPTS || !isConflictOnly(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
    }
  }
}

function isConflictOnly(err: unknown): boolean {
  const e = err as { name?: string; CancellationReasons?: Array<{ Code?: string }> };
  if (e?.name === 'TransactionConflictException') return true;
  if (e?.name !== 'TransactionCanceledException') return false;
  const codes = (e.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  return codes.includes('TransactionConflict') && codes.every((c) => c === 'None' || c === 'TransactionConflict');
}
