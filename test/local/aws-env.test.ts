import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReleaseError } from '../../lib/errors';
import { localAwsEnv, parseJavaMajor, readLocalAwsState, shellExports, stateFilePath, writeLocalAwsState } from '../../lib/local';

const ENDPOINTS = {
  moto: { endpoint: 'http://127.0.0.1:4566', port: 4566, pid: 101 },
  dynamodb: { endpoint: 'http://127.0.0.1:8000', port: 8000, pid: 102 },
  region: 'us-east-1',
};

describe('localAwsEnv', () => {
  it('sends DynamoDB and its streams to DynamoDB Local, everything else to moto', () => {
    // GIVEN two running emulators
    // WHEN the environment is derived
    const env = localAwsEnv(ENDPOINTS);

    // THEN
    expect(env).toEqual({
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:8000',
      AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: 'http://localhost:4566',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    });
  });
});

describe('shellExports', () => {
  it('round-trips awkward values through a POSIX shell and unsets the profile', () => {
    // GIVEN values with quotes, spaces and $
    const env = { A: "it's a $HOME `x`", B: 'http://127.0.0.1:1/x', C: '' };

    // WHEN the export lines are evaluated by sh with a profile set
    const script = `${shellExports(env)}printf '%s|%s|%s|%s' "$A" "$B" "$C" "\${AWS_PROFILE-unset}"`;
    const out = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_PROFILE: 'prod' } });

    // THEN the shell sees exactly the values, and no profile
    expect(out.stdout).toBe("it's a $HOME `x`|http://127.0.0.1:1/x||unset");
  });
});

describe('state file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackshift-state-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads back what was written, and nothing when there is no file', () => {
    // GIVEN an empty dir, then a written state
    const before = readLocalAwsState(dir);
    writeLocalAwsState(dir, ENDPOINTS);

    // WHEN read back
    const after = readLocalAwsState(dir);

    // THEN
    expect(before).toBeUndefined();
    expect(after).toEqual(ENDPOINTS);
    expect(Object.keys(JSON.parse(fs.readFileSync(stateFilePath(dir), 'utf8')))).toEqual(['moto', 'dynamodb', 'region']);
  });

  it.each([
    ['not JSON', '{ moto'],
    ['a bad port', JSON.stringify({ ...ENDPOINTS, moto: { ...ENDPOINTS.moto, port: 'x' } })],
    ['no region', JSON.stringify({ moto: ENDPOINTS.moto })],
  ])('rejects a file with %s as a user error', (_name, text) => {
    // GIVEN a damaged state file
    fs.writeFileSync(stateFilePath(dir), text);

    // WHEN read
    let err: unknown;
    try {
      readLocalAwsState(dir);
    } catch (e) {
      err = e;
    }

    // THEN
    expect(ReleaseError.isUserError(err) && err.code).toBe('LOCAL_STATE_INVALID');
  });
});

describe('parseJavaMajor', () => {
  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['openjdk version "21" 2023-09-19', 21],
    ['java version "1.8.0_381"', 8],
    ['openjdk version "11.0.2-ea"', 11],
    ['bash: java: command not found', undefined],
  ])('%s -> %s', (output, major) => {
    expect(parseJavaMajor(output)).toBe(major);
  });
});
