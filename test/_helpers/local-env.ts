/**
 * vitest setupFiles module: points every AWS SDK client in a test file at the local emulators that
 * the globalSetup recorded in .local/endpoints.json, and drops a profile or session token so that
 * nothing in a test can reach a real account.
 */
import { LOCAL_AWS_UNSET, localAwsEnv, readLocalAwsState, stateFilePath, isRunningLocalAws } from '../../lib/local';

const state = readLocalAwsState();
if (!isRunningLocalAws(state)) {
  throw new Error(`local AWS is not recorded in ${stateFilePath()}: the vitest globalSetup (test/_helpers/global-setup.ts) should have started it`);
}
for (const name of LOCAL_AWS_UNSET) delete process.env[name];
Object.assign(process.env, localAwsEnv(state));
