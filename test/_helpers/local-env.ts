/**
 * vitest setupFiles module: points every AWS SDK client in a test file at the local emulators that
 * the globalSetup started for this run (its state directory comes through vitest's provide/inject), and drops a profile or session token so that
 * nothing in a test can reach a real account.
 */
import { inject } from 'vitest';
import { CLI_BUNDLE_ENV } from './cli-bundle';
import { LOCAL_AWS_UNSET, localAwsEnv, readLocalAwsState, stateFilePath, isRunningLocalAws } from '../../lib/local';

const stateDir = inject('localStateDir');
const state = readLocalAwsState(stateDir);
if (!isRunningLocalAws(state)) {
  throw new Error(`local AWS is not recorded in ${stateFilePath(stateDir)}: the vitest globalSetup (test/_helpers/global-setup.ts) should have started it`);
}
// Child processes a test starts (the CLI under kill -9) find the same set, and run the CLI's build.
process.env.STACKSHIFT_LOCAL_STATE_DIR = stateDir;
process.env[CLI_BUNDLE_ENV] = inject('cliBundle');
for (const name of LOCAL_AWS_UNSET) delete process.env[name];
Object.assign(process.env, localAwsEnv(state));
