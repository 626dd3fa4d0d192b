/**
 * The backup a teardown takes of each table: an on-demand DynamoDB backup. Where the endpoint has
 * no backups (DynamoDB Local answers CreateBackup with an unknown-operation error) the table is
 * exported instead to a JSON-lines file in the state directory, one DynamoDB-JSON item per line,
 * so a teardown never deletes data that exists nowhere else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBackupCommand, ResourceNotFoundException, paginateScan } from '@aws-sdk/client-dynamodb';
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
    const file = await exportTable(engine, table);
    RELEASE_IO.RELEASE_W3116.emit(engine.io, `the endpoint has no on-demand backups (${messageOf(e)}): ${table} exported to ${file}`, { table, reason: messageOf(e) });
    return file;
  }
}

function isUnsupported(e: unknown): boolean {
  const name = (e as { name?: string }).name ?? '';
  return /UnknownOperation|NotImplemented|UnsupportedOperation/i.test(name) || /not (yet )?(supported|implemented)|unknown operation/i.test(messageOf(e));
}

async function exportTable(engine: ReleaseEngine, table: string): Promise<string> {
  const dir = path.join(engine.stateDir, 'backups');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${table}-${engine.nowIso().replace(/[:.]/g, '-')}.jsonl`);
  const tmp = `${file}.partial`;
  const out = fs.createWriteStream(tmp);
  try {
    for await (const page of paginateScan({ client: engine.dynamodb }, { TableName: table, ConsistentRead: true })) {
      for (const item of page.Items ?? []) {
        if (!out.write(JSON.stringify(item) + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
      }
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  fs.renameSync(tmp, file);
  return file;
}
