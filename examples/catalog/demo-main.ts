/**
 * `npm run demo`: the main job on local AWS, no account needed (see examples/catalog/demo.ts).
 * Starts a fresh local AWS of its own, runs the catalog release v1 → v2 under traffic with a
 * promote, a rollback, a second promote and a teardown, and prints the report; `--json` prints it
 * as one JSON object on the last line, `--report <file>` writes an HTML page with a plot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { DEMO_IO, runCatalogDemo, type DemoSample } from './demo';
import { estimateDemoSeconds, measureWriteCeiling } from './calibrate';
import { renderDemoReport, renderDemoSvg } from './demo-report';
import { userError } from '../../lib/errors';
import { parseSteps } from '../../lib/dns/parse';
import { defaultIoHost } from '../../lib/io';
import { defaultStateDir, localAwsEnv, startLocalAws, stopLocalAws } from '../../lib/local';
import { loadConfig } from '../../lib/config/load-config';
import type { ReleaseDefinition } from '../../lib/config/definition';
import { runMain } from '../../bin/run-main';

function fraction(v: string): number {
  const n = Number(v);
  if (!(v.trim() !== '' && n >= 0 && n <= 1)) throw userError('OPTION_INVALID', `"${v}" is not a fraction from 0 to 1`, { fix: 'pass e.g. 0.3' });
  return n;
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw userError('OPTION_INVALID', `"${v}" is not a positive whole number`, { fix: 'pass e.g. 300000' });
  return n;
}

const program = new Command('demo')
  .description('release the example catalog v1 → v2 on local AWS under live traffic: promote, rollback, promote, teardown')
  .addOption(new Option('--items <n>', 'products in production (3 channel items each); the full-size run is --items 300000').argParser(count).default(50_000))
  .addOption(new Option('--rate <n>', 'traffic: requests per second through the public record').argParser(count).default(40))
  .addOption(new Option('--hot <n>', 'seeded products the traffic reads and updates (fewer: each written more often)').argParser(count).default(5000))
  .addOption(new Option('--writes <fraction>', 'share of requests that are writes').argParser(fraction).default(0.3))
  .option('--no-if-match', 'clients send no If-Match: shows what a client without preconditions risks across a flip')
  .option('--two-writers', 'two clients write each product, each with its own DNS cache: around a flip one can be on each stack')
  .addOption(new Option('--steps <list>', 'promote v2 in these weighted steps, e.g. 25,100 (two writers while traffic moves; default one fenced step)').argParser(parseSteps))
  .addOption(new Option('--cycles <n>', 'rollback + promote again cycles after the first promote').argParser(count).default(1))
  .option('--no-fence', 'rollback and promote let both stacks take writes while traffic moves (no fenced cut-over)')
  .option('--report <file>', 'write an HTML report with a plot of the run (a file ending in .svg: the plot alone)')
  .option('--keep', 'leave local AWS and the apps running at the end')
  .option('--json', 'JSON lines on stderr and the report as one JSON object on stdout')
  .parse();
const opts = program.opts<{
  items: number;
  rate: number;
  hot: number;
  writes: number;
  ifMatch: boolean;
  twoWriters?: boolean;
  steps?: number[];
  cycles: number;
  fence: boolean;
  report?: string;
  keep?: boolean;
  json?: boolean;
}>();
const io = defaultIoHost({ json: opts.json });

/** The catalog's release definition, loaded like any team's config. */
const CONFIG_FILE = fileURLToPath(new URL('../../release/stackshift.config.ts', import.meta.url));

runMain(io, async () => {
  const definition = await loadConfig(CONFIG_FILE);
  // A local AWS of the demo's own: DynamoDB Local slows down as stream records pile up (README), so
  // every run starts clean, and a development set is never touched.
  const stateDir = process.env.STACKSHIFT_LOCAL_STATE_DIR ?? path.join(defaultStateDir(), `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const t0 = Date.now();
  const { state, started } = await startLocalAws({ ioHost: io, stateDir });
  Object.assign(process.env, localAwsEnv(state), { STACKSHIFT_LOCAL_STATE_DIR: stateDir });
  const localAwsSeconds = Math.round((Date.now() - t0) / 100) / 10;
  // Up front: how fast this machine's emulator is, and so how long the run will take here.
  const ceiling = await measureWriteCeiling();
  const estimate = estimateDemoSeconds(opts.items, ceiling);
  DEMO_IO.DEMO_I9103.emit(io, `this machine: DynamoDB Local writes ${ceiling} items/s (raw BatchWriteItem, its ceiling); ${opts.items} products should take about ${Math.ceil(estimate / 60)} min here`, {
    ceilingItemsPerSec: ceiling,
    estimatedSeconds: estimate,
    products: opts.items,
  });
  const samples: DemoSample[] = [];
  let repoDir: string | undefined;
  try {
    const report = await runCatalogDemo({
      ioHost: io,
      definition,
      stateDir,
      products: opts.items,
      ratePerSec: opts.rate,
      trafficProducts: opts.hot,
      writeFraction: opts.writes,
      conditionalWrites: opts.ifMatch,
      writersPerProduct: opts.twoWriters ? 2 : 1,
      fence: opts.fence,
      promoteSteps: opts.steps,
      cycles: opts.cycles,
      onSample: (s) => samples.push(s),
    });
    repoDir = report.repoDir;
    const full = {
      ...report,
      phases: { 'local AWS': localAwsSeconds, ...report.phases },
      totalSeconds: Math.round((Date.now() - t0) / 1000),
      estimatedSeconds: estimate,
      // the same run's ceiling: the figures that depend on the machine, as shares of it
      emulatorCeilingItemsPerSec: ceiling,
      copyToCeiling: Math.round((report.copyItemsPerSec / ceiling) * 100) / 100,
    };
    if (opts.report) fs.writeFileSync(opts.report, opts.report.endsWith('.svg') ? renderDemoSvg(samples) : renderDemoReport(full, samples));
    if (opts.json) {
      process.stdout.write(JSON.stringify(full) + '\n');
    } else {
      const w = (s: string) => process.stdout.write(s + '\n');
      w('');
      w(`products ${full.products} (${full.items} items), copied at ${full.copyItemsPerSec} items/s (${full.copyToCeiling} × this machine's ceiling of ${ceiling} items/s), forward-sync lag p99 ${full.lagP99Ms} ms`);
      w(`requests ${full.requests}, failed ${full.failedRequests}; acknowledged writes ${full.acknowledgedWrites}, lost ${full.lostWrites} (of them deletes undone: ${full.resurrected})`);
      w(
        `writes held by the fence: ${full.fencedWrites} (longest ${full.maxWritePauseMs} ms, p99 ${full.writePauseP99Ms} ms; cut-overs held writes ${full.cutOverPausesMs.map((ms) => `${ms} ms`).join(', ') || 'never'}), redirected to the new stack: ${full.redirectedWrites}`,
      );
      w(`writes that found their stack behind the client's last write and waited for the sync: ${full.heldWrites} (longest ${full.heldMaxMs} ms)`);
      // What went wrong, by name: a figure above zero must be explainable from this output alone.
      for (const f of full.failures.slice(0, 10)) w(`  failed ${f.method} ${f.path} on ${f.releaseId ?? '?'} at ${f.at}: ${f.error}`);
      for (const l of full.lost.slice(0, 10)) w(`  lost ${l.id}: expected ${JSON.stringify(l.expected)}, live has ${JSON.stringify(l.got)}`);
      for (const [k, v] of Object.entries(full.phases)) w(`  ${k.padEnd(18)} ${v} s`);
      w(`total ${full.totalSeconds} s (estimated ${estimate} s at the start)${opts.report ? `; report: ${opts.report}` : ''}`);
    }
    if (full.failedRequests > 0 || full.lostWrites > 0 || full.resurrected > 0) process.exitCode = 1;
  } finally {
    if (!opts.keep) {
      await stopReleases(stateDir, definition);
      // Only what this run started: a local AWS it found running (e.g. a test run's) stays up.
      if (started.length > 0) await stopLocalAws({ ioHost: io, stateDir, services: started });
    } else {
      // every option the commands need to find this run's releases: its state, repository and config
      const where = `${repoDir ? ` --repo ${repoDir}` : ''} --config ${CONFIG_FILE}`;
      process.stderr.write(`local AWS keeps running; see the releases with:\n  STACKSHIFT_LOCAL_STATE_DIR=${stateDir} npm run status --${where}\n`);
    }
  }
});

/**
 * The apps and sync daemons of this run's releases are detached processes: stop them with the
 * emulators. Only this app's: a state directory may be shared (a test run's), and another app's
 * releases there are not ours to stop.
 */
async function stopReleases(stateDir: string, definition: ReleaseDefinition): Promise<void> {
  const { ReleaseEngine } = await import('../../lib/release/engine');
  const { stopSync } = await import('../../lib/release/sync-launcher');
  const { LocalFleet } = await import('../../lib/infra/local-fleet');
  const engine = new ReleaseEngine({ ioHost: io, definition, stateDir });
  const fleet = new LocalFleet({ stateDir });
  for (const r of await engine.store.list().catch(() => [])) {
    await fleet.stop(r.releaseId);
    const pairs = [
      ...(r.checkpoints.forwardSync ? [{ direction: 'forward' as const, sourceReleaseId: r.checkpoints.forwardSync.sourceReleaseId, targetReleaseId: r.releaseId }] : []),
      ...(r.checkpoints.reverseSync ? [{ direction: 'reverse' as const, sourceReleaseId: r.releaseId, targetReleaseId: r.checkpoints.reverseSync.targetReleaseId }] : []),
    ];
    for (const p of pairs) await stopSync(engine, p, 5000).catch(() => undefined);
  }
}
