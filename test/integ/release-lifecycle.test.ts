/**
 * The whole lifecycle through the real CLI against local AWS: release v1 → promote → seed →
 * release v2 (killed with SIGKILL mid-copy, re-run) → promote → a write on v2 → rollback (the write
 * is on v1) → promote again → teardown of v1; a branch stack and gc; two concurrent releases; and
 * every bad input (one line, exit 1, no state). Each data path ends with verify = 0.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCopy } from '../../lib/data/verify/verify-copy';
import { RecordingIoHost } from '../../lib/io';
import { physicalTableName } from '../../lib/manifest/table-manifest';
import { registry } from '../_helpers/catalog';
import { createLedgerClient, Ledger } from '../../lib/ledger';
import { ReleaseStore } from '../../lib/ledger/release-records';
import { readSyncStatus, requestSyncStop } from '../../lib/ledger/sync-status';
import { generateV1Products } from '../../examples/catalog/data';
import { codes, runCli, type CliRun } from '../_helpers/cli';
import { expectOk, expectUserError } from '../_helpers/cli-expect';
import { fleetBaseUrl, fleetLoadBalancerUrl, getRev, putProduct } from '../_helpers/catalog-http';
import { httpJsonThroughFence } from '../../examples/catalog/http-client';
import { LocalFleet } from '../../lib/infra/local-fleet';
import { createReleaseRepo, type ReleaseRepo } from '../../examples/catalog/release-repo';
import { putAll, PRODUCT_KEYS, scanAll } from '../_helpers/tables';

const stateDir = inject('localStateDir');
const app = `lc${randomBytes(3).toString('hex')}`;
let repo: ReleaseRepo;
const cli = (args: string[], opts: { killWhen?: Parameters<typeof runCli>[1]['killWhen'] } = {}) => runCli(args, { app, repo: repo.dir, ...opts });
const id = (sha: string) => `sha-${sha.slice(0, 12)}`;
const ledger = () => new Ledger({ tableName: `${app}-ledger`, client: createLedgerClient(new DynamoDBClient({})) });
const store = () => new ReleaseStore(ledger());

const baseUrl = (releaseId: string) => fleetBaseUrl(stateDir, releaseId);

/** A one-channel product body at `rev` with `title`. */
function productBody(title: string, rev: number) {
  const channel = { sku: 'lc-two-writers-US', price: 1000 + rev, currency: 'USD', stock: 3, published: true };
  return { title, artist: 'The Static Hours', format: 'LP', releaseYear: 1999, description: 'written during the test', channels: { US: channel }, rev };
}

async function titleOf(url: string, productId: string): Promise<string | undefined> {
  const r = await fetch(`${url}/products/${productId}`);
  return r.status === 200 ? ((await r.json()) as { title?: string }).title : undefined;
}

async function verifyProducts(from: string, to: string, fromV: number, toV: number): Promise<number> {
  const result = await verifyCopy({
    ioHost: new RecordingIoHost(),
    sourceTable: physicalTableName(app, from, 'products'),
    targetTable: physicalTableName(app, to, 'products'),
    keyNames: PRODUCT_KEYS,
    chain: registry.chain('products', fromV, toV, { keyNames: PRODUCT_KEYS }),
  });
  return result.differences;
}

describe('release lifecycle through the CLI', () => {
  beforeAll(() => {
    repo = createReleaseRepo();
  });
  afterAll(async () => {
    // Stop what the test started that outlives it: sync daemons and app processes.
    for (const r of (await store().list()).filter((x) => !x.checkpoints.tornDown)) {
      await cli(['teardown', '--sha', r.sha!, '--force', '--no-backup']).catch(() => undefined);
    }
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('rejects bad input with one line and no state', async () => {
    // WHEN a sha that does not exist is released
    expectUserError(await cli(['release', '--sha', 'deadbeefdeadbeef']), 'SHA_UNKNOWN');
    // an invalid branch name
    expectUserError(await cli(['release', '--branch', 'bad name!']), 'RELEASE_ID_INVALID');
    // an invalid app name (config)
    expectUserError(await runCli(['release', '--sha', repo.v1], { app: 'Bad_Name', repo: repo.dir }), 'CONFIG_INVALID');
    // a dirty tree
    fs.writeFileSync(path.join(repo.dir, 'dirty.txt'), 'x');
    expectUserError(await cli(['release', '--sha', repo.v1]), 'TREE_DIRTY');
    fs.rmSync(path.join(repo.dir, 'dirty.txt'));
    // THEN nothing was recorded (the ledger may not even exist yet)
    const records = await store().list().catch(() => []);
    expect(records).toEqual([]);
  });

  it('releases v1, promotes it, releases v2 through a SIGKILL, promotes, rolls back and forward losing no write', async () => {
    // GIVEN v1 released and promoted (the first release: no data to copy)
    const v1 = id(repo.v1);
    const v2 = id(repo.v2);
    expectOk(await cli(['release', '--sha', repo.v1]));
    // its tarball was published where the AMI builder fetches it, under its content hash
    const published = (await store().get(v1))!.checkpoints.published!;
    expect(published.key).toBe(`${app}/artifacts/${(await store().get(v1))!.checkpoints.artifact!.artifactId.slice('sha256:'.length)}.tar`);
    expect((await new S3Client({}).send(new HeadObjectCommand({ Bucket: published.bucket, Key: published.key }))).ContentLength).toBe(published.bytes);
    // promote before READY is refused for an unknown release
    expectUserError(await cli(['promote', '--sha', repo.v2]), 'RELEASE_UNKNOWN');
    expectOk(await cli(['promote', '--sha', repo.v1]));
    // teardown of the live release is refused
    expectUserError(await cli(['teardown', '--sha', repo.v1]), 'TEARDOWN_LIVE');

    // AND production data: 200 products in v1's per-channel shape
    await putAll(physicalTableName(app, v1, 'products'), generateV1Products({ products: 200 }));

    // WHEN v2 is planned: nothing changes, and the plan names the migration and a lossless rollback
    const plan = await cli(['plan', '--sha', repo.v2]);
    expectOk(plan);
    expect(plan.result).toMatchObject({ releaseId: v2, state: 'new', copyFrom: v1, losslessRollback: true, fitsRetention: true });
    // the stack's resources, each with what a deploy would do to it (all new here)
    const resources = (plan.result as { resources: { logicalId: string; type: string; action: string }[] }).resources;
    expect(resources.filter((r) => r.type === 'AWS::DynamoDB::Table').map((r) => r.action)).toEqual(['add', 'add']);
    // and both ways a promote can move writes, each with what it guarantees
    const modes = (plan.result as { writeModes: { mode: string; command: string; guarantee: string }[] }).writeModes;
    expect(modes.map((m) => m.mode)).toEqual(['fenced', 'two-writers']);
    expect(modes[1]!.command).toContain('--steps');
    // the plan of the live release says so, and copies nothing from itself
    const livePlan = await cli(['plan', '--sha', repo.v1]);
    expectOk(livePlan);
    expect(livePlan.result).toMatchObject({ releaseId: v1, state: 'live', copyFrom: null });
    expect(livePlan.messages.some((m) => /Please confirm|cloudformation-execution-policies/.test(m.message) && m.level !== 'debug')).toBe(false);
    const products = (plan.result as { tables: { table: string; fromVersion: number; toVersion: number; migrations: string[]; sourceItems: number }[] }).tables.find((t) => t.table === 'products')!;
    expect(products).toMatchObject({ fromVersion: 1, toVersion: 2, sourceItems: 600 });
    expect(products.migrations).toHaveLength(1);
    expect(await store().get(v2)).toBeUndefined();

    // WHEN v2 is released and killed with SIGKILL once its copy has started
    const killed = await cli(['release', '--sha', repo.v2], { killWhen: (m) => m.code === 'STEP_I3100' && m.data?.step === 'copy' });
    expect(killed.killed).toBe(true);
    const phaseAfterKill = (await store().get(v2))!;
    expect(phaseAfterKill.checkpoints.readyAt).toBeUndefined();
    // AND promote of the unfinished release is refused
    expectUserError(await cli(['promote', '--sha', repo.v2]), 'PROMOTE_NOT_READY');
    // AND run again: it continues from its checkpoints to READY
    const resumed = await cli(['release', '--sha', repo.v2]);
    expectOk(resumed);
    expect(codes(resumed)).toContain('STEP_I3102'); // steps already done were skipped
    expect(resumed.result).toMatchObject({ releaseId: v2, phase: 'Ready' });
    expect(await verifyProducts(v1, v2, 1, 2)).toBe(0);

    // AND a write on v1 after READY reaches v2 through the forward sync
    await putProduct(baseUrl(v1), 'lc-forward', 1);

    // WHEN v2 is promoted (in two weighted steps)
    const weighted = await cli(['promote', '--sha', repo.v2, '--steps', '50,100', '--interval', '0s']);
    expectOk(weighted);
    // weighted steps keep two writers, and say so
    expect(weighted.result).toMatchObject({ phase: 'Live', writeMode: 'two-writers' });
    expect(weighted.result).not.toHaveProperty('writePauseMs');
    expect(await getRev(baseUrl(v2), 'lc-forward')).toBe(1);
    // AND a client writes on v2
    await putProduct(baseUrl(v2), 'lc-rollback', 7);

    // WHEN rolled back
    const rb = await cli(['rollback']);
    expectOk(rb);
    // moved writes back with a fenced cut-over (the default), and measured how long they were held
    expect(rb.result).toMatchObject({ live: v1, writeMode: 'fenced', writePauseMs: expect.any(Number) });
    // THEN v1 is live and has the write made on v2 (through down)
    expect(await getRev(baseUrl(v1), 'lc-rollback')).toBe(7);
    expect((await store().appState()).live).toBe(v1);

    // WHEN promoted again, killed with -9 once its cut-over holds writes on both stacks
    const cut = await cli(['promote', '--sha', repo.v2], { killWhen: (m) => m.code === 'RELEASE_I3119' });
    expect(cut.killed).toBe(true);
    // THEN status shows writes held where traffic is, and says what to run
    const held = await cli(['status']);
    expectOk(held);
    const heldView = held.result as { warnings: string[]; releases: { releaseId: string; writes?: string }[] };
    expect(heldView.releases.find((r) => r.releaseId === v1)?.writes).toBe('held');
    expect(heldView.warnings.join('\n')).toMatch(/writes are held on .*run the promote or rollback that started it again/);
    // WHEN run again, it finishes: v2 takes writes, v1 redirects them (and v1 torn down later,
    // refused inside the rollback window, then forced)
    const again = await cli(['promote', '--sha', repo.v2]);
    expectOk(again);
    expect(again.result).toMatchObject({ phase: 'Live', writeMode: 'fenced', writePauseMs: expect.any(Number) });
    const moved = (await cli(['status'])).result as { warnings: string[]; releases: { releaseId: string; writes?: string }[] };
    expect(moved.warnings).toEqual([]);
    expect(Object.fromEntries(moved.releases.map((r) => [r.releaseId, r.writes]))).toMatchObject({ [v1]: 'redirected', [v2]: 'open' });
    // AND two clients write one product at the same rev, one through each stack's load balancer (the
    // second's DNS answer not expired yet): v1 redirects its write to v2, which applies both in the
    // order they came, and the reverse sync leaves v1 the same. Two stacks both taking writes would
    // each end with the other's write (equal revs: each applies the other's record last).
    const fleet = new LocalFleet({ stateDir });
    const write = (releaseId: string, title: string) =>
      httpJsonThroughFence(
        { baseUrl: fleetLoadBalancerUrl(stateDir, releaseId), method: 'PUT', path: '/products/lc-two-writers', body: productBody(title, 20) },
        { resolveName: (dns) => fleet.endpointOf(dns), deadlineMs: Date.now() + 10_000 },
      );
    expect(await write(v2, 'first, on v2')).toMatchObject({ status: 200, redirected: false });
    expect(await write(v1, 'second, sent to v1')).toMatchObject({ status: 200, redirected: true });
    await expect.poll(() => titleOf(baseUrl(v1), 'lc-two-writers'), { timeout: 20_000 }).toBe('second, sent to v1');
    expect(await titleOf(baseUrl(v2), 'lc-two-writers')).toBe('second, sent to v1');
    expectUserError(await cli(['teardown', '--sha', repo.v1]), 'TEARDOWN_IN_WINDOW');
    expect(await verifyProducts(v1, v2, 1, 2)).toBe(0);
    // AND the forward sync v1 → v2 is not running (stopped here; a crash does the same) when
    // writes land on v1 (clients whose DNS answer had not expired yet) just before the teardown
    const forward = { direction: 'forward' as const, sourceReleaseId: v1, targetReleaseId: v2 };
    await requestSyncStop(ledger(), forward);
    await expect.poll(async () => (await readSyncStatus(ledger(), forward))?.stoppedAt, { timeout: 20_000 }).toBeDefined();
    const late = [...generateV1Products({ products: 500, firstId: 500_000 })];
    await putAll(physicalTableName(app, v1, 'products'), late);
    const td = await cli(['teardown', '--sha', repo.v1, '--force']);
    expectOk(td);
    expect((td.result as { backups: string[] }).backups.length).toBeGreaterThan(0);
    // THEN the teardown restarted the sync and drained that backlog into v2: every late product is there
    const latePks = new Set(late.map((i) => i.pk));
    const arrived = (await scanAll(physicalTableName(app, v2, 'products'))).filter((i) => i.sk === 'PRODUCT' && latePks.has(i.pk));
    expect(arrived.length).toBe(latePks.size);

    // THEN status and history tell the story
    const status = await cli(['status', '--all']);
    expectOk(status);
    const view = status.result as { live: string; releases: { releaseId: string; phase: string }[] };
    expect(view.live).toBe(v2);
    expect(view.releases.find((r) => r.releaseId === v1)?.phase).toBe('TornDown');
    const history = await cli(['history']);
    expectOk(history);
    const entries = history.result as { releaseId: string; durations: Record<string, number> }[];
    expect(entries.find((e) => e.releaseId === v2)?.durations).toHaveProperty('promote');
  }, 300_000); // the whole lifecycle through the CLI, a process per command: about 2.5 minutes here

  it('refuses a second mutating command while one holds the app lock', async () => {
    const sha = repo.commit('a third commit');
    const first = cli(['release', '--sha', sha]);
    // Wait until the first holds the lock (its first step started), then try a second.
    const deadline = Date.now() + 60_000;
    let second: CliRun | undefined;
    while (Date.now() < deadline) {
      const holder = await store().ledger.client.send(new (await import('@aws-sdk/lib-dynamodb')).GetCommand({ TableName: `${app}-ledger`, Key: { pk: 'APP', sk: 'LOCK' } }));
      if (holder.Item) {
        second = await cli(['release', '--sha', sha]);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(second).toBeDefined();
    expectUserError(second!, 'LOCK_HELD');
    expectOk(await first);
  });

  it('makes a branch stack with a copy of production data, and gc collects it once the branch is gone', async () => {
    repo.git('branch', 'feature/lc');
    const released = await cli(['release', '--branch', 'feature/lc']);
    expectOk(released);
    const branchId = 'br-feature-lc';
    expect(released.result).toMatchObject({ releaseId: branchId, phase: 'Ready' });
    const live = (await store().appState()).live!;
    expect(await verifyProducts(live, branchId, 2, 2)).toBe(0);

    // WHEN the branch is deleted, gc tears the stack down
    repo.git('branch', '-D', 'feature/lc');
    const gc = await cli(['gc', '--no-backup']);
    expectOk(gc);
    expect(gc.result).toMatchObject({ collected: [{ releaseId: branchId }] });
    expect((await store().get(branchId))?.checkpoints.tornDown).toBeDefined();
    // AND the tarball of v1 (torn down before) is deleted; the live release's (which the branch shared) is kept
    const keyOf = async (releaseId: string) => (await store().get(releaseId))!.checkpoints.published!;
    const [v1Artifact, liveArtifact] = [await keyOf(id(repo.v1)), await keyOf(live)];
    expect((await store().get(branchId))!.checkpoints.published!.key).toBe(liveArtifact.key);
    expect((gc.result as { artifactsDeleted: string[] }).artifactsDeleted).toEqual([v1Artifact.key]);
    const s3 = new S3Client({});
    await s3.send(new HeadObjectCommand({ Bucket: liveArtifact.bucket, Key: liveArtifact.key }));
    await expect(s3.send(new HeadObjectCommand({ Bucket: v1Artifact.bucket, Key: v1Artifact.key }))).rejects.toMatchObject({ name: 'NotFound' });
  });
});
