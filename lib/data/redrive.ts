import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DATA_IO, type IoHost } from '../io';
import { DeadLetters, type DeadLetter, type Ledger } from '../ledger';
import { migratePage } from './copy/page-migrator';
import { PageWriter } from './copy/page-writer';
import type { Item, KeyNames } from '../item/item';
import type { MigrationChain } from './migrations/chain';
import { createMigrationContext } from './migrations/context';
import { BatchWriter } from './write/batch-writer';
import { SharedItemWriter } from './write/shared-writer';
import { createItemClient } from '../item/numbers';

export interface RedriveProps {
  readonly ioHost: IoHost;
  readonly jobId: string;
  readonly ledger: Ledger;
  readonly sourceTable: string;
  readonly targetTable: string;
  readonly keyNames: KeyNames;
  readonly chain: MigrationChain;
  /** @default - a client from the environment's configuration */
  readonly dynamodb?: DynamoDBClient;
}

export interface RedriveResult {
  readonly retried: number;
  /** Migrated and written: the dead letter is gone. */
  readonly fixed: number;
  /** Failed again: the dead letter stays, with the new error. */
  readonly stillFailing: number;
  /** The source item no longer exists: nothing to copy, the dead letter is gone. */
  readonly sourceGone: number;
}

/**
 * Re-drives dead letters: re-reads the CURRENT source item (consistent read — the stored image may
 * be stale, and the fix is often a change to the source data), migrates and writes it through the
 * same path as the copy. A dead letter is removed only once its item is written or its source is gone.
 */
export async function redriveDeadLetters(props: RedriveProps): Promise<RedriveResult> {
  const doc = createItemClient(props.dynamodb ?? new DynamoDBClient({}));
  await props.ledger.assertExists();
  const deadLetters = new DeadLetters(props.ledger, props.jobId);
  const writer = new PageWriter({
    client: doc,
    targetTable: props.targetTable,
    targetKeys: props.keyNames,
    sourceKeys: props.keyNames,
    chain: props.chain,
    batchWriter: new BatchWriter({ client: doc }),
    sharedWriter: new SharedItemWriter({ client: doc }),
  });
  const ctx = createMigrationContext({ client: doc, tableName: props.sourceTable, keyNames: props.keyNames });
  const result = { retried: 0, fixed: 0, stillFailing: 0, sourceGone: 0 };

  // A dead letter of the stream sync holds its key (change-applier.ts, RULE 8): removing it resumes
  // the key. It is removed only if nothing was held behind it since it was read (occurrences
  // unchanged); otherwise the source item is read and written again, up to 3 times.
  for (const first of await deadLetters.list()) {
    result.retried++;
    let dl: DeadLetter | undefined = first;
    for (let attempt = 0; dl; attempt++) {
      const current = (await doc.send(new GetCommand({ TableName: props.sourceTable, Key: dl.sourceKey as Item, ConsistentRead: true }))).Item;
      if (!current) {
        if (await deadLetters.removeIfUnchanged(dl.keyString, dl.occurrences)) {
          result.sourceGone++;
          break;
        }
      } else {
        const migrated = await migratePage([current], props.chain, ctx, props.keyNames);
        const written = await writer.write(migrated);
        const failure = [...migrated.failures, ...written.failures][0];
        if (failure) {
          await deadLetters.put({ sourceKey: dl.sourceKey, keyString: dl.keyString, error: failure.error, errorCode: failure.code, image: current, phase: 'redrive' });
          result.stillFailing++;
          break;
        }
        if (await deadLetters.removeIfUnchanged(dl.keyString, dl.occurrences)) {
          result.fixed++;
          break;
        }
      }
      dl = await deadLetters.get(first.keyString);
      if (!dl) {
        result.fixed++; // removed by someone else meanwhile
        break;
      }
      if (attempt >= 2) {
        result.stillFailing++; // a busy key: records keep arriving behind it; run redrive again
        break;
      }
    }
  }
  DATA_IO.REDRIVE_I4000.emit(
    props.ioHost,
    `redrive: ${result.fixed} fixed, ${result.stillFailing} still failing, ${result.sourceGone} source gone (of ${result.retried})`,
    result,
  );
  return result;
}
