/**
 * Local AWS for development and tests: moto and DynamoDB Local on 127.0.0.1.
 *
 *   eval "$(npm run -s local:up)"   start (or reuse) both, export their environment
 *   npm run local:down               stop what local:up recorded
 *   eval "$(npm run -s local:env)"  export the environment of the running set
 *
 * Only the export lines go to stdout; progress and errors go to stderr through the IoHost.
 */
import { Command } from 'commander';
import { defaultIoHost } from '../lib/io';
import { localAwsEnv, runningLocalAws, shellExports, startLocalAws, stopLocalAws } from '../lib/local';
import { runMain } from './run-main';

const io = defaultIoHost();

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('local').description('run moto and DynamoDB Local on 127.0.0.1').showHelpAfterError();
  program
    .command('up')
    .description('start moto and DynamoDB Local (or reuse the running ones) and print export lines for eval')
    .action(async () => {
      const { state } = await startLocalAws({ ioHost: io });
      process.stdout.write(shellExports(localAwsEnv(state)));
    });
  program
    .command('down')
    .description('stop the emulators recorded by "up"')
    .action(async () => {
      await stopLocalAws({ ioHost: io });
    });
  program
    .command('env')
    .description('print export lines for the running emulators')
    .action(() => {
      process.stdout.write(shellExports(localAwsEnv(runningLocalAws())));
    });
  await program.parseAsync([...argv]);
}

runMain(io, () => main(process.argv));
