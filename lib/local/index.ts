export * from './aws-env';
export * from './local-aws';
export { parseJavaMajor, MIN_JAVA_MAJOR } from './java';
export { defaultStateDir } from './paths';
export {
  isRunningLocalAws,
  LOCAL_REGION,
  LOCAL_SERVICES,
  readLocalAwsState,
  stateFilePath,
  writeLocalAwsState,
  type EmulatorRecord,
  type LocalAwsState,
  type LocalService,
  type RunningLocalAws,
} from './state-file';
