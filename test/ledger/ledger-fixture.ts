/**
 * A ledger table of its own per test file, in the DynamoDB Local the vitest globalSetup started.
 */
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLedgerClient, createLedgerTable, Ledger } from '../../lib/ledger';

export interface LedgerFixture {
  readonly tableName: string;
  /** A ledger on the fixture's table with the given clock. */
  ledger(clock?: () => number): Ledger;
  dispose(): Promise<void>;
}

export async function ledgerFixture(prefix: string): Promise<LedgerFixture> {
  const tableName = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const dynamodb = new DynamoDBClient({});
  const client = createLedgerClient(dynamodb);
  await createLedgerTable(client, tableName);
  return {
    tableName,
    ledger: (clock) => new Ledger({ tableName, client, clock }),
    dispose: async () => {
      await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
      dynamodb.destroy();
    },
  };
}

/** A clock tests move by hand: leases expire without sleeping. */
export class ManualClock {
  public constructor(public ms = Date.UTC(2030, 0, 1)) {}

  public readonly now = (): number => this.ms;

  public advance(ms: number): void {
    this.ms += ms;
  }
}
