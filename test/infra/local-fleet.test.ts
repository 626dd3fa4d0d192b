import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpJson } from '../../examples/catalog/http-client';
import { checkAcknowledgedWrites, startTraffic } from '../../examples/catalog/traffic';
import { RecordingIoHost } from '../../lib/io';
import { LocalFleet, type FleetRecord } from '../../lib/infra/local-fleet';
import { defaultStateDir, PACKAGE_ROOT } from '../../lib/local/paths';
import { isRunning } from '../../lib/local/processes';
import { createTable, uniqueName } from '../_helpers/tables';
import { rejection } from '../_helpers/rejection';
import { createLoadBalancer } from '../_helpers/load-balancer';

/**
 * An "extracted artifact" the way the release engine lays it out: the app's directory copied
 * under `<repo>/.local/artifacts/<hash>/`, so that tsx and the AWS SDK resolve from the project's
 * node_modules. Its release.json says products v1: the artifact's own file decides, not the work tree's.
 */
function extractArtifact(): string {
  const root = path.join(defaultStateDir(), 'artifacts', uniqueName('test-fleet'));
  const appDir = path.join(root, 'examples', 'catalog');
  fs.mkdirSync(appDir, { recursive: true });
  fs.cpSync(path.join(PACKAGE_ROOT, 'examples', 'catalog'), appDir, { recursive: true });
  fs.writeFileSync(path.join(appDir, 'release.json'), JSON.stringify({ dataVersions: { products: 1, orders: 1 } }));
  fs.writeFileSync(path.join(appDir, 'crashes.ts'), "throw new Error('the app cannot start: PRODUCTS_TABLE is wrong');\n");
  fs.writeFileSync(path.join(appDir, 'never-listens.ts'), 'setInterval(() => undefined, 1000);\n');
  return root;
}

describe('LocalFleet: one local app process per release', () => {
  let artifact: string;
  let stateDir: string;
  let table: string;
  let appEntry: string;
  const started: number[] = [];
  /** Load balancers in moto, as release stacks have: each app runs behind a local stand-in that reads its rules. */
  const dns: Record<'aaaa' | 'bbbb' | 'cccc' | 'dddd' | 'blue' | 'green', string> = { aaaa: '', bbbb: '', cccc: '', dddd: '', blue: '', green: '' };
  /** The app and load balancer processes a release runs (for the clean-up). */
  const processesOf = (releaseId: string) => {
    const r = JSON.parse(fs.readFileSync(path.join(stateDir, 'fleet', `${releaseId}.json`), 'utf8')) as FleetRecord;
    return [r.pid, ...(r.lbPid ? [r.lbPid] : [])];
  };

  beforeAll(async () => {
    artifact = extractArtifact();
    appEntry = path.join(artifact, 'examples', 'catalog', 'server.ts');
    stateDir = fs.mkdtempSync(path.join(defaultStateDir(), 'test-fleet-state-'));
    table = uniqueName('fleet-products');
    await createTable(table);
    for (const name of Object.keys(dns) as (keyof typeof dns)[]) dns[name] = (await createLoadBalancer(`fleet-${name}`)).dnsName;
  });

  afterAll(async () => {
    // Whatever a failed test left running.
    for (const pid of started) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(artifact, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts a release, finds it by its load balancer name, reuses it on a second start, and stops it', async () => {
    // GIVEN an empty fleet
    const io = new RecordingIoHost();
    const fleet = new LocalFleet({ ioHost: io, stateDir });
    const albDnsName = dns.aaaa;

    // WHEN the release is started
    const first = await fleet.start({ releaseId: 'sha-aaaa', albDnsName, appEntry, env: { PRODUCTS_TABLE: table, ORDERS_TABLE: 'unused' } });
    started.push(...processesOf('sha-aaaa'));

    // THEN it answers its health check with the artifact's data version, and reaches DynamoDB Local
    // through the AWS settings it inherited
    expect(first).toMatchObject({ host: '127.0.0.1', started: true });
    expect(io.codes()).toEqual(['FLEET_D1107', 'FLEET_I1108', 'FLEET_I1100']);
    // (through its load balancer: the port clients get is the stand-in's, which forwards to the app)
    const baseUrl = `http://${first.host}:${first.port}`;
    expect((await httpJson({ baseUrl, method: 'GET', path: '/health' })).json).toEqual({ ok: true, dataVersion: 1 });
    const body = { title: 'T', artist: 'A', format: 'CD', releaseYear: 2001, description: '', channels: { US: { sku: 's', price: 1, currency: 'USD', stock: 1, published: true } }, rev: 1 };
    expect((await httpJson({ baseUrl, method: 'PUT', path: '/products/fleet-1', body })).status).toBe(200);
    expect((await httpJson({ baseUrl, method: 'GET', path: '/products/fleet-1' })).json).toEqual({ id: 'fleet-1', ...body });

    // AND its load balancer's DNS name leads to it (DNS names are case-insensitive, a trailing dot is allowed)
    expect(await fleet.endpointOf(albDnsName)).toEqual({ host: '127.0.0.1', port: first.port });
    expect(await fleet.endpointOf(`${albDnsName.toUpperCase()}.`)).toEqual({ host: '127.0.0.1', port: first.port });
    const record = JSON.parse(fs.readFileSync(path.join(stateDir, 'fleet', 'sha-aaaa.json'), 'utf8')) as FleetRecord;
    expect(record).toMatchObject({ releaseId: 'sha-aaaa', albDnsName, host: '127.0.0.1', lbPort: first.port, pid: first.pid, appEntry });
    expect(record.port).not.toBe(first.port);
    expect(isRunning(record.lbPid!)).toBe(true);
    expect(fleet.list()).toEqual([{ ...record, running: true }]);

    // WHEN it is started again, by another fleet object (a re-run of the orchestrator)
    const io2 = new RecordingIoHost();
    const second = await new LocalFleet({ ioHost: io2, stateDir }).start({ releaseId: 'sha-aaaa', albDnsName, appEntry, env: { PRODUCTS_TABLE: table } });

    // THEN the running process is reused, not doubled
    expect(second).toEqual({ host: '127.0.0.1', port: first.port, pid: first.pid, started: false });
    expect(io2.codes()).toEqual(['FLEET_I1101']);

    // WHEN it is stopped
    const io3 = new RecordingIoHost();
    const stopFleet = new LocalFleet({ ioHost: io3, stateDir });
    expect(await stopFleet.stop('sha-aaaa')).toEqual({ stopped: true });

    // THEN it drained and exited on SIGTERM (not killed), its record is gone, and its name leads nowhere
    expect(io3.withCode<{ outcome: string }>('FLEET_I1102')[0].data?.outcome).toBe('terminated');
    expect(isRunning(first.pid)).toBe(false);
    expect(isRunning(record.lbPid!)).toBe(false);
    expect(fs.readFileSync(record.logFile, 'utf8')).toMatch(/"message":"stopped"/);
    // (its load balancer's log says why it ended)
    expect(fs.readFileSync(path.join(stateDir, 'fleet', 'sha-aaaa.lb.log'), 'utf8')).toContain('ends (exit code 0, on SIGTERM)');
    expect(fleet.list()).toEqual([]);
    const err = await rejection(fleet.endpointOf(albDnsName));
    expect(err.code).toBe('FLEET_NO_ENDPOINT');
    expect(err.source).toBe('user');

    // AND stopping it again is fine
    expect(await stopFleet.stop('sha-aaaa')).toEqual({ stopped: false });
    expect(io3.codes()).toEqual(['FLEET_I1102', 'FLEET_I1103']);
  });

  it('after the orchestrator is killed -9 while the app starts, a re-run adopts that app instead of starting a second one', async () => {
    // GIVEN an orchestrator process that starts a release and is killed as soon as the record is written
    const albDnsName = dns.bbbb;
    const recordFile = path.join(stateDir, 'fleet', 'sha-bbbb.json');
    const script = [
      `import { LocalFleet } from ${JSON.stringify(path.join(PACKAGE_ROOT, 'lib', 'infra', 'local-fleet.ts'))};`,
      `await new LocalFleet({ stateDir: ${JSON.stringify(stateDir)} }).start({ releaseId: 'sha-bbbb', albDnsName: ${JSON.stringify(albDnsName)}, appEntry: ${JSON.stringify(appEntry)}, env: { PRODUCTS_TABLE: ${JSON.stringify(table)} } });`,
      'setInterval(() => undefined, 1000);',
    ].join('\n');
    const orchestrator = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(recordFile)) {
      if (Date.now() > deadline) throw new Error('the orchestrator did not record the app within 30 s');
      await sleep(10);
    }
    orchestrator.kill('SIGKILL');
    const orphan = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as FleetRecord;
    started.push(orphan.pid);
    expect(isRunning(orphan.pid)).toBe(true);

    // WHEN the orchestrator runs again
    const io = new RecordingIoHost();
    const fleet = new LocalFleet({ ioHost: io, stateDir });
    const rerun = await fleet.start({ releaseId: 'sha-bbbb', albDnsName, appEntry, env: { PRODUCTS_TABLE: table } });

    started.push(...processesOf('sha-bbbb'));

    // THEN it adopted the orphan: same process, healthy, and only one app runs this entry point
    expect(rerun).toMatchObject({ host: '127.0.0.1', pid: orphan.pid, started: false });
    expect(io.codes()).toContain('FLEET_I1101');
    expect((await httpJson({ baseUrl: `http://${rerun.host}:${rerun.port}`, method: 'GET', path: '/health' })).status).toBe(200);
    expect(fleet.list().map((m) => m.pid)).toEqual([orphan.pid]);
    await fleet.stop('sha-bbbb');
    expect(isRunning(orphan.pid)).toBe(false);
  });

  it('forgets a record whose process is gone and starts the release again', async () => {
    // GIVEN a running release that then died (kill -9, a reboot)
    const fleet = new LocalFleet({ stateDir });
    const albDnsName = dns.cccc;
    const first = await fleet.start({ releaseId: 'sha-cccc', albDnsName, appEntry, env: { PRODUCTS_TABLE: table } });
    const [, firstLb] = processesOf('sha-cccc');
    started.push(first.pid, firstLb!);
    process.kill(first.pid, 'SIGKILL');
    while (isRunning(first.pid)) await sleep(20);

    // WHEN it is started again
    const io = new RecordingIoHost();
    const again = await new LocalFleet({ ioHost: io, stateDir }).start({ releaseId: 'sha-cccc', albDnsName, appEntry, env: { PRODUCTS_TABLE: table } });
    started.push(...processesOf('sha-cccc'));

    // THEN a new process serves it, behind a new load balancer (the old one forwarded to the dead app's port)
    expect(io.codes()).toEqual(['FLEET_W1104', 'FLEET_D1107', 'FLEET_I1108', 'FLEET_I1100']);
    expect(isRunning(firstLb!)).toBe(false);
    expect(again.pid).not.toBe(first.pid);
    expect(again.started).toBe(true);
    expect(await fleet.endpointOf(albDnsName)).toEqual({ host: '127.0.0.1', port: again.port });
    await fleet.stop('sha-cccc');
  });

  it('moves live traffic from one release to another and stops the first without a failed request', async () => {
    // GIVEN two releases on one table (a release without a data migration), traffic on the first
    const fleet = new LocalFleet({ stateDir });
    await fleet.start({ releaseId: 'sha-blue', albDnsName: dns.blue, appEntry, env: { PRODUCTS_TABLE: table } });
    const green = await fleet.start({ releaseId: 'sha-green', albDnsName: dns.green, appEntry, env: { PRODUCTS_TABLE: table } });
    started.push(...processesOf('sha-blue'), ...processesOf('sha-green'));
    let live = { name: dns.blue, releaseId: 'sha-blue' };
    const traffic = startTraffic({
      resolve: async () => ({ ...(await fleet.endpointOf(live.name)), releaseId: live.releaseId }),
      ratePerSec: 50,
      writeFraction: 0.4,
      productIds: ['fleet-1'],
      newIdPrefix: 'flip-',
    });
    await sleep(1_500);

    // WHEN the name flips to the second release, and the first is stopped once no client resolves to it
    live = { name: dns.green, releaseId: 'sha-green' };
    await sleep(200);
    await fleet.stop('sha-blue');
    await sleep(1_000);
    const report = await traffic.stop();

    // THEN no request failed, both releases answered, and every acknowledged write reads back from the second
    expect(report.failures).toEqual([]);
    expect(Object.keys(report.byRelease ?? {})).toEqual(['sha-blue', 'sha-green']);
    const check = await checkAcknowledgedWrites({ lastAcked: traffic.lastAcked, baseUrl: `http://${green.host}:${green.port}` });
    expect(check.checked).toBeGreaterThan(10);
    expect(check.lost).toEqual([]);
    await fleet.stop('sha-green');
  });

  it('refuses to run a release id from another artifact while it runs', async () => {
    const fleet = new LocalFleet({ stateDir });
    const albDnsName = dns.dddd;
    const first = await fleet.start({ releaseId: 'sha-dddd', albDnsName, appEntry, env: { PRODUCTS_TABLE: table } });
    started.push(...processesOf('sha-dddd'));
    try {
      const other = path.join(artifact, 'examples', 'catalog', 'crashes.ts');
      const err = await rejection(fleet.start({ releaseId: 'sha-dddd', albDnsName, appEntry: other, env: {} }));
      expect(err.code).toBe('FLEET_RELEASE_CONFLICT');
      expect(isRunning(first.pid)).toBe(true);
    } finally {
      await fleet.stop('sha-dddd');
    }
  });

  it('reports an app that exits at start with the tail of its log, and records nothing', async () => {
    const fleet = new LocalFleet({ stateDir });
    const err = await rejection(
      fleet.start({ releaseId: 'sha-crash', albDnsName: 'crash.elb.amazonaws.com', appEntry: path.join(artifact, 'examples', 'catalog', 'crashes.ts') }),
    );
    expect(err.code).toBe('FLEET_APP_EXITED');
    expect(err.message).toContain('PRODUCTS_TABLE is wrong');
    expect(fleet.list()).toEqual([]);
  });

  it('stops an app that never answers its health check within the start timeout, and records nothing', async () => {
    const fleet = new LocalFleet({ stateDir, startTimeoutMs: 1_500, graceMs: 1_000 });
    const err = await rejection(
      fleet.start({ releaseId: 'sha-mute', albDnsName: 'mute.elb.amazonaws.com', appEntry: path.join(artifact, 'examples', 'catalog', 'never-listens.ts') }),
    );
    expect(err.code).toBe('FLEET_APP_TIMEOUT');
    expect(fleet.list()).toEqual([]);
    const pid = Number(/pid (\d+)/.exec(err.message)?.[1]);
    expect(isRunning(pid)).toBe(false);
  });

  it('refuses release ids that cannot name a file and entry points that do not exist', async () => {
    const fleet = new LocalFleet({ stateDir });
    expect((await rejection(fleet.start({ releaseId: '../x', albDnsName: 'x', appEntry }))).code).toBe('FLEET_RELEASE_ID_INVALID');
    expect((await rejection(fleet.start({ releaseId: 'sha-x', albDnsName: 'x', appEntry: 'examples/catalog/server.ts' }))).code).toBe('FLEET_APP_ENTRY_MISSING');
    expect((await rejection(fleet.start({ releaseId: 'sha-x', albDnsName: 'x', appEntry: path.join(artifact, 'nope.ts') }))).code).toBe('FLEET_APP_ENTRY_MISSING');
  });
});
