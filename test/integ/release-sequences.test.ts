/**
 * Sequences of verbs that lost writes or left traffic stuck (issue 13), through the real CLI
 * against local AWS, each a regression test of what was found:
 *   1. rollback → teardown → promote of a fix → rollback: the fix's reverse sync read the torn-down
 *      release's checkpoints, died, and the rollback lost a write acknowledged on the fix;
 *   2. a rollback whose reverse sync cannot run flipped anyway; now refused, traffic untouched;
 *   3. a dead sync showed its last lag for ~30 s; a verb run then waited on it ("already running");
 *   4. a teardown killed after its destroy could never finish;
 *   5. a weighted promote killed at 10 % had no way back, and its release could be torn down;
 *   6. `status --json` (options after the verb) was refused; a relaunched sync lost its old log;
 *   7. a rollback killed after its flip and run again was taken for an interrupted promote: all
 *      traffic went back to the release rolled back from (issue 15); and `history` lost runs.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createReleaseRepo, type ReleaseRepo } from '../../examples/catalog/release-repo';
import { createLedgerClient, Ledger } from '../../lib/ledger';
import { physicalTableName } from '../../lib/manifest/table-manifest';
import { ReleaseStore } from '../../lib/ledger/release-records';
import { readSyncStatus, type SyncPair } from '../../lib/ledger/sync-status';
import { fleetBaseUrl, getRev, putProduct } from '../_helpers/catalog-http';
import { codes, runCli, type CliMessage } from '../_helpers/cli';
import { expectOk, expectUserError } from '../_helpers/cli-expect';

const stateDir = inject('localStateDir');
const app = `sq${randomBytes(3).toString('hex')}`;
let repo: ReleaseRepo;
let fix: string;
const cli = (args: string[], killWhen?: (m: CliMessage) => boolean) => runCli(args, { app, repo: repo.dir, killWhen });
const id = (sha: string) => `sha-${sha.slice(0, 12)}`;
const ledger = () => new Ledger({ tableName: `${app}-ledger`, client: createLedgerClient(new DynamoDBClient({})) });
const store = () => new ReleaseStore(ledger());
const url = (releaseId: string) => fleetBaseUrl(stateDir, releaseId);

interface StatusJson {
  readonly live: string | null;
  readonly warnings: readonly string[];
  readonly releases: readonly {
    releaseId: string;
    phase: string;
    live: boolean;
    previous: boolean;
    trafficPercent: number;
    endpoint: string | null;
    syncs: readonly { direction: string; from: string; to: string; running: boolean; lagMs: number | null; error?: string }[];
  }[];
}

async function status(): Promise<StatusJson> {
  // Options after the verb, as the README writes them (case 6).
  const run = await runCli(['status', '--all', '--json'], { app, repo: repo.dir });
  expectOk(run);
  return run.result as StatusJson;
}

const release = (s: StatusJson, releaseId: string) => s.releases.find((r) => r.releaseId === releaseId)!;

async function setStream(releaseId: string, enabled: boolean): Promise<void> {
  await new DynamoDBClient({}).send(
    new UpdateTableCommand({
      TableName: physicalTableName(app, releaseId, 'products'),
      StreamSpecification: enabled ? { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } : { StreamEnabled: false },
    }),
  );
}

describe('sequences of verbs keep every acknowledged write and leave traffic where it can be served', () => {
  beforeAll(() => {
    repo = createReleaseRepo();
    fix = repo.commit('catalog v2 fix: same data version');
  });
  afterAll(async () => {
    for (const r of (await store().list()).filter((x) => !x.checkpoints.tornDown)) {
      await cli(['promote', '--abort']).catch(() => undefined);
      await cli(['teardown', '--sha', r.sha!, '--force', '--no-backup']).catch(() => undefined);
    }
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('release A, B; rollback; teardown B; release and promote C; rollback C keeps C\'s writes; refusals leave traffic alone; interrupted promotes and teardowns finish', async () => {
    const [a, b, c] = [id(repo.v1), id(repo.v2), id(fix)];
    // GIVEN A live, B promoted over it, then rolled back
    expectOk(await cli(['release', '--sha', repo.v1]));
    expectOk(await cli(['promote', '--sha', repo.v1]));
    expectOk(await cli(['release', '--sha', repo.v2]));
    expectOk(await cli(['promote', '--sha', repo.v2]));
    await putProduct(url(b), 'sq-b', 2);
    // (the rollback killed right after its flip, and run again: case 7)
    const flipped = await cli(['rollback'], (m) => m.code === 'STEP_I3101' && m.data?.verb === 'rollback' && m.data?.step === 'flip');
    expect(flipped.killed).toBe(true);
    const resumed = await cli(['rollback']);
    expectOk(resumed);
    // it drained from its flip, routing nothing again (neither a second flip nor an abort back to B)
    expect(codes(resumed)).not.toContain('DNS_I7000');
    expect(codes(resumed)).not.toContain('RELEASE_I3117');
    expect(resumed.messages.filter((m) => m.code === 'STEP_I3102').map((m) => m.data?.step)).toEqual(['syncs', 'cut-over', 'flip']);
    expect(release(await status(), a)).toMatchObject({ live: true, trafficPercent: 100 });
    expect(await getRev(url(a), 'sq-b')).toBe(2);
    // AND B torn down (a release rolled back from is no rollback target: no window applies)
    expectOk(await cli(['teardown', '--sha', repo.v2, '--no-backup']));

    // WHEN C (a fix at B's data version) is released from A and promoted
    expectOk(await cli(['release', '--sha', fix]));
    const promoted = await cli(['promote', '--sha', fix]);
    expectOk(promoted);
    // THEN Live means it: all traffic on C, and its reverse sync C → A running (case 1: it died at once)
    let s = await status();
    expect(release(s, c)).toMatchObject({ phase: 'Live', trafficPercent: 100 });
    expect(release(s, c).endpoint).toMatch(/^http:\/\//);
    expect(release(s, c).syncs.find((x) => x.direction === 'reverse')).toMatchObject({ to: a, running: true });
    // AND no row for the syncs of torn-down B
    expect(s.releases.flatMap((r) => r.syncs).some((x) => x.from === b || x.to === b)).toBe(false);

    // WHEN a client writes on C and the reverse sync is killed with -9
    await putProduct(url(c), 'sq-c', 3);
    const reverse: SyncPair = { direction: 'reverse', sourceReleaseId: c, targetReleaseId: a };
    process.kill((await readSyncStatus(ledger(), reverse))!.pid, 'SIGKILL');
    // THEN status says at once that it is not running, with no lag (case 3)
    s = await status();
    expect(release(s, c).syncs.find((x) => x.direction === 'reverse')).toMatchObject({ running: false, lagMs: null });
    // WHEN rolled back right away: the sync is started again (not "already running") and drained
    const rb = await cli(['rollback']);
    expectOk(rb);
    expect(rb.messages.some((m) => m.code === 'SYNC_I3004' && m.data?.reused === false && m.data?.sourceReleaseId === c)).toBe(true);
    // THEN A serves the write acknowledged on C, and B's as before
    expect(await getRev(url(a), 'sq-c')).toBe(3);
    expect(await getRev(url(a), 'sq-b')).toBe(2);
    // AND the relaunched sync appended to its log: both runs are there (case 6)
    const log = fs.readFileSync(path.join(stateDir, 'logs', `sync-${c}-${a}.log`), 'utf8');
    expect(log.match(/^--- /gm)?.length ?? 0).toBeGreaterThanOrEqual(2);

    // GIVEN C promoted again, and its reverse sync dead and unable to start again (C's stream off)
    expectOk(await cli(['promote', '--sha', fix]));
    await putProduct(url(c), 'sq-c2', 4);
    await expect.poll(async () => getRev(url(a), 'sq-c2'), { timeout: 20_000 }).toBe(4);
    process.kill((await readSyncStatus(ledger(), reverse))!.pid, 'SIGKILL');
    await setStream(c, false);
    // WHEN rolled back: refused before any flip, traffic stays on C (case 2)
    const refused = await cli(['rollback']);
    expect(refused.code).toBe(1);
    expect(refused.messages.find((m) => m.level === 'error')?.data?.code).toMatch(/^SYNC_/);
    expect(codes(refused)).not.toContain('DNS_I7000');
    s = await status();
    expect(release(s, c)).toMatchObject({ live: true, trafficPercent: 100 });
    // WHEN the stream is back (a new stream: a sync of its own reads it) and a write is made there
    await setStream(c, true);
    await putProduct(url(c), 'sq-c3', 5);
    expectOk(await cli(['rollback']));
    expect(await getRev(url(a), 'sq-c3')).toBe(5);

    // GIVEN a weighted promote of C killed once 10 % of traffic is on it (case 5)
    const killed = await cli(['promote', '--sha', fix, '--steps', '10,50,100'], (m) => m.code === 'DNS_I7002' && m.data?.percent === 10);
    expect(killed.killed).toBe(true);
    s = await status();
    expect(release(s, c).trafficPercent).toBe(10);
    expect(s.warnings.length).toBeGreaterThan(0);
    // THEN the release holding traffic cannot be torn down, even forced
    expectUserError(await cli(['teardown', '--sha', fix, '--force', '--no-backup']), 'TEARDOWN_HAS_TRAFFIC');
    // AND rollback puts all traffic back on A
    expectOk(await cli(['rollback']));
    s = await status();
    expect(release(s, a)).toMatchObject({ live: true, trafficPercent: 100 });
    expect(release(s, c).trafficPercent).toBe(0);
    expect(s.warnings).toEqual([]);
    // AND the same with promote --abort, after a client wrote on C at 10 %
    const again = await cli(['promote', '--sha', fix, '--steps', '10,50,100'], (m) => m.code === 'DNS_I7002' && m.data?.percent === 10);
    expect(again.killed).toBe(true);
    await putProduct(url(c), 'sq-c4', 6);
    expectOk(await cli(['promote', '--abort']));
    expect(release(await status(), a).trafficPercent).toBe(100);
    expect(await getRev(url(a), 'sq-c4')).toBe(6);

    // GIVEN a teardown of C killed right after its stack was destroyed (case 4)
    const td = await cli(['teardown', '--sha', fix, '--no-backup'], (m) => m.code === 'STEP_I3101' && m.data?.step === 'destroy');
    expect(td.killed).toBe(true);
    // THEN status does not show it as a rollback target
    expect(release(await status(), c)).toMatchObject({ phase: 'TearingDown', previous: false });
    // AND promoting it is refused
    expectUserError(await cli(['promote', '--sha', fix]), 'PROMOTE_NOT_READY');
    // AND the teardown run again finishes
    expectOk(await cli(['teardown', '--sha', fix, '--no-backup']));
    expect(release(await status(), c).phase).toBe('TornDown');
    // AND every acknowledged write is on the live release
    for (const [product, rev] of [['sq-b', 2], ['sq-c', 3], ['sq-c2', 4], ['sq-c3', 5], ['sq-c4', 6]] as const) expect(await getRev(url(a), product)).toBe(rev);

    // AND history has every run of every verb, in order, each with how it ended (case 7)
    const history = await cli(['history']);
    expectOk(history);
    const runsOf = (releaseId: string) =>
      (history.result as { releaseId: string; runs: { verb: string; outcome: string }[] }[]).find((e) => e.releaseId === releaseId)!.runs.map((r) => `${r.verb} ${r.outcome}`);
    expect(runsOf(b)).toEqual(['release done', 'promote done', 'rollback interrupted', 'rollback done', 'teardown done']);
    expect(runsOf(c)).toEqual([
      'release done',
      'promote done',
      'rollback done',
      'promote done',
      'rollback failed',
      'rollback done',
      'promote aborted',
      'promote aborted',
      'teardown interrupted',
      'teardown done',
    ]);
  }, 600_000);
});
