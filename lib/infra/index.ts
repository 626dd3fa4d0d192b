import type { IoHost } from '../io';
import { CloudFormationTarget, type DeployTarget } from './deploy-target';
import { MirroredTablesTarget } from './mirrored-tables-target';

export * from './deploy-target';
export * from './stack-deployer';
export { MirroredTablesTarget } from './mirrored-tables-target';
export { tablesInTemplate } from './template-tables';

export type TargetName = DeployTarget['name'];

/** The one place the target is chosen, from configuration. */
export function createDeployTarget(name: TargetName, ioHost: IoHost): DeployTarget {
  return name === 'local' ? new MirroredTablesTarget({ ioHost }) : new CloudFormationTarget();
}
