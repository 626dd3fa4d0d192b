/**
 * vitest globalSetup: one moto and one DynamoDB Local for the whole run, on 127.0.0.1.
 * A set already running (from `npm run local:up`) is reused and left running; whatever this run
 * started is stopped at the end. Test files get the endpoints through test/_helpers/local-env.ts.
 */
import { defaultIoHost } from '../../lib/io';
import { startLocalAws, stopLocalAws } from '../../lib/local';

export default async function setup(): Promise<() => Promise<void>> {
  const ioHost = defaultIoHost({ level: 'warn' });
  const { started } = await startLocalAws({ ioHost });
  return async () => {
    if (started.length > 0) await stopLocalAws({ ioHost, services: started });
  };
}
