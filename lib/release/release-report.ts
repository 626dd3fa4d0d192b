/**
 * `stackshift status --report <file>` (issue 15): the releases of an app as one self-contained HTML
 * page a person reads at a glance, for any real release. Built from the read-only views only
 * (`statusView` and `historyView`, views.ts), plus each release's step timings when the caller has
 * them: per release its phase and verdict in words, traffic, copy, syncs and lag, dead letters,
 * gates with their details, and a timeline of its verb runs and their steps with durations.
 * No script, no external asset; every name from the ledger is escaped. The escaping and number
 * formatting here are also the demo report's (examples/catalog/demo-report.ts).
 */
import type { StepTiming } from '../ledger/release-records';
import type { ReleaseStatus, StatusView, SyncView } from './views';

/**
 * One verb run as `history` gives it. Only what the page needs, every field but the verb and the
 * start optional, so a history from an older or newer stackshift renders as well.
 */
export interface ReportRun {
  readonly verb: string;
  readonly startedAt: string;
  readonly by?: string;
  readonly endedAt?: string;
  readonly outcome?: string;
  readonly seconds?: number;
  readonly step?: string;
  readonly failedStep?: string;
  readonly code?: string;
}

/** One release as `history` gives it (views.ts `HistoryEntry`), tolerant in the same way. */
export interface ReportHistoryEntry {
  readonly releaseId: string;
  readonly sha?: string;
  readonly branch?: string;
  readonly outcome?: string;
  readonly by?: string;
  readonly at?: string;
  readonly durations?: Readonly<Record<string, number>>;
  readonly promotedAt?: string;
  readonly rolledBackAt?: string;
  readonly tornDownAt?: string;
  readonly failed?: string;
  readonly runs?: readonly ReportRun[];
}

export interface ReleaseReportInput {
  readonly status: StatusView;
  readonly history?: readonly ReportHistoryEntry[];
  /** Each release's step timings (its record's `steps`, keyed `verb:step`), for the timeline. */
  readonly steps?: Readonly<Record<string, Readonly<Record<string, StepTiming>>>>;
  /** @default now */
  readonly generatedAt?: Date | string;
}

type Tone = 'good' | 'info' | 'warn' | 'bad' | 'muted';

interface Verdict {
  readonly word: string;
  readonly tone: Tone;
  readonly text: string;
}

/** A release's phase in words: what it is doing for the app now, and what is wrong with it. */
export function releaseVerdict(r: ReleaseStatus): Verdict {
  const share = `${formatNumber(r.trafficPercent)} % of the traffic`;
  switch (r.phase) {
    case 'Live':
      return { word: 'LIVE', tone: 'good', text: `the live release: serves ${share}` };
    case 'Promoting':
      return { word: 'PROMOTING', tone: 'warn', text: `being promoted: serves ${share} so far` };
    case 'Previous':
      return { word: 'PREVIOUS', tone: 'info', text: `the rollback target (serves ${share})` };
    case 'Ready':
      return { word: 'READY', tone: 'info', text: 'copied, synced and checked: it can be promoted' };
    case 'Failed': {
      const f = r.failed;
      return { word: 'FAILED', tone: 'bad', text: f ? `failed at step ${f.step} (${f.code}): ${f.message}` : 'failed' };
    }
    case 'RolledBack':
      return { word: 'ROLLED BACK', tone: 'warn', text: 'rolled back: the traffic went back to the previous release' };
    case 'InProgress':
      return { word: 'IN PROGRESS', tone: 'info', text: 'a verb is running on it, or stopped part-way (run it again to resume)' };
    case 'Created':
      return { word: 'CREATED', tone: 'muted', text: 'recorded, no step run yet' };
    case 'TearingDown':
      return { word: 'TEARING DOWN', tone: 'warn', text: 'being torn down (run teardown again to finish)' };
    case 'TornDown':
      return { word: 'TORN DOWN', tone: 'muted', text: 'torn down: its stack and tables are gone' };
    default:
      return { word: String(r.phase).toUpperCase(), tone: 'info', text: String(r.phase) };
  }
}

/** What needs a person's attention on a release besides its phase. */
function concerns(r: ReleaseStatus): { tone: Tone; text: string }[] {
  const out: { tone: Tone; text: string }[] = [];
  if (r.failed && r.phase !== 'Failed') out.push({ tone: 'warn', text: `last failure, at step ${r.failed.step} (${r.failed.code}): ${r.failed.message}` });
  if (r.gates && !r.gates.ok) out.push({ tone: 'bad', text: `gates failing: ${r.gates.gates.filter((g) => !g.ok).map((g) => g.name).join(', ') || 'see below'}` });
  if (r.deadLetters > 0) out.push({ tone: 'warn', text: `${formatNumber(r.deadLetters)} dead letter${r.deadLetters === 1 ? '' : 's'}: items the copy or a sync could not write, held for redrive` });
  for (const s of r.syncs) {
    if (s.error) out.push({ tone: 'bad', text: `${syncName(s)} stopped with an error: ${s.error}` });
    else if (!s.running) out.push({ tone: 'warn', text: `${syncName(s)} is not running${s.stoppedAt ? ` (stopped ${formatTime(s.stoppedAt)})` : ''}` });
  }
  return out;
}

function syncName(s: SyncView): string {
  return s.direction === 'forward' ? `the forward sync from ${s.from}` : `the reverse sync to ${s.to}`;
}

/** The whole page. */
export function renderReleaseReport(input: ReleaseReportInput): string {
  const { status } = input;
  const generatedAt = input.generatedAt === undefined ? new Date() : new Date(input.generatedAt);
  const nowIso = generatedAt.toISOString();
  const history = new Map((input.history ?? []).map((h) => [h.releaseId, h]));
  const shown = new Set(status.releases.map((r) => r.releaseId));

  const summary = status.releases.length === 0 ? 'no releases yet' : appSummary(status);
  const cards = status.releases.map((r) => releaseCard(r, history.get(r.releaseId), input.steps?.[r.releaseId], nowIso));
  const earlier = (input.history ?? []).filter((h) => !shown.has(h.releaseId));
  const title = `stackshift: ${status.app} — ${summary}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin:0}h3{font-size:1em;margin:1em 0 .3em;color:#444}
.meta{color:#555}.summary{font-size:1.15em;font-weight:600;margin:.6em 0}
.card{border:1px solid #ddd;border-left:6px solid #999;border-radius:6px;padding:.8em 1em;margin:1.2em 0}
.card.good{border-left-color:#3a9a34}.card.info{border-left-color:#3a72c4}.card.warn{border-left-color:#d99a00}.card.bad{border-left-color:#c9302c}.card.muted{border-left-color:#aaa}
.badge{display:inline-block;font-size:.8em;font-weight:700;padding:.15em .5em;border-radius:4px;margin-right:.5em;vertical-align:middle}
.badge.good{background:#e3f4e1;color:#1d5e1a}.badge.info{background:#e3ecf9;color:#1f4b8f}.badge.warn{background:#fdf1d6;color:#7a5600}.badge.bad{background:#fbe3e1;color:#8a1c12}.badge.muted{background:#eee;color:#555}
.verdict{margin:.4em 0}.concern{margin:.2em 0;padding:.2em .6em;border-radius:4px}.concern.warn{background:#fdf6e3}.concern.bad{background:#fbe9e7}
.warning{background:#fdf1d6;border:1px solid #e8c66a;border-radius:6px;padding:.5em .8em;margin:.6em 0}
table{border-collapse:collapse;margin:.2em 0}td,th{padding:2px 10px;border-bottom:1px solid #e6e6e6;text-align:left;vertical-align:top}
th{font-weight:600;color:#555;white-space:nowrap}td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.ok{color:#1d5e1a;font-weight:600}.no{color:#8a1c12;font-weight:600}
td.bar{width:260px;min-width:160px}td.bar div{height:10px;border-radius:2px;background:#7da7d9;min-width:2px}
tr.step td{color:#555;font-size:.92em}tr.step td:first-child{padding-left:2em}
td.bar div.done{background:#6aa765}td.bar div.failed{background:#d9534f}td.bar div.interrupted,td.bar div.aborted{background:#e0a800}td.bar div.running{background:#7da7d9}td.bar div.step{background:#b9cde6}
code{font-size:.95em}.note{color:#666;font-size:.9em}
</style></head><body>
<header>
<h1>${escapeHtml(status.app)}: releases</h1>
<p class="meta">generated ${escapeHtml(formatTime(nowIso))} by <code>stackshift status --report</code></p>
<p class="summary">${escapeHtml(summary)}</p>
${status.warnings.map((w) => `<p class="warning">WARNING: ${escapeHtml(w)}</p>`).join('\n')}
</header>
${cards.join('\n')}
${earlier.length ? earlierTable(earlier) : ''}
<p class="note">One self-contained page: no script, no external asset. Traffic shares are what Route 53 answers now; lag is what each running sync last reported.</p>
</body></html>
`;
}

function appSummary(status: StatusView): string {
  const parts: string[] = [];
  const live = status.releases.find((r) => r.live);
  parts.push(live ? `live: ${live.releaseId} (${formatNumber(live.trafficPercent)} % of the traffic)` : 'no live release');
  const previous = status.releases.find((r) => r.previous);
  if (previous) parts.push(`previous: ${previous.releaseId}`);
  const failed = status.releases.filter((r) => r.phase === 'Failed').length;
  if (failed) parts.push(`${failed} failed`);
  const ready = status.releases.filter((r) => r.phase === 'Ready').length;
  if (ready) parts.push(`${ready} ready to promote`);
  const dead = status.releases.reduce((n, r) => n + r.deadLetters, 0);
  if (dead) parts.push(`${formatNumber(dead)} dead letters`);
  if (status.warnings.length) parts.push(`${status.warnings.length} warning${status.warnings.length === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

function releaseCard(r: ReleaseStatus, h: ReportHistoryEntry | undefined, steps: Readonly<Record<string, StepTiming>> | undefined, nowIso: string): string {
  const v = releaseVerdict(r);
  const e = escapeHtml;
  const facts: [string, string][] = [];
  const source = r.sha ? `commit <code title="${e(r.sha)}">${e(r.sha.slice(0, 12))}</code>` : r.branch ? `branch <code>${e(r.branch)}</code>` : '';
  if (source) facts.push(['built from', source]);
  if (h?.at) facts.push(['created', `${e(formatTime(h.at))}${h.by ? ` by ${e(h.by)}` : ''}`]);
  facts.push(['traffic', `${formatNumber(r.trafficPercent)} %${r.live ? ' (live)' : r.previous ? ' (previous: the rollback target)' : ''}`]);
  facts.push(['endpoint', r.endpoint ? `<code>${e(r.endpoint)}</code>` : 'none (no stack standing)']);
  const versions = Object.entries(r.dataVersions ?? {});
  if (versions.length) facts.push(['data versions', versions.map(([t, n]) => `${e(t)} v${formatNumber(n)}`).join(', ')]);
  const moments = [
    ...(h?.promotedAt ? [`promoted ${e(formatTime(h.promotedAt))}`] : []),
    ...(h?.rolledBackAt ? [`rolled back ${e(formatTime(h.rolledBackAt))}`] : []),
    ...(h?.tornDownAt ? [`torn down ${e(formatTime(h.tornDownAt))}`] : []),
  ];
  if (moments.length) facts.push(['moments', moments.join('; ')]);
  facts.push(['dead letters', r.deadLetters > 0 ? `<span class="no">${formatNumber(r.deadLetters)}</span> (held for redrive)` : '<span class="ok">0</span>']);

  const copy = Object.entries(r.copy ?? {});
  const copyTable = copy.length
    ? `<h3>Data copy</h3><table class="copy"><tr><th>table</th><th>segments done</th><th>items read</th><th>dead segments</th></tr>${copy
        .map(([t, c]) => `<tr><td>${e(t)}</td><td class="n">${formatNumber(c.completed)} of ${formatNumber(c.segments)}</td><td class="n">${formatNumber(c.itemsRead)}</td><td class="n">${c.dead ? `<span class="no">${formatNumber(c.dead)}</span>` : '0'}</td></tr>`)
        .join('')}</table>`
    : '';
  const syncTable = r.syncs.length
    ? `<h3>Syncs</h3><table class="syncs"><tr><th>sync</th><th>state</th><th>lag</th><th></th></tr>${r.syncs
        .map(
          (s) =>
            `<tr><td>${s.direction === 'forward' ? `forward, from <code>${e(s.from)}</code>` : `reverse, to <code>${e(s.to)}</code>`}</td><td>${s.running ? (s.caughtUp ? '<span class="ok">running, caught up</span>' : 'running, catching up') : `<span class="no">stopped</span>${s.stoppedAt ? ` ${e(formatTime(s.stoppedAt))}` : ''}`}</td><td class="n">${s.lagMs === null ? '—' : `${formatNumber(s.lagMs)} ms`}</td><td>${s.error ? `<span class="no">${e(s.error)}</span>` : ''}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const gatesTable = r.gates
    ? `<h3>Gates: ${r.gates.ok ? '<span class="ok">pass</span>' : '<span class="no">FAIL</span>'} <span class="note">(checked ${e(formatTime(r.gates.at))})</span></h3><table class="gates">${r.gates.gates
        .map((g) => `<tr><td>${e(g.name)}</td><td>${g.ok ? '<span class="ok">pass</span>' : '<span class="no">FAIL</span>'}</td><td>${e(g.detail)}</td></tr>`)
        .join('')}</table>`
    : '';

  return `<section class="card ${v.tone}" id="${e(r.releaseId)}">
<h2><span class="badge ${v.tone}">${e(v.word)}</span>${e(r.releaseId)}</h2>
<p class="verdict">${e(v.text)}</p>
${concerns(r)
  .map((c) => `<p class="concern ${c.tone}">${e(c.text)}</p>`)
  .join('\n')}
<table class="facts">${facts.map(([k, val]) => `<tr><th>${e(k)}</th><td>${val}</td></tr>`).join('')}</table>
${copyTable}${syncTable}${gatesTable}${timeline(h, steps, nowIso)}
</section>`;
}

interface TimelineRow {
  readonly kind: 'run' | 'step';
  readonly label: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly seconds?: number;
  readonly outcome: string;
  readonly by?: string;
  readonly where?: string;
}

/** The release's verb runs, oldest first, each with its steps under it, on one time scale. */
function timeline(h: ReportHistoryEntry | undefined, steps: Readonly<Record<string, StepTiming>> | undefined, nowIso: string): string {
  const runs = [...(h?.runs ?? [])].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const stepList = Object.entries(steps ?? {})
    .map(([key, t]) => {
      const colon = key.indexOf(':');
      return { verb: colon < 0 ? 'release' : key.slice(0, colon), step: colon < 0 ? key : key.slice(colon + 1), t };
    })
    .filter((s) => typeof s.t?.startedAt === 'string')
    .sort((a, b) => a.t.startedAt.localeCompare(b.t.startedAt));
  const used = new Set<(typeof stepList)[number]>();
  const rows: TimelineRow[] = [];
  runs.forEach((run, i) => {
    const where = run.outcome === 'failed' ? `at ${run.failedStep ?? run.step ?? '?'}${run.code ? ` (${run.code})` : ''}` : run.outcome === 'interrupted' && run.step ? `stopped at ${run.step}` : undefined;
    rows.push({ kind: 'run', label: run.verb, startedAt: run.startedAt, ...(run.endedAt ? { endedAt: run.endedAt } : {}), ...(run.seconds !== undefined ? { seconds: run.seconds } : {}), outcome: run.outcome ?? '', ...(run.by ? { by: run.by } : {}), ...(where ? { where } : {}) });
    // A verb's steps in this run: the step timings of a later run of the verb replaced the earlier's.
    const next = runs.slice(i + 1).find((x) => x.verb === run.verb)?.startedAt;
    for (const s of stepList) {
      if (used.has(s) || s.verb !== run.verb || s.t.startedAt < run.startedAt || (next !== undefined && s.t.startedAt >= next)) continue;
      used.add(s);
      rows.push(stepRow(s.step, s.t));
    }
  });
  // Steps no run accounts for (a history without runs): under their verb's name.
  for (const s of stepList.filter((x) => !used.has(x))) rows.push({ ...stepRow(s.step, s.t), label: `${s.verb}: ${s.step}` });
  if (rows.length === 0) return h?.durations && Object.keys(h.durations).length ? `<h3>Timeline</h3><p>${Object.entries(h.durations).map(([verb, s]) => `${escapeHtml(verb)} ${escapeHtml(formatSeconds(s))}`).join(', ')}</p>` : '';

  const ms = (iso: string | undefined) => (iso === undefined ? NaN : Date.parse(iso));
  const endOf = (r: TimelineRow) => (r.endedAt ? ms(r.endedAt) : r.seconds !== undefined ? ms(r.startedAt) + r.seconds * 1000 : r.outcome === 'running' ? ms(nowIso) : ms(r.startedAt));
  const t0 = Math.min(...rows.map((r) => ms(r.startedAt)).filter(Number.isFinite));
  const t1 = Math.max(t0 + 1000, ...rows.map(endOf).filter(Number.isFinite));
  const pct = (t: number) => (Math.max(0, Math.min(t1, t) - t0) / (t1 - t0)) * 100;
  const e = escapeHtml;
  const body = rows
    .map((r) => {
      const a = pct(ms(r.startedAt));
      const b = pct(endOf(r));
      const seconds = r.seconds ?? (r.endedAt ? (ms(r.endedAt) - ms(r.startedAt)) / 1000 : undefined);
      const duration = seconds !== undefined && Number.isFinite(seconds) ? formatSeconds(seconds) : r.outcome === 'running' ? 'running…' : '?';
      const bar = Number.isFinite(a) && Number.isFinite(b) ? `<div class="${r.kind === 'step' ? 'step' : e(r.outcome || 'done')}" style="margin-left:${a.toFixed(1)}%;width:${Math.max(0, b - a).toFixed(1)}%"></div>` : '';
      return `<tr class="${r.kind}"><td>${r.kind === 'run' ? `<strong>${e(r.label)}</strong>` : e(r.label)}</td><td>${e(formatTime(r.startedAt))}</td><td class="n">${e(duration)}</td><td>${r.kind === 'run' ? outcomeHtml(r.outcome) : r.endedAt ? '' : 'not finished'}</td><td>${e(r.by ?? '')}</td><td>${e(r.where ?? '')}</td><td class="bar">${bar}</td></tr>`;
    })
    .join('\n');
  return `<h3>Timeline</h3><table class="timeline"><tr><th>verb / step</th><th>started</th><th>duration</th><th>outcome</th><th>by</th><th>where</th><th>${e(formatTime(new Date(t0).toISOString()))} → ${e(formatSeconds((t1 - t0) / 1000))}</th></tr>
${body}</table>`;
}

function stepRow(step: string, t: StepTiming): TimelineRow {
  return { kind: 'step', label: step, startedAt: t.startedAt, ...(t.endedAt ? { endedAt: t.endedAt } : {}), outcome: t.endedAt ? 'done' : 'running' };
}

function outcomeHtml(outcome: string): string {
  const cls = outcome === 'done' ? 'ok' : outcome === 'failed' || outcome === 'interrupted' || outcome === 'aborted' ? 'no' : '';
  return cls ? `<span class="${cls}">${escapeHtml(outcome)}</span>` : escapeHtml(outcome);
}

/** Releases the status leaves out (torn down): one line each from history. */
function earlierTable(entries: readonly ReportHistoryEntry[]): string {
  const e = escapeHtml;
  return `<h2>Earlier releases</h2><table class="earlier"><tr><th>release</th><th>commit / branch</th><th>outcome</th><th>created</th><th>verbs</th><th>last failure</th></tr>${entries
    .map(
      (h) =>
        `<tr><td>${e(h.releaseId)}</td><td><code>${e(h.sha?.slice(0, 12) ?? h.branch ?? '')}</code></td><td>${e(h.outcome ?? '')}</td><td>${h.at ? e(formatTime(h.at)) : ''}</td><td>${Object.entries(h.durations ?? {})
          .map(([verb, s]) => `${e(verb)} ${e(formatSeconds(s))}`)
          .join(', ')}</td><td>${e(h.failed ?? '')}</td></tr>`,
    )
    .join('')}</table>`;
}

/** Text for HTML and XML, in element content and in quoted attributes alike. */
export function escapeHtml(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** 17955 → "17,955"; 0.5 → "0.5"; 31.25 → "31.3"; 1595.6 → "1,596". */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = Number.isInteger(n) || abs >= 100 ? 0 : abs >= 1 ? 1 : 2;
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(n);
}

/** 12.34 → "12.3 s"; 185 → "3 min 5 s"; 4000 → "1 h 6 min". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 120) return `${formatNumber(Math.round(s * 10) / 10)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

/** ISO 8601 → "2026-12-03 20:51:26 UTC" (as given when it is not a time). */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC` : iso;
}

/**
 * Round tick values from 0 to at least `max`, about `target` intervals apart, each step 1, 2 or 5
 * times a power of ten: niceTicks(1596, 4) → [0, 500, 1000, 1500, 2000].
 */
export function niceTicks(max: number, target = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}
