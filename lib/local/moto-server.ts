import * as fs from 'node:fs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { toolError, userError } from '../errors';
import { LOCAL_CREDENTIALS } from './aws-env';
import type { EmulatorSpec } from './emulator';
import { defaultMotoServer, displayPath, PACKAGE_ROOT } from './paths';
import { LOOPBACK } from './ports';
import { spawnDetached } from './processes';
import { LOCAL_REGION } from './state-file';

export interface MotoServerProps {
  /** The `moto_server` executable. @default <project>/.stackshift/venv/bin/moto_server */
  readonly motoServer?: string;
}

/** moto in server mode: CloudFormation, EC2, S3, STS and the rest on one port. */
export function motoServerEmulator(props: MotoServerProps = {}): EmulatorSpec {
  const motoServer = props.motoServer ?? defaultMotoServer();
  return {
    service: 'moto',
    name: 'moto server',
    portEnv: 'STACKSHIFT_MOTO_PORT',
    marker: 'moto_server',
    probeName: 'STS GetCallerIdentity',
    checkInstalled() {
      try {
        fs.accessSync(motoServer, fs.constants.X_OK);
      } catch {
        throw userError('LOCAL_MOTO_MISSING', `moto server is not installed (no executable ${displayPath(motoServer)})`, {
          fix: 'run `npx stackshift local setup`',
        });
      }
    },
    launch(port, logFile) {
      return spawnDetached({
        command: motoServer,
        args: ['-H', LOOPBACK, '-p', String(port)],
        logFile,
        cwd: PACKAGE_ROOT,
        // Unbuffered, so the log tail in an error shows the latest lines.
        env: { ...process.env, PYTHONUNBUFFERED: '1' },
      });
    },
    async probe(endpoint, signal) {
      const sts = new STSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
      try {
        const identity = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
        if (!identity.Account) throw toolError('LOCAL_PROBE_FAILED', `GetCallerIdentity on ${endpoint} returned no account`);
      } finally {
        sts.destroy();
      }
    },
  };
}
