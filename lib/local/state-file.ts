import * as fs from 'node:fs';
import { readJsonFile } from './json-file';
import * as path from 'node:path';
import { z } from 'zod';
import { userError } from '../errors';
import { defaultStateDir, displayPath } from './paths';

/** The two emulators this module runs. */
export type LocalService = 'moto' | 'dynamodb';

export const LOCAL_SERVICES: readonly LocalService[] = ['moto', 'dynamodb'];

/** The only region the local set serves. */
export const LOCAL_REGION = 'us-east-1';

/** One running emulator as recorded in the state file. */
export interface EmulatorRecord {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
}

/**
 * The content of `<stateDir>/endpoints.json`. An emulator is absent when it is not running
 * (e.g. a test run stopped the one it had started and kept the one it reused).
 */
export interface LocalAwsState {
  readonly moto?: EmulatorRecord;
  readonly dynamodb?: EmulatorRecord;
  readonly region: string;
}

/** Both emulators running: what a client needs to reach them. */
export interface RunningLocalAws extends LocalAwsState {
  readonly moto: EmulatorRecord;
  readonly dynamodb: EmulatorRecord;
}

export const STATE_FILE_NAME = 'endpoints.json';

const RECORD = z.object({
  endpoint: z.url(),
  port: z.number().int().min(1).max(65535),
  pid: z.number().int().positive(),
});

const STATE = z.object({
  moto: RECORD.optional(),
  dynamodb: RECORD.optional(),
  region: z.string().min(1),
});

export function stateFilePath(stateDir: string = defaultStateDir()): string {
  return path.join(stateDir, STATE_FILE_NAME);
}

export function isRunningLocalAws(state: LocalAwsState | undefined): state is RunningLocalAws {
  return state?.moto !== undefined && state.dynamodb !== undefined;
}

/**
 * Reads the state file. Does not check that the recorded processes still run.
 *
 * @returns undefined when there is no state file
 */
export function readLocalAwsState(stateDir: string = defaultStateDir()): LocalAwsState | undefined {
  const file = stateFilePath(stateDir);
  return readJsonFile(file, STATE, (detail, cause) => corrupt(file, detail, cause));
}

/** Writes the state file atomically (a reader never sees half a file). */
export function writeLocalAwsState(stateDir: string, state: LocalAwsState): void {
  fs.mkdirSync(stateDir, { recursive: true });
  const file = stateFilePath(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const ordered: LocalAwsState = { moto: state.moto, dynamodb: state.dynamodb, region: state.region };
  fs.writeFileSync(tmp, JSON.stringify(ordered, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function removeLocalAwsState(stateDir: string): void {
  fs.rmSync(stateFilePath(stateDir), { force: true });
}

function corrupt(file: string, detail: string, cause?: unknown) {
  return userError('LOCAL_STATE_INVALID', `the local AWS state file ${displayPath(file)} is not valid (${detail})`, {
    fix: 'stop any emulators it names by hand and delete the file',
    cause,
  });
}
