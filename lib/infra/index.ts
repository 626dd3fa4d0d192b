import type { IoHost } from '../io';
import { defaultStateDir } from '../local/paths';
import { CloudFormationTarget, type DeployTarget } from './deploy-target';
import { LocalTarget } from './local-target';

export * from './deploy-target';
export * from './stack-deployer';
export { MirroredTablesTarget } from './mirrored-tables-target';
export { LocalTarget } from './local-target';
export { tablesInTemplate } from './template-tables';

export type TargetName = DeployTarget['name'];

export interface CreateDeployTargetOptions {
  /** The local AWS state directory (local target). @default - $STACKSHIFT_LOCAL_STATE_DIR, else `.local` */
  readonly stateDir?: string;
}

/** The one place the target is chosen, from configuration. */
export function createDeployTarget(name: TargetName, ioHost: IoHost, options: CreateDeployTargetOptions = {}): DeployTarget {
  if (name === 'aws') return new CloudFormationTarget();
  return new LocalTarget({ ioHost, stateDir: options.stateDir ?? process.env.STACKSHIFT_LOCAL_STATE_DIR ?? defaultStateDir() });
}
