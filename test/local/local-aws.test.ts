import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingIoHost } from '../../lib/io';
import { readLocalAwsState, startLocalAws, stateFilePath, stopLocalAws, writeLocalAwsState } from '../../lib/local';
import { isRunning } from '../../lib/local/processes';
import { rejection } from '../_helpers/rejection';

/** Ignore STACKSHIFT_*_PORT from the caller's shell: these tests choose their own ports. */
const NO_PORT_ENV = {};

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'stackshift-local-'));
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function deadPid(): number {
  return spawnSync('true').pid!;
}

describe('a local AWS set of its own (temp state dir, real emulators)', () => {
  const stateDir = tempDir();

  afterAll(async () => {
    await stopLocalAws({ stateDir, graceMs: 2_000 });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts both emulators, then reuses the same processes on a second start', async () => {
    // GIVEN no state file
    const firstIo = new RecordingIoHost();
    const first = await startLocalAws({ stateDir, env: NO_PORT_ENV, ioHost: firstIo });

    // WHEN it is started again
    const secondIo = new RecordingIoHost();
    const second = await startLocalAws({ stateDir, env: NO_PORT_ENV, ioHost: secondIo });

    // THEN the first start launched both and the second reused both, same pids and ports
    expect(firstIo.withCode<{ service: string }>('LOCAL_I0001').map((m) => m.data?.service).sort()).toEqual(['dynamodb', 'moto']);
    expect(first.started).toHaveLength(2);
    expect(secondIo.codes()).toEqual(['LOCAL_I0002', 'LOCAL_I0002']);
    expect(second.started).toEqual([]);
    expect(second.state).toEqual(first.state);
    expect(readLocalAwsState(stateDir)).toEqual(first.state);
    expect(isRunning(first.state.moto.pid, 'moto_server')).toBe(true);
    expect(isRunning(first.state.dynamodb.pid, 'DynamoDbLocalLoopback')).toBe(true);
  });

  it('forgets a recorded emulator whose pid is dead and starts it again on the configured port', async () => {
    // GIVEN moto stopped on its own and a dead pid recorded for it, DynamoDB Local still running
    const before = readLocalAwsState(stateDir)!;
    const stopped = await stopLocalAws({ stateDir, services: ['moto'] });
    expect(stopped.stopped).toEqual(['moto']);
    expect(readLocalAwsState(stateDir)).toEqual({ dynamodb: before.dynamodb, region: 'us-east-1' });
    const dead = deadPid();
    writeLocalAwsState(stateDir, { ...before, moto: { ...before.moto!, pid: dead } });
    const port = await freePort();

    // WHEN started with STACKSHIFT_MOTO_PORT set
    const io = new RecordingIoHost();
    const result = await startLocalAws({ stateDir, env: { STACKSHIFT_MOTO_PORT: String(port) }, ioHost: io });

    // THEN the dead moto is forgotten and a new one started on that port; DynamoDB Local is reused
    expect(io.withCode('LOCAL_W0007').map((m) => m.data)).toEqual([{ service: 'moto', pid: dead }]);
    expect(io.withCode('LOCAL_I0002').map((m) => (m.data as { service: string }).service)).toEqual(['dynamodb']);
    expect(io.withCode('LOCAL_I0001').map((m) => (m.data as { service: string }).service)).toEqual(['moto']);
    expect(result.state.moto).toMatchObject({ port, endpoint: `http://127.0.0.1:${port}` });
    expect(result.state.moto.pid).not.toBe(dead);
    expect(result.state.dynamodb).toEqual(before.dynamodb);
  });

  it('refuses a configured port that differs from the running emulator', async () => {
    // GIVEN the set is running
    const running = readLocalAwsState(stateDir)!;
    const other = await freePort();

    // WHEN started with another STACKSHIFT_DYNAMODB_PORT
    const err = await rejection(startLocalAws({ stateDir, env: { STACKSHIFT_DYNAMODB_PORT: String(other) } }));

    // THEN a user error, and the running set is untouched
    expect([err.code, err.source]).toEqual(['LOCAL_PORT_CONFLICT', 'user']);
    expect(readLocalAwsState(stateDir)).toEqual(running);
  });

  it('stops a recorded emulator that runs but does not answer, and starts a new one', async () => {
    // GIVEN the recorded moto frozen with SIGSTOP
    const before = readLocalAwsState(stateDir)!;
    process.kill(before.moto!.pid, 'SIGSTOP');

    // WHEN started
    const io = new RecordingIoHost();
    const result = await startLocalAws({ stateDir, env: NO_PORT_ENV, ioHost: io });

    // THEN the frozen one is stopped and replaced; DynamoDB Local is reused
    expect(io.withCode('LOCAL_W0009').map((m) => m.data)).toEqual([{ service: 'moto', pid: before.moto!.pid }]);
    expect(result.started).toEqual(['moto']);
    expect(result.reused).toEqual(['dynamodb']);
    expect(isRunning(before.moto!.pid)).toBe(false);
    expect(result.state.moto.pid).not.toBe(before.moto!.pid);
  });

  it('down stops the recorded pids, removes the state file, and a second down has nothing to do', async () => {
    // GIVEN the running set
    const { moto, dynamodb } = readLocalAwsState(stateDir)!;

    // WHEN stopped twice
    const io = new RecordingIoHost();
    await stopLocalAws({ stateDir, ioHost: io });
    const againIo = new RecordingIoHost();
    await stopLocalAws({ stateDir, ioHost: againIo });

    // THEN both processes are gone with the state file, and the second stop only says so
    expect(io.codes()).toEqual(['LOCAL_I0003', 'LOCAL_I0003']);
    expect(isRunning(moto!.pid)).toBe(false);
    expect(isRunning(dynamodb!.pid)).toBe(false);
    expect(fs.existsSync(stateFilePath(stateDir))).toBe(false);
    expect(againIo.codes()).toEqual(['LOCAL_I0004']);
  });
});

describe('down never signals a recorded pid that is not an emulator', () => {
  let bystander: ReturnType<typeof spawn>;
  const stateDir = tempDir();
  beforeAll(() => {
    bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  afterAll(() => {
    bystander.kill('SIGKILL');
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('forgets a recycled pid instead of stopping it', async () => {
    // GIVEN a state file whose moto pid now belongs to an unrelated process
    const pid = bystander.pid!;
    writeLocalAwsState(stateDir, { moto: { endpoint: 'http://127.0.0.1:9', port: 9, pid }, region: 'us-east-1' });

    // WHEN stopped
    const io = new RecordingIoHost();
    const result = await stopLocalAws({ stateDir, ioHost: io });

    // THEN the process is left alone and the record dropped
    expect(io.codes()).toEqual(['LOCAL_W0007']);
    expect(result.stopped).toEqual([]);
    expect(isRunning(pid)).toBe(true);
    expect(fs.existsSync(stateFilePath(stateDir))).toBe(false);
  });
});

describe('start refuses early, with one clear user error', () => {
  const stateDir = tempDir();
  afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  it.each([
    ['moto missing', { motoServer: '/nonexistent/moto_server' }, 'LOCAL_MOTO_MISSING'],
    ['java missing', { java: '/nonexistent/java' }, 'LOCAL_JAVA_MISSING'],
    ['port not a number', { env: { STACKSHIFT_MOTO_PORT: 'abc' } }, 'LOCAL_PORT_INVALID'],
    ['port out of range', { dynamoDbPort: 70000 }, 'LOCAL_PORT_INVALID'],
  ])('%s', async (_name, props, code) => {
    // GIVEN a broken prerequisite or setting
    // WHEN started
    const err = await rejection(startLocalAws({ stateDir, env: NO_PORT_ENV, ...props }));

    // THEN a user error with that code, and nothing recorded
    expect([err.code, err.source]).toEqual([code, 'user']);
    expect(fs.existsSync(stateFilePath(stateDir))).toBe(false);
  });

  it('rejects a java older than 17', async () => {
    // GIVEN a java that reports version 11
    const java = path.join(stateDir, 'old-java');
    fs.writeFileSync(java, '#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n', { mode: 0o755 });

    // WHEN started
    const err = await rejection(startLocalAws({ stateDir, env: NO_PORT_ENV, java }));

    // THEN a user error naming the version found
    expect([err.code, err.source]).toEqual(['LOCAL_JAVA_MISSING', 'user']);
    expect(err.message).toContain('java 11');
  });

  it('rejects a configured port that something else listens on', async () => {
    // GIVEN a listener on 127.0.0.1:port
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as net.AddressInfo;
    try {
      // WHEN started with STACKSHIFT_DYNAMODB_PORT=port
      const err = await rejection(startLocalAws({ stateDir, env: { STACKSHIFT_DYNAMODB_PORT: String(port) } }));

      // THEN a user error, and nothing recorded
      expect([err.code, err.source]).toEqual(['LOCAL_PORT_IN_USE', 'user']);
      expect(fs.existsSync(stateFilePath(stateDir))).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe('start fails with a tool error and the log tail when an emulator does not answer', () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A stand-in executable: `-version` answers like Java 17, anything else runs `body`. */
  function fake(name: string, body: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      `#!/bin/sh\nif [ "$1" = "-version" ]; then echo 'openjdk version "17.0.1"' >&2; exit 0; fi\n${body}\n`,
      { mode: 0o755 },
    );
    return file;
  }

  it('times out on an emulator that never answers, and stops what it launched', async () => {
    // GIVEN emulators that print a line and then hang
    const motoServer = fake('hang-moto', 'echo "fake moto booting"; exec sleep 60');
    const java = fake('hang-java', 'echo "fake java booting"; exec sleep 60');
    const stateDir = path.join(dir, 'hang');

    // WHEN started with a short timeout
    const io = new RecordingIoHost();
    const err = await rejection(startLocalAws({ stateDir, env: NO_PORT_ENV, motoServer, java, startTimeoutMs: 1_500, ioHost: io }));

    // THEN a tool error carrying the log tail, both launched processes stopped, nothing recorded
    expect([err.code, err.source]).toEqual(['LOCAL_EMULATOR_TIMEOUT', 'tool']);
    expect(err.message).toMatch(/fake (moto|java) booting/);
    const launched = io.withCode<{ pid: number }>('LOCAL_D0010').map((m) => m.data!.pid);
    expect(launched).toHaveLength(2);
    for (const pid of launched) expect(isRunning(pid)).toBe(false);
    expect(fs.existsSync(stateFilePath(stateDir))).toBe(false);
  });

  it('fails at once when an emulator exits before answering', async () => {
    // GIVEN a moto that crashes at start
    const motoServer = fake('crash-moto', 'echo "fake moto crashed"; exit 3');
    const java = fake('slow-java', 'exec sleep 60');
    const stateDir = path.join(dir, 'crash');

    // WHEN started with a long timeout
    const started = Date.now();
    const io = new RecordingIoHost();
    const err = await rejection(startLocalAws({ stateDir, env: NO_PORT_ENV, motoServer, java, startTimeoutMs: 30_000, ioHost: io }));

    // THEN a tool error with moto's last log line, well before the timeout
    expect([err.code, err.source]).toEqual(['LOCAL_EMULATOR_EXITED', 'tool']);
    expect(err.message).toContain('fake moto crashed');
    expect(Date.now() - started).toBeLessThan(20_000);
    const launched = io.withCode<{ pid: number }>('LOCAL_D0010').map((m) => m.data!.pid);
    expect(launched).toHaveLength(2);
    for (const pid of launched) expect(isRunning(pid)).toBe(false);
    expect(fs.existsSync(stateFilePath(stateDir))).toBe(false);
  });
});
