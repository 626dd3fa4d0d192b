/**
 * What local AWS needs beyond npm packages, set up in the project's `.stackshift/` folder so that an
 * adopter runs nothing else by hand: Java 17 or newer (for DynamoDB Local; checked, not installed)
 * and moto server, pinned, in a Python venv of the project's own. Idempotent: what is in place is
 * left alone.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { userError } from '../errors';
import { IO, silentIoHost, type IoHost } from '../io';
import { displayPath, motoVenvDir } from './paths';

const run = promisify(execFile);

export const MOTO_VERSION = '5.2.5';
const MOTO_SPEC = `moto[server]==${MOTO_VERSION}`;
export const MIN_JAVA = 17;
const JAVA_FIX = `install Java ${MIN_JAVA} or newer (e.g. openjdk-17-jre-headless) and put java on PATH`;

export interface LocalToolsProps {
  /** Where progress is reported. @default - nowhere */
  readonly ioHost?: IoHost;
  /** The venv moto is installed into. @default <project>/.stackshift/venv */
  readonly venvDir?: string;
  /** The java executable. @default 'java' (from PATH) */
  readonly java?: string;
}

export interface LocalTools {
  readonly javaVersion: string;
  readonly motoServer: string;
  /** True when this call installed moto. */
  readonly installed: boolean;
}

/** Checks Java and makes sure moto server is installed in the venv; returns what is in place. */
export async function ensureLocalTools(props: LocalToolsProps = {}): Promise<LocalTools> {
  const io = props.ioHost ?? silentIoHost;
  const venv = props.venvDir ?? motoVenvDir();
  const javaVersion = await checkJava(props.java ?? 'java');
  const python = path.join(venv, 'bin', 'python');
  const motoServer = path.join(venv, 'bin', 'moto_server');
  let installed = false;
  if ((await installedMoto(python)) !== MOTO_VERSION || !fs.existsSync(motoServer)) {
    IO.LOCAL_I0006.emit(io, `installing ${MOTO_SPEC} into ${displayPath(venv)} (once; about a minute)`, { venv, spec: MOTO_SPEC });
    if (!fs.existsSync(python)) {
      fs.mkdirSync(path.dirname(venv), { recursive: true });
      await step(['python3', '-m', 'venv', venv], `could not create ${displayPath(venv)} with python3 -m venv`, 'install python3 and python3-venv');
    }
    await step([python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', MOTO_SPEC], `pip could not install ${MOTO_SPEC} into ${displayPath(venv)}`, 'check that PyPI is reachable, then run `stackshift local setup` again');
    await step([motoServer, '--help'], `moto_server does not run after installing ${MOTO_SPEC}`, `delete ${displayPath(venv)} and run \`stackshift local setup\` again`);
    installed = true;
  }
  IO.LOCAL_I0005.emit(io, `java ${javaVersion}; moto ${MOTO_VERSION} in ${displayPath(venv)}`, { java: javaVersion, moto: MOTO_VERSION, venv });
  return { javaVersion, motoServer, installed };
}

/** The Java version, refused below MIN_JAVA. */
export async function checkJava(java: string): Promise<string> {
  let text: string;
  try {
    // `java -version` writes to stderr
    text = (await run(java, ['-version'])).stderr;
  } catch {
    throw userError('LOCAL_JAVA_MISSING', `Java ${MIN_JAVA} or newer is needed for DynamoDB Local (found: no ${java} on PATH)`, { fix: JAVA_FIX });
  }
  const version = /version "([^"]+)"/.exec(text)?.[1] ?? '';
  const major = javaMajor(version);
  if (major === undefined || major < MIN_JAVA) {
    throw userError('LOCAL_JAVA_TOO_OLD', `Java ${MIN_JAVA} or newer is needed for DynamoDB Local (found: java "${version || text.split('\n')[0]}")`, { fix: JAVA_FIX });
  }
  return version;
}

/** `17.0.15` → 17, `1.8.0_392` → 8. */
export function javaMajor(version: string): number | undefined {
  const parts = version.split('.');
  const major = Number(parts[0] === '1' ? parts[1] : parts[0]);
  return Number.isInteger(major) && major > 0 ? major : undefined;
}

async function installedMoto(python: string): Promise<string | undefined> {
  if (!fs.existsSync(python)) return undefined;
  try {
    const probe = "import importlib.metadata as m, flask, flask_cors; print(m.version('moto'))";
    return (await run(python, ['-c', probe])).stdout.trim();
  } catch {
    return undefined;
  }
}

async function step(command: readonly string[], what: string, fix: string): Promise<void> {
  try {
    await run(command[0]!, command.slice(1), { maxBuffer: 16 << 20 });
  } catch (e) {
    const detail = ((e as { stderr?: string }).stderr ?? '').trim().split('\n').filter(Boolean).pop();
    throw userError('LOCAL_SETUP_FAILED', `${what}${detail ? ` (${detail})` : ''}`, { fix });
  }
}
