/** Plain-text renderings of the read-only views, for people; `--json` prints the views as they are. */
import type { PlanView } from '../lib/release/plan-view';
import type { HistoryEntry, StatusView } from '../lib/release/views';

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function renderStatus(v: StatusView): string {
  if (v.releases.length === 0) return `${v.app}: no releases yet`;
  const rows = v.releases.map((r) => {
    const copy = Object.entries(r.copy).map(([t, c]) => `${t} ${c.completed}/${c.segments}${c.dead ? ` (${c.dead} DEAD)` : ''}`).join(', ') || '-';
    const syncs = r.syncs.map((s) => `${s.direction === 'forward' ? '←' : '→'}${s.direction === 'forward' ? s.from : s.to} ${s.running ? `${s.lagMs ?? '?'} ms` : `stopped ${s.stoppedAt ?? ''}`}${s.error ? ` ERROR: ${s.error}` : ''}`).join(', ') || '-';
    const gates = r.gates ? (r.gates.ok ? 'pass' : 'FAIL') : '-';
    return [r.releaseId + (r.live ? ' *' : r.previous ? ' ^' : ''), r.sha?.slice(0, 12) ?? r.branch ?? '', r.phase, `${r.trafficPercent} %`, r.writes ?? '-', copy, syncs, String(r.deadLetters), gates, r.failed ? `${r.failed.step}: ${r.failed.message}` : ''];
  });
  const warnings = v.warnings.map((w) => `\nWARNING: ${w}`).join('');
  return `${table(['RELEASE', 'SHA/BRANCH', 'PHASE', 'TRAFFIC', 'WRITES', 'COPY (segments)', 'SYNC (lag)', 'DEAD', 'GATES', 'LAST FAILURE'], rows)}\n* live  ^ previous (rollback target)${warnings}`;
}

/** One line per verb run, every release's runs in the order they started. */
export function renderHistory(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'no releases yet';
  const time = (iso: string) => iso.replace('T', ' ').slice(0, 19);
  const lines: { at: string; cells: string[] }[] = [];
  for (const e of entries) {
    const release = [e.releaseId, e.sha?.slice(0, 12) ?? e.branch ?? ''];
    // A record without runs or step timings (created, then killed before its first step).
    if ((e.runs ?? []).length === 0) lines.push({ at: e.at, cells: [time(e.at), ...release, '-', e.outcome, '', e.by, e.failed ?? ''] });
    for (const r of e.runs ?? []) {
      const where = r.outcome === 'failed' ? `at ${r.failedStep ?? r.step ?? '?'}${r.code ? ` (${r.code})` : ''}` : r.outcome === 'interrupted' && r.step ? `at ${r.step}` : '';
      const duration = r.seconds !== undefined ? `${r.seconds}s` : r.outcome === 'running' ? '…' : '?';
      lines.push({ at: r.startedAt, cells: [time(r.startedAt), ...release, r.verb, r.outcome, duration, r.by, where] });
    }
  }
  // Stable: a release's runs keep their order when two start in the same second.
  const rows = lines.sort((a, b) => a.at.localeCompare(b.at)).map((l) => l.cells);
  return table(['STARTED', 'RELEASE', 'SHA/BRANCH', 'VERB', 'OUTCOME', 'DURATION', 'BY', 'WHERE'], rows);
}

export function renderPlan(p: PlanView): string {
  const head = `release ${p.releaseId} (${p.sha.slice(0, 12)})`;
  if (p.state === 'live') return `${head} is the live release: nothing to release`;
  if (p.state === 'torn-down') return `${head} was torn down: release refuses it; release a new commit`;
  const lines = [
    `${head}${p.state === 'new' ? '' : `: exists, ${p.state}; release resumes it`}`,
    `stack: ${p.stackChanges < 0 ? 'new app: edge and release stacks are created' : p.stackChanges === 0 ? 'no change against what is deployed' : `${p.stackChanges} change(s) against what is deployed`}`,
    ...p.resources.map((r) => `  ${r.action === 'add' ? '+' : r.action === 'remove' ? '-' : '~'} ${r.type} ${r.logicalId}`),
    `data: ${p.copyFrom ? `copied from live release ${p.copyFrom}` : 'no live release: tables start empty'}`,
  ];
  for (const t of p.tables) {
    lines.push(`  ${t.table}: v${t.fromVersion} → v${t.toVersion}, ${t.sourceItems} items${t.migrations.length ? `; ${t.migrations.join('; ')}` : ''}${t.reversible ? '' : ' — NO DOWN: rollback loses writes'}`);
  }
  lines.push(`copy estimate: ~${p.estimatedCopySeconds} s at ${p.estimateBasis} (stream retention ${p.streamRetentionSeconds / 3600} h: ${p.fitsRetention ? 'fits' : 'DOES NOT FIT'})`);
  lines.push(`rollback: ${p.losslessRollback ? 'lossless (every migration has a down)' : 'LOSSY — promote will need --allow-lossy-rollback'}`);
  if (p.copyFrom) {
    lines.push('writes at promote and rollback:');
    for (const m of p.writeModes) lines.push(`  ${m.mode} (${m.command}): ${m.guarantee}`);
  }
  return lines.join('\n');
}
