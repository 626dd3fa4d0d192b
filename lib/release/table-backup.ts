/**
 * The backup a teardown takes of each table: an on-demand DynamoDB backup. Where the endpoint has
 * no backups (DynamoDB Local answers CreateBackup with an unknown-operation error) the table is
 * exported instead to a JSON-lines file in the state directory, one DynamoDB-JSON item per line,
 * so a teardown never deletes data that exists nowhere else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBackupCommand, ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createItemClient } from '../item/numbers';
import { toWireNames } from '../item/special-names';
import { scanInSegments, scanSegmentsFor } from '../data/scan-segments';
import { describeTable } from '../data/table-info';
import { messageOf } from '../errors';
import type { ReleaseEngine } from './engine';
import { RELEASE_IO } from './messages';

/** Returns the backup's ARN or the export file's path; undefined if the table does not exist. */
export async function backupTable(engine: ReleaseEngine, table: string, backupName: string): Promise<string | undefined> {
  try {
    const out = await engine.dynamodb.send(new CreateBackupCommand({ TableName: table, BackupName: backupName }));
    const arn = out.BackupDetails?.BackupArn ?? backupName;
    RELEASE_IO.RELEASE_I3115.emit(engine.io, `backup of ${table}: ${arn}`, { table, backupArn: arn });
    return arn;
  } catch (e) {
    if (e instanceof ResourceNotFoundException || /not found|non-existent/i.test(messageOf(e))) return undefined;
    if (!isUnsupported(e)) throw e;
    const file = await exportTable({ dynamodb: engine.dynamodb, tableName: table, dir: path.join(engine.stateDir, 'backups'), at: engine.nowIso() });
    RELEASE_IO.RELEASE_I3116.emit(engine.io, `backup of ${table}: exported to ${file}`, { table, file, reason: messageOf(e) });
    return file;
  }
}

function isUnsupported(e: unknown): boolean {
  const name = (e as { name?: string }).name ?? '';
  return /UnknownOperation|NotImplemented|UnsupportedOperation/i.test(name) || /not (yet )?(supported|implemented)|unknown operation/i.test(messageOf(e));
}

export interface ExportTableProps {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** Folder of the export file, created if missing. */
  readonly dir: string;
  /** ISO time in the file's name. */
  readonly at: string;
}

/**
 * Every item of a table as one DynamoDB-JSON line, scanned consistently; written to a `.partial`
 * file renamed at the end, so a file without that suffix is a whole table. Returns its path.
 */
export async function exportTable(props: ExportTableProps): Promise<string> {
  const table = props.tableName;
  fs.mkdirSync(props.dir, { recursive: true });
  const file = path.join(props.dir, `${table}-${props.at.replace(/[:.]/g, '-')}.jsonl`);
  const tmp = `${file}.partial`;
  const out = fs.createWriteStream(tmp);
  try {
    // Two segments at a time: the live release serves its traffic from the same endpoint.
    await scanInSegments({
      // Numbers keep their text and sets stay sets, so each line marshals back to the stored item
      // exactly. The one item client: `DocumentClient.from` writes its options into the shared
      // base client, so a client of other options here would change every other reader's numbers.
      doc: createItemClient(props.dynamodb),
      tableName: table,
      totalSegments: scanSegmentsFor(await describeTable(props.dynamodb, table, 'backed-up')),
      concurrency: 2,
      consistentRead: true,
      onPage: async (items) => {
        for (const item of items) {
          const text = JSON.stringify(marshall(item), base64Binary);
          if (!out.write((toWireNames(text) ?? text) + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
        }
      },
    });
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  fs.renameSync(tmp, file);
  return file;
}

/** DynamoDB JSON writes a binary value as base64, as DynamoDB's own exports do. */
function base64Binary(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
}
