/**
 * A copy under live writes refuses a shared item whose sources it read on both sides of a write
 * (SHARED_CONFLICT); the forward sync applies that write afterwards. clearSettledDeadLetters then
 * clears the dead letter whose key the target holds as the source now migrates to, and keeps one
 * whose sources still disagree. Found by the demo on a machine 3× slower than this one's emulator:
 * the release failed its gates on one such dead letter.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateV1Products } from '../../../examples/catalog/data';
import { CopyJob } from '../../../lib/data/copy/copy-job';
import { clearSettledDeadLetters } from '../../../lib/data/settle-dead-letters';
import { TableSync } from '../../../lib/data/stream/table-sync';
import { createItemClient } from '../../../lib/item/numbers';
import { RecordingIoHost } from '../../../lib/io';
import { DeadLetters, type Ledger } from '../../../lib/ledger';
import { upChain, useLedger, verifyPair } from '../../_helpers/data-pair';
import { createTable, documentClient, PRODUCT_KEYS, putAll, uniqueName } from '../../_helpers/tables';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const ledgerTable = useLedger();
let ledger: Ledger;
beforeAll(() => {
  ledger = ledgerTable.ledger();
});

describe('copy dead letters the forward sync made moot', () => {
  it('clears a shared-item race once the sync carried the write, keeps a partition whose sources still disagree, and verify = 0 after', async () => {
    // GIVEN two products whose channel items disagree on the product's title, as a copy reads them
    // when a write lands between the channel items it reads
    const source = uniqueName('srcrace');
    const target = uniqueName('dstrace');
    const jobId = uniqueName('jobrace');
    await createTable(source, PRODUCT_KEYS, { stream: true });
    await createTable(target, PRODUCT_KEYS);
    const items = [...generateV1Products({ products: 2 })];
    await putAll(source, items);
    const doc = documentClient();
    const retitle = (pk: string, sk: string, title: string) =>
      doc.send(new UpdateCommand({ TableName: source, Key: { pk, sk }, UpdateExpression: 'SET title = :t', ExpressionAttributeValues: { ':t': title } }));
    const [raced, real] = [items[0]!.pk as string, items[3]!.pk as string];
    await retitle(raced, 'CHANNEL#GB', 'half-written title');
    await retitle(real, 'CHANNEL#GB', 'a title only GB has');
    const io = new RecordingIoHost();
    const copied = await new CopyJob({ ioHost: io, jobId, sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: upChain, ledger, totalSegments: 1 }).run();
    expect(copied.deadLetters).toBe(2);
    const clear = () =>
      clearSettledDeadLetters({
        client: createItemClient(new DynamoDBClient({})),
        ledger,
        jobId,
        sourceTable: source,
        targetTable: target,
        keyNames: PRODUCT_KEYS,
        chain: upChain,
        only: (d) => d.errorCode === 'SHARED_CONFLICT' && d.phase === 'copy',
      });

    // WHEN they are looked at before the sync ran: THEN neither target matches its source, both stay
    expect(await clear()).toEqual({ checked: 2, cleared: 0 });

    // WHEN the write completes on the raced product (every channel gets the new title), the sync applies it
    for (const sk of ['CHANNEL#US', 'CHANNEL#EU']) await retitle(raced, sk, 'half-written title');
    await new TableSync({ ioHost: io, syncId: `${jobId}#forward`, ledger, sourceTable: source, targetTable: target, keyNames: PRODUCT_KEYS, chain: upChain, copyJobId: jobId, pollIntervalMs: 50 }).run({ stopWhenCaughtUp: true });

    // THEN the raced dead letter is cleared and the real conflict stays
    // (the sync met the real conflict itself: its dead letter is the sync's now, holding the key)
    expect(await clear()).toEqual({ checked: 1, cleared: 1 });
    const left = await new DeadLetters(ledger, jobId).list();
    expect(left.map((d) => [(d.sourceKey as { pk: string }).pk, d.phase])).toEqual([[real, 'sync']]);
    expect(await verifyPair(io, ledger, { source, target, jobId })).toMatchObject({ differences: 0, deadLettered: 1 });
  });
});
