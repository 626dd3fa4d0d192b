import * as net from 'node:net';
import { userError } from '../errors';

/** Every emulator listens on this address only. */
export const LOOPBACK = '127.0.0.1';

/**
 * The port an emulator was configured to use, from an explicit option first, then from the
 * environment variable `envName`.
 *
 * @returns undefined when neither is set (pick a free port)
 */
export function configuredPort(option: number | undefined, envName: string, env: NodeJS.ProcessEnv): number | undefined {
  if (option !== undefined) return checkPort(option, 'port option', String(option));
  const raw = env[envName];
  if (raw === undefined || raw.trim() === '') return undefined;
  return checkPort(Number(raw.trim()), envName, raw);
}

function checkPort(port: number, source: string, shown: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw userError('LOCAL_PORT_INVALID', `${source} must be a port number from 1 to 65535 (found: "${shown}")`, {
      fix: `set it to a free port, or unset it to pick one`,
    });
  }
  return port;
}

/** `count` distinct ports that were free on the loopback address a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listen(0)));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map(close));
  return ports;
}

/** Fails with a user error when something already listens on `port` (configured by `source`). */
export async function assertPortFree(port: number, source: string): Promise<void> {
  let server: net.Server;
  try {
    server = await listen(port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw userError('LOCAL_PORT_IN_USE', `port ${port} on ${LOOPBACK} (from ${source}) cannot be used (${code ?? String(err)})`, {
      fix: 'stop what listens there, or choose another port',
      cause: err,
    });
  }
  await close(server);
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
