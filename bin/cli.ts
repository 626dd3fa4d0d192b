#!/usr/bin/env node
/**
 * The release orchestrator's CLI: `npm run <verb> -- …` or `stackshift <verb> …`.
 *
 *   release  --sha <sha> | --branch <name>   build, bake, deploy, copy, sync, verify, check → READY
 *   promote  --sha <sha> [--steps 10,50,100 --interval 60s]   flip the public record to it
 *   rollback                                 flip back to the previous release, losing no write
 *   teardown --sha <sha> | --branch <name>   destroy a release's stack (never the live one)
 *   status [--watch] [--report <file>] | plan --sha <sha> | history | gc
 *
 * Targets local AWS unless STACKSHIFT_TARGET=aws: then the SDK's own configuration (profile,
 * region) is used. Locally, the emulators are started if they are not running (idempotent).
 * `--json`: progress as JSON lines on stderr, the result as one JSON object on stdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { parseDuration, parseSteps } from '../lib/dns';
import { userError } from '../lib/errors';
import { defaultIoHost, type IoHost } from '../lib/io';
import { resolveSha } from '../lib/infra/git';
import { FLEET_IO } from '../lib/infra/local-fleet';
import { runLocalLoadBalancer } from '../lib/infra/local-load-balancer';
import { localAwsEnv, runningLocalAws, shellExports, startLocalAws, stopLocalAws } from '../lib/local';
import { ensureLocalTools } from '../lib/local/local-tools';
import { parseAppConfig } from '../lib/manifest/app-config';
import { releaseIdFromBranch, releaseIdFromSha } from '../lib/manifest/table-manifest';
import type { ReleaseDefinition } from '../lib/config/definition';
import type { ReleaseEngine } from '../lib/release/engine';
import { assertPlanFits } from '../lib/release/plan-view';
import { writeModeOf } from '../lib/release/write-modes';
import { renderReleaseReport } from '../lib/release/release-report';
import { Stackshift } from '../lib/release/stackshift';
import { runSyncDaemon } from '../lib/release/sync-daemon';
import { type SyncDirection } from '../lib/ledger/sync-status';
import type { StatusView } from '../lib/release/views';
import { initProject, type InitTable } from '../lib/config/init-project';
import { findConfigFile, loadConfig } from '../lib/config/load-config';
import { addDataCommands } from './data-commands';
import { renderHistory, renderPlan, renderStatus } from './render';
import { runMain } from './run-main';

interface Global {
  readonly json?: boolean;
  readonly repo?: string;
  readonly config?: string;
}

const json = process.argv.includes('--json');
const io: IoHost = defaultIoHost({ json });

async function stackshiftFor(g: Global): Promise<Stackshift> {
  return new Stackshift({ ioHost: io, definition: await definitionFor(g), repoDir: repoDirOf(g) });
}

function repoDirOf(g: Global): string {
  return path.resolve(g.repo ?? process.env.STACKSHIFT_REPO ?? process.cwd());
}

/** The team's config, and the AWS it targets: local AWS unless STACKSHIFT_TARGET=aws. */
async function definitionFor(g: Global): Promise<ReleaseDefinition> {
  // the config first: a command in the wrong directory starts nothing
  const definition = await loadConfig(findConfigFile(repoDirOf(g), g.config ?? process.env.STACKSHIFT_CONFIG));
  if (process.env.STACKSHIFT_TARGET !== 'aws') {
    // The embedded default: local AWS on loopback, started (or reused) here.
    const { state } = await startLocalAws({ ioHost: io, stateDir: process.env.STACKSHIFT_LOCAL_STATE_DIR });
    Object.assign(process.env, localAwsEnv(state));
  }
  return withAppOverride(definition);
}

/**
 * STACKSHIFT_APP runs the same definition under another app name: its own stacks, tables, ledger
 * and lock (several copies side by side, e.g. integration tests sharing one local AWS).
 */
function withAppOverride(definition: ReleaseDefinition): ReleaseDefinition {
  const app = process.env.STACKSHIFT_APP;
  return app ? { ...definition, config: parseAppConfig({ ...definition.config, app }) } : definition;
}

function output(g: Global, result: unknown, render: () => string): void {
  process.stdout.write(g.json ? `${JSON.stringify(result)}\n` : `${render()}\n`);
}

/**
 * Asks before a destructive verb, on a terminal only (as `cdk destroy` and `kamal remove` do); in a
 * script or CI, or with --yes, it goes ahead.
 */
async function confirm(yes: boolean | undefined, question: string): Promise<void> {
  if (yes || json || !process.stdin.isTTY || !process.stderr.isTTY) return;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw userError('CANCELLED', 'cancelled: nothing was changed', { fix: 'answer y, or pass --yes' });
  } finally {
    rl.close();
  }
}

/** `--sha` or `--branch`, exactly one, as a release id. */
async function releaseIdOf(engine: ReleaseEngine, o: { sha?: string; branch?: string }): Promise<string> {
  if ((o.sha === undefined) === (o.branch === undefined)) {
    throw userError('OPTION_INVALID', 'name the release with exactly one of --sha and --branch', { fix: 'e.g. --sha 0123abc' });
  }
  if (o.branch !== undefined) return releaseIdFromBranch(o.branch);
  // A short sha or a tag resolves through git when it can; a sha of a release made elsewhere is taken as is.
  try {
    return releaseIdFromSha(await resolveSha(engine.repoDir, o.sha!));
  } catch (e) {
    if (/^[0-9a-f]{12,40}$/.test(o.sha!)) return releaseIdFromSha(o.sha!);
    throw e;
  }
}

const program = new Command('stackshift')
  .description('ship every release as a new immutable stack with a migrated, stream-synced copy of production data')
  .option('--json', 'JSON lines on stderr; the result as one JSON object on stdout')
  .option('--repo <dir>', 'the git repository releases are built from (default: $STACKSHIFT_REPO or the current directory)')
  .option('--config <file>', 'the stackshift config (default: $STACKSHIFT_CONFIG, else stackshift.config.ts at the repository root, then in release/)')
  // Global options are taken before or after the verb (`status --json` as the README shows).
  // A usage error is a user error like any other: one line (a JSON line with --json), exit 1;
  // commander's own error text would be a second one.
  .configureOutput({ outputError: () => undefined })
  // --repo is the project: its .stackshift/ state, and what child processes (syncs) work in
  .hook('preAction', (cmd) => {
    const repo = cmd.opts<Global>().repo;
    if (repo !== undefined) process.env.STACKSHIFT_REPO = path.resolve(repo);
  })
  .exitOverride((err) => {
    if (err.exitCode === 0) process.exit(0); // --help, --version
    throw userError('USAGE', err.message.replace(/^error: /, ''), { fix: 'see `stackshift <verb> --help`' });
  });

program.addHelpText(
  'after',
  `
Examples:
  $ stackshift init                          adopt stackshift in this repository
  $ stackshift release --sha HEAD            a new stack for the current commit, data copied and synced → Ready
  $ stackshift promote --sha 1a2b3c4 --steps 10,50,100 --interval 60s
  $ stackshift rollback                      back to the previous release, no write lost
  $ stackshift status --watch
  $ stackshift teardown --sha 0f9e8d7        after a backup of its tables (asks first on a terminal)

Environment:
  STACKSHIFT_TARGET=aws       deploy to AWS with the SDK's own configuration (profile, region);
                              default: local AWS (moto and DynamoDB Local on 127.0.0.1, started on demand)
  STACKSHIFT_CONFIG           the config file (as --config)
  STACKSHIFT_REPO             the repository (as --repo); its .stackshift/ holds local state
  STACKSHIFT_APP              run the config under another app name (its own stacks, tables and ledger)
  STACKSHIFT_LOCAL_STATE_DIR  local AWS's state folder (default: .stackshift/local)
  STACKSHIFT_MOTO_PORT, STACKSHIFT_DYNAMODB_PORT   fixed local ports (default: free ones)

Exit codes: 0 done, 1 refused or bad input (one line says what and how to fix it), 2 a failure of the tool or AWS.`,
);

program
  .command('release')
  .description('build, bake, deploy, copy and sync a release until it is READY (re-run to resume)')
  .option('--sha <sha>', 'commit to release (default HEAD)')
  .option('--branch <name>', 'make a developer stack of this branch with a copy of production data')
  .option('--allow-dirty', 'release although the working tree has uncommitted changes')
  .action(async (o: { sha?: string; branch?: string; allowDirty?: boolean }) => {
    const g = program.opts<Global>();
    const result = await (await stackshiftFor(g)).release(o);
    output(g, { releaseId: result.releaseId, phase: result.phase, checkpoints: result.record.checkpoints }, () => `${result.releaseId}: ${result.phase}`);
  });

program
  .command('promote')
  .description('flip the public record to a READY release (in weighted steps if asked); keeps the previous one for rollback')
  .option('--sha <sha>', 'the release to promote')
  .option('--steps <list>', 'percentages of traffic, ascending, ending at 100, e.g. 10,50,100')
  .option('--interval <duration>', 'how long each step runs before its health check, e.g. 60s', '0s')
  .option('--allow-lossy-rollback', 'promote although a migration has no down (writes after the flip would be lost on rollback)')
  .option('--abort', 'undo an interrupted promote: all traffic back on the live release, every write made elsewhere carried over')
  .option('--no-fence', 'let both releases take writes while traffic moves, instead of holding writes for the cut-over (docs/writes-during-a-flip.md)')
  .action(async (o: { sha?: string; steps?: string; interval: string; allowLossyRollback?: boolean; abort?: boolean; fence: boolean }) => {
    const g = program.opts<Global>();
    if (o.abort) {
      if (o.sha !== undefined || o.steps !== undefined) throw userError('OPTION_INVALID', '--abort takes no --sha or --steps', { fix: 'run `promote --abort` alone' });
      const result = await (await stackshiftFor(g)).abortPromote();
      output(g, { releaseId: result.releaseId, phase: result.phase }, () => `${result.releaseId}: ${result.phase} (takes all traffic)`);
      return;
    }
    if (o.sha === undefined) throw userError('OPTION_INVALID', 'promote needs --sha <sha> (or --abort)', { fix: 'e.g. npm run promote -- --sha 0123abc' });
    const steps = o.steps ? parseSteps(o.steps) : undefined;
    const intervalMs = parseDuration(o.interval);
    const stackshift = await stackshiftFor(g);
    const result = await stackshift.promote({ releaseId: await releaseIdOf(stackshift.engine, { sha: o.sha }), steps, intervalMs, allowLossyRollback: o.allowLossyRollback, fence: o.fence });
    const cut = result.record.checkpoints.cutOver;
    // The first release has no other stack: nothing to say about writes moving.
    const writeMode = result.record.checkpoints.promoted?.previousReleaseId ? writeModeOf({ steps, fence: o.fence }) : undefined;
    output(g, { releaseId: result.releaseId, phase: result.phase, ...(writeMode ? { writeMode } : {}), ...(cut ? { writePauseMs: cut.writePauseMs } : {}) }, () =>
      `${result.releaseId}: ${result.phase}${cut ? ` (writes fenced, held ${cut.writePauseMs} ms)` : writeMode ? ' (two writers while clients moved)' : ''}`,
    );
  });

program
  .command('rollback')
  .description('flip back to the previous release and drain the reverse sync: no write is lost')
  .option('--no-fence', 'let both releases take writes while traffic moves back, instead of holding writes for the cut-over')
  .action(async (o: { fence: boolean }) => {
    const g = program.opts<Global>();
    const result = await (await stackshiftFor(g)).rollback({ fence: o.fence });
    const cut = result.record.checkpoints.rollbackCutOver;
    const writeMode = writeModeOf({ fence: o.fence });
    output(g, { live: result.releaseId, rolledBack: result.record.releaseId, writeMode, ...(cut ? { writePauseMs: cut.writePauseMs } : {}) }, () =>
      `${result.releaseId} is live again (${result.record.releaseId} rolled back${cut ? `, writes fenced, held ${cut.writePauseMs} ms` : ', two writers while clients moved'})`,
    );
  });

program
  .command('teardown')
  .description('destroy a release\'s stack after a backup of its tables (never the live one)')
  .option('--sha <sha>', 'the release to tear down')
  .option('--branch <name>', 'the branch stack to tear down')
  .option('--force', 'tear down the previous release inside its rollback window')
  .option('--no-backup', 'skip the on-demand backup of its tables')
  .option('-y, --yes', 'do not ask for confirmation on a terminal')
  .action(async (o: { sha?: string; branch?: string; force?: boolean; backup: boolean; yes?: boolean }) => {
    const g = program.opts<Global>();
    const stackshift = await stackshiftFor(g);
    const releaseId = await releaseIdOf(stackshift.engine, o);
    await confirm(o.yes, `Destroy the stack and tables of ${releaseId} (app ${stackshift.engine.app})${o.backup ? ', after a backup of its tables' : ', WITHOUT a backup'}?`);
    const result = await stackshift.teardown({ releaseId, force: o.force, noBackup: !o.backup });
    output(g, { releaseId: result.releaseId, phase: result.phase, backups: result.record.checkpoints.tornDown?.backups ?? [] }, () => `${result.releaseId}: ${result.phase}`);
  });

program
  .command('status')
  .description('every release: phase, live and previous, copy progress, sync lag, dead letters, gates')
  .option('--all', 'include torn-down releases')
  .option('--watch', 'redraw every 2 seconds until interrupted')
  .option('--report <file>', 'also write an HTML report of every release (phase, verdict, syncs, gates, timeline) to this file')
  .action(async (o: { all?: boolean; watch?: boolean; report?: string }) => {
    const g = program.opts<Global>();
    const stackshift = await stackshiftFor(g);
    for (;;) {
      const view = await stackshift.status(o);
      if (o.watch && !g.json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
      // a frame says when it was drawn: two alike frames are not one stuck screen
      const header = o.watch ? `stackshift status: ${view.app} at ${new Date().toISOString().slice(0, 19).replace('T', ' ')} UTC (every 2 s; Ctrl-C stops)\n\n` : '';
      output(g, view, () => header + renderStatus(view));
      if (o.report) await writeStatusReport(stackshift, view, o.report);
      if (!o.watch) return;
      await sleep(2000);
    }
  });

/** `status --report <file>`: the status with each release's history and step timings, as one HTML page. */
async function writeStatusReport(stackshift: Stackshift, status: StatusView, file: string): Promise<void> {
  const history = await stackshift.history();
  // no history: no ledger to read steps from either (an app never released)
  const steps = history.length ? Object.fromEntries((await stackshift.engine.store.list()).map((r) => [r.releaseId, r.steps])) : {};
  fs.writeFileSync(file, renderReleaseReport({ status, history, steps }));
}

program
  .command('plan')
  .description('what releasing a sha would do — stack diff, migrations, copy estimate, rollback — changing nothing')
  .option('--sha <sha>', 'commit to plan (default HEAD)', 'HEAD')
  .action(async (o: { sha: string }) => {
    const g = program.opts<Global>();
    const view = await (await stackshiftFor(g)).plan({ sha: o.sha });
    output(g, view, () => renderPlan(view));
    assertPlanFits(view);
  });

program
  .command('history')
  .description('every release with its outcome, who, when and how long each verb took')
  .action(async () => {
    const g = program.opts<Global>();
    const view = await (await stackshiftFor(g)).history();
    output(g, view, () => renderHistory(view));
  });

program
  .command('gc')
  .description('tear down branch stacks whose branch is gone or whose TTL passed')
  .option('--no-backup', 'skip the backup of their tables')
  .option('-y, --yes', 'do not ask for confirmation on a terminal')
  .action(async (o: { backup: boolean; yes?: boolean }) => {
    const g = program.opts<Global>();
    const stackshift = await stackshiftFor(g);
    await confirm(o.yes, `Tear down every branch stack of ${stackshift.engine.app} whose branch is gone or whose TTL passed?`);
    const result = await stackshift.gc({ noBackup: !o.backup });
    output(g, result, () =>
      [
        ...result.collected.map((c) => `${c.releaseId}: ${c.reason}`),
        ...(result.artifactsDeleted.length ? [`${result.artifactsDeleted.length} unused artifact(s) deleted`] : []),
      ].join('\n') || 'nothing to collect',
    );
  });

program
  .command('init')
  .description('adopt stackshift in this repository: stackshift.config.ts, migrations/, <appDir>/release.json, .stackshift/ in .gitignore, and local AWS\'s tools (never overwrites a file)')
  .option('--app <name>', 'the app name, prefix of every stack and table (default: package.json name, else the folder name)')
  .option('--zone <name>', 'the public hosted zone of the release record (default: <app>.example.test)')
  .option('--app-dir <dir>', 'the app\'s folder, relative to the repository root (default: app if it exists, else .)')
  .option('--app-entry <file>', 'the app\'s entry point in that folder (default: its package.json main, else server.js or the like)')
  .option('--table <name:partitionKey[:sortKey]>', 'a table of the app (repeat for several; default items:id)', (v: string, all: InitTable[]) => [...all, parseInitTable(v)], [] as InitTable[])
  .option('--no-local-setup', 'skip checking Java and installing moto into .stackshift/venv')
  .action(async (o: { app?: string; zone?: string; appDir?: string; appEntry?: string; table: InitTable[]; localSetup: boolean }) => {
    const g = program.opts<Global>();
    const result = initProject({ projectDir: repoDirOf(g), app: o.app, zoneName: o.zone, appDir: o.appDir, appEntry: o.appEntry, tables: o.table });
    const tools = o.localSetup ? await ensureLocalTools({ ioHost: io }) : undefined;
    output(g, { ...result, ...(tools ? { localTools: tools } : {}) }, () =>
      [
        ...result.written.map((f) => `wrote ${f}`),
        ...result.leftAlone.map((f) => `left ${f} alone (it exists)`),
        ...(result.gitignoreUpdated ? ['added .stackshift/ to .gitignore'] : []),
        ...(tools ? [`local AWS: java ${tools.javaVersion}, moto server in .stackshift/venv`] : []),
        'next: edit stackshift.config.ts, commit, then `npx stackshift release`',
      ].join('\n'),
    );
  });

/** `orders:pk:sk` → a table keyed by string attributes. */
function parseInitTable(v: string): InitTable {
  const [name, partitionKey, sortKey, ...rest] = v.split(':');
  if (!name || !partitionKey || rest.length > 0) throw userError('OPTION_INVALID', `--table "${v}" is not name:partitionKey[:sortKey]`, { fix: 'e.g. --table orders:customerId:orderId' });
  return { name, partitionKey, ...(sortKey ? { sortKey } : {}) };
}

const local = program.command('local').description('local AWS for this project: moto and DynamoDB Local on 127.0.0.1, state in .stackshift/');
local
  .command('setup')
  .description('check Java 17+ and install moto server into .stackshift/venv (done on first use anyway)')
  .action(async () => {
    const tools = await ensureLocalTools({ ioHost: io });
    output(program.opts<Global>(), tools, () => `java ${tools.javaVersion}; moto server ${tools.installed ? 'installed' : 'in place'} (${tools.motoServer})`);
  });
local
  .command('up')
  .description('start moto and DynamoDB Local (or reuse the running ones) and print export lines for eval "$(…)"')
  .action(async () => {
    const { state } = await startLocalAws({ ioHost: io, stateDir: process.env.STACKSHIFT_LOCAL_STATE_DIR });
    process.stdout.write(shellExports(localAwsEnv(state)));
  });
local
  .command('down')
  .description('stop the emulators "local up" started')
  .action(async () => {
    await stopLocalAws({ ioHost: io, stateDir: process.env.STACKSHIFT_LOCAL_STATE_DIR });
  });
local
  .command('env')
  .description('print export lines for the running emulators')
  .action(() => {
    process.stdout.write(shellExports(localAwsEnv(runningLocalAws({ stateDir: process.env.STACKSHIFT_LOCAL_STATE_DIR }))));
  });

addDataCommands(program, { io, json, definition: () => definitionFor(program.opts<Global>()) });

// Internal: the long-lived sync between two releases, launched detached by release and promote.
program
  .command('_sync', { hidden: true })
  .addOption(new Option('--direction <d>').choices(['forward', 'reverse']).makeOptionMandatory())
  .requiredOption('--source <releaseId>')
  .requiredOption('--target <releaseId>')
  .action(async (o: { direction: SyncDirection; source: string; target: string }) => {
    const { engine } = await stackshiftFor(program.opts<Global>());
    const stop = new AbortController();
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => stop.abort());
    await runSyncDaemon(engine, { direction: o.direction, sourceReleaseId: o.source, targetReleaseId: o.target }, stop.signal);
  });

// The local stand-in for a release's load balancer (lib/infra/local-fleet.ts starts it).
program
  .command('_local-lb', { hidden: true })
  .requiredOption('--dns-name <name>')
  .requiredOption('--app-port <port>', 'where the app listens', (v) => Number(v))
  .requiredOption('--port <port>', 'where to listen', (v) => Number(v))
  .action(async (o: { dnsName: string; appPort: number; port: number }) => {
    const stop = new AbortController();
    let stoppedBy: NodeJS.Signals | null = null;
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      process.once(s, () => {
        stoppedBy = s;
        stop.abort();
      });
    }
    // Its log is all that is left of it: say why it ended (a signal, or none: a crash prints its own error).
    process.once('exit', (exitCode) =>
      FLEET_IO.FLEET_I1110.emit(io, `the load balancer of ${o.dnsName} ends (exit code ${exitCode}${stoppedBy ? `, on ${stoppedBy}` : ', without a signal'})`, {
        dnsName: o.dnsName,
        exitCode,
        signal: stoppedBy,
      }),
    );
    await runLocalLoadBalancer(
      { dnsName: o.dnsName, appPort: o.appPort, port: o.port, onPollError: (e) => FLEET_IO.FLEET_W1109.emit(io, `the rules of ${o.dnsName} are unreadable, the last ones stay in force: ${e.message}`, { dnsName: o.dnsName, error: e.message }) },
      stop.signal,
    );
  });

runMain(io, async () => {
  await program.parseAsync(process.argv);
});
