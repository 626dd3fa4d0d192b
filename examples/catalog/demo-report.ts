/**
 * The demo's picture and page (issue 15, "what a person sees"). `renderDemoSvg` draws the run as
 * small multiples sharing one time axis: requests per second with the failed ones marked, the
 * copy's items per second, and the replication lag a client sees, each on its own labelled axis,
 * under bands naming the phases (release, promote, rollback…). `renderDemoReport` puts it in one
 * self-contained HTML page under a verdict in words, what was run where, the figures with their
 * units, and the phases with their durations; no script, no external asset.
 */
import { escapeHtml as esc, formatNumber as num, formatSeconds, formatTime, niceTicks } from '../../lib/release/release-report';
import type { DemoReport, DemoSample } from './demo';

/** What demo-main.ts adds to the report once the run is over; absent in a report of runCatalogDemo alone. */
export interface DemoMachineFigures {
  /** The whole run, local AWS start-up and the ceiling's measurement included. */
  readonly totalSeconds: number;
  /** The run's estimate from the ceiling, made before it started. */
  readonly estimatedSeconds: number;
  /** DynamoDB Local's raw BatchWriteItem rate on this machine, measured before the run. */
  readonly emulatorCeilingItemsPerSec: number;
  /** The copy's rate as a share of that ceiling (0.32: 32 %). */
  readonly copyToCeiling: number;
}

/** The report the page renders: a run's, with what a report written before issue 15 may lack made optional. */
/** Figures a report of an earlier version lacks (before the write fence). */
type FenceFigures = 'resurrected' | 'maxWritePauseMs' | 'writePauseP99Ms' | 'fencedWrites' | 'redirectedWrites' | 'cutOverPausesMs';

export type DemoReportPage = Omit<DemoReport, 'shas' | 'startedAt' | 'settings' | 'traffic' | 'failures' | 'lost' | 'repoDir' | FenceFigures> &
  Partial<Pick<DemoReport, 'shas' | 'startedAt' | 'settings' | 'traffic' | 'failures' | 'lost' | 'repoDir' | FenceFigures>> &
  Partial<DemoMachineFigures>;

const W = 900;
const MARGIN_LEFT = 78;
const MARGIN_RIGHT = 18;
const PANEL_TITLE = 18;
const PANEL_H = 96;
const PANEL_GAP = 10;
const LABEL_ROW = 12;
const MAX_LABEL_ROWS = 4;
const COLORS = { requests: '#1f77b4', failed: '#d62728', copy: '#2ca02c', lag: '#e07b00' } as const;
const BANDS = ['#e6eef9', '#f7f7f7'];

interface Panel {
  readonly id: string;
  readonly title: string;
  /** The y axis's label, with its unit. */
  readonly axis: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
  /** Red marks on the time axis: failed requests. */
  readonly marks?: readonly { readonly t: number; readonly n: number }[];
}

/** The plot alone, as a standalone SVG document (what the README shows as docs/demo-run.svg). */
export function renderDemoSvg(samples: readonly DemoSample[]): string {
  const panels = demoPanels(samples);
  const ts = samples.map((s) => s.t);
  const tMax = Math.max(1, ...ts);
  const plotW = W - MARGIN_LEFT - MARGIN_RIGHT;
  const x = (t: number) => MARGIN_LEFT + (plotW * t) / tMax;
  const out: string[] = [];

  // The phases: a band each, across every panel, named above them.
  const phases = phaseSpans(samples);
  // Names in rows above the bands, each at its band's start (or ending there, when the band is
  // crowded on the right); a row takes a name where it does not overlap the one before.
  const rows: { from: number; to: number }[][] = [];
  const free = (row: number, a: number, b: number) => (rows[row] ?? []).every((r) => b + 4 <= r.from || a >= r.to + 4);
  const labels = phases.map((p) => {
    const width = textWidth(p.name, 10);
    const start = x(p.from);
    const candidates = [Math.min(start + 2, W - MARGIN_RIGHT - width), Math.max(MARGIN_LEFT - 40, start - 2 - width)];
    let placed: { at: number; row: number } | undefined;
    for (let row = 0; row < MAX_LABEL_ROWS && !placed; row++) {
      const at = candidates.find((a) => free(row, a, a + width));
      if (at !== undefined) placed = { at, row };
    }
    // every row is taken there: the row whose last name ends first
    placed ??= { at: candidates[0], row: rows.map((r, i) => ({ i, end: Math.max(...r.map((x) => x.to)) })).sort((a, b) => a.end - b.end)[0].i };
    (rows[placed.row] ??= []).push({ from: placed.at, to: placed.at + width });
    return { ...p, ...placed };
  });
  const labelRows = Math.max(1, rows.length);
  const top = 22 + labelRows * LABEL_ROW + 4;
  const panelTop = (i: number) => top + i * (PANEL_TITLE + PANEL_H + PANEL_GAP) + PANEL_TITLE;
  const bottom = panelTop(panels.length - 1) + PANEL_H;
  const H = bottom + 44;

  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${MARGIN_LEFT}" y="14" font-size="12" font-weight="bold">phases</text>`);
  labels.forEach((p, i) => {
    const a = x(p.from);
    const b = x(p.to);
    const y = 22 + (p.row + 1) * LABEL_ROW - 2;
    out.push(`<g class="phase"><title>${esc(p.name)}: ${num(p.to - p.from)} s, from ${num(p.from)} s to ${num(p.to)} s</title>`);
    out.push(`<rect x="${f(a)}" y="${top}" width="${f(Math.max(0.5, b - a))}" height="${bottom - top}" fill="${BANDS[i % 2]}"/>`);
    out.push(`<line x1="${f(a)}" y1="${y + 2}" x2="${f(a)}" y2="${top}" stroke="#9aa" stroke-width="0.6"/>`);
    out.push(`<text x="${f(p.at)}" y="${y}" font-size="10" fill="#333">${esc(p.name)}</text></g>`);
  });

  // The time axis: seconds from the first phase, shared by every panel.
  const xTicks = niceTicks(tMax, 10).filter((t) => t <= tMax);
  panels.forEach((panel, i) => {
    const y0 = panelTop(i);
    const yMax = Math.max(0, ...panel.values.filter((v): v is number => v !== null));
    const yTicks = niceTicks(yMax, 4);
    const yTop = yTicks[yTicks.length - 1];
    const y = (v: number) => y0 + PANEL_H - (PANEL_H * v) / yTop;
    out.push(`<g class="panel" id="${panel.id}">`);
    out.push(`<text x="${MARGIN_LEFT}" y="${y0 - 5}" font-size="12" font-weight="bold" fill="${panel.color}">${esc(panel.title)}</text>`);
    // grid and ticks
    for (const t of xTicks) out.push(`<line x1="${f(x(t))}" y1="${y0}" x2="${f(x(t))}" y2="${y0 + PANEL_H}" stroke="#d8d8d8" stroke-width="0.5"/>`);
    for (const v of yTicks) {
      out.push(`<line x1="${MARGIN_LEFT - 4}" y1="${f(y(v))}" x2="${W - MARGIN_RIGHT}" y2="${f(y(v))}" stroke="${v === 0 ? '#555' : '#d8d8d8'}" stroke-width="${v === 0 ? 1 : 0.5}"/>`);
      out.push(`<text class="ytick" x="${MARGIN_LEFT - 7}" y="${f(y(v) + 3.5)}" font-size="10" text-anchor="end">${num(v)}</text>`);
    }
    out.push(`<line x1="${MARGIN_LEFT}" y1="${y0}" x2="${MARGIN_LEFT}" y2="${y0 + PANEL_H}" stroke="#555"/>`);
    const cy = y0 + PANEL_H / 2;
    out.push(`<text class="yaxis" x="16" y="${f(cy)}" font-size="11" text-anchor="middle" transform="rotate(-90 16 ${f(cy)})">${esc(panel.axis)}</text>`);
    // the series, broken where it has no value
    out.push(seriesPath(samples, panel.values, x, y, panel.color));
    if (!panel.values.some((v) => v !== null)) {
      out.push(`<text x="${f(MARGIN_LEFT + plotW / 2)}" y="${f(cy)}" font-size="11" fill="#777" text-anchor="middle">no value in this run</text>`);
    }
    for (const m of panel.marks ?? []) {
      out.push(`<path class="failed" d="M${f(x(m.t))},${f(y0 + PANEL_H - 9)} l4,8 h-8 z" fill="${COLORS.failed}"><title>${num(m.n)} failed request${m.n === 1 ? '' : 's'} at ${num(m.t)} s</title></path>`);
    }
    out.push('</g>');
  });
  for (const t of xTicks) {
    out.push(`<line x1="${f(x(t))}" y1="${bottom}" x2="${f(x(t))}" y2="${bottom + 4}" stroke="#555"/>`);
    out.push(`<text class="xtick" x="${f(x(t))}" y="${bottom + 16}" font-size="10" text-anchor="middle">${num(t)}</text>`);
  }
  const first = phases[0]?.name;
  out.push(`<text class="xaxis" x="${f(MARGIN_LEFT + plotW / 2)}" y="${bottom + 34}" font-size="11" text-anchor="middle">seconds since the run's first phase${first ? ` (${esc(first)})` : ''} started</text>`);

  const title = `the demo run over ${num(tMax)} s: ${panels.map((p) => p.title).join('; ')}`;
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>\n${out.join('\n')}\n</svg>\n`;
}

/** The three series of the run, one panel each. */
function demoPanels(samples: readonly DemoSample[]): Panel[] {
  const failed = failedMarks(samples);
  const totalFailed = failed.reduce((n, m) => n + m.n, 0);
  return [
    {
      id: 'requests',
      title: `requests per second through the public record — ${totalFailed === 0 ? 'none failed' : `failed requests marked in red (${num(totalFailed)})`}`,
      axis: 'requests/s',
      color: COLORS.requests,
      values: perSecond(samples, (s) => s.requests),
      marks: failed,
    },
    { id: 'copy', title: 'items copied per second (the releases’ data copies, all tables)', axis: 'items/s', color: COLORS.copy, values: perSecond(samples, (s) => s.copiedItems) },
    { id: 'lag', title: 'replication lag a client sees (write on the live release, read on its synced peer)', axis: 'lag (ms)', color: COLORS.lag, values: samples.map((s) => s.lagMs) },
  ];
}

/** A cumulative count as a rate per second between samples; null where either end has no value. */
function perSecond(samples: readonly DemoSample[], of: (s: DemoSample) => number | null): (number | null)[] {
  return samples.map((s, i) => {
    if (i === 0) return null;
    const a = of(samples[i - 1]);
    const b = of(s);
    const dt = s.t - samples[i - 1].t;
    return a === null || b === null || dt <= 0 ? null : Math.max(0, b - a) / dt;
  });
}

function failedMarks(samples: readonly DemoSample[]): { t: number; n: number }[] {
  const marks: { t: number; n: number }[] = [];
  let before = 0;
  for (const s of samples) {
    if (s.failedRequests === null) continue;
    if (s.failedRequests > before) marks.push({ t: s.t, n: s.failedRequests - before });
    before = s.failedRequests;
  }
  return marks;
}

/** Each phase from its first sample to the next phase's first (the last: to the last sample). */
function phaseSpans(samples: readonly DemoSample[]): { name: string; from: number; to: number }[] {
  const spans: { name: string; from: number; to: number }[] = [];
  for (const s of samples) {
    const last = spans[spans.length - 1];
    if (last && last.name === s.phase) last.to = s.t;
    else {
      if (last) last.to = s.t;
      spans.push({ name: s.phase, from: s.t, to: s.t });
    }
  }
  return spans;
}

function seriesPath(samples: readonly DemoSample[], values: readonly (number | null)[], x: (t: number) => number, y: (v: number) => number, color: string): string {
  const runs: string[][] = [];
  let current: string[] | undefined;
  values.forEach((v, i) => {
    if (v === null) {
      current = undefined;
      return;
    }
    if (!current) runs.push((current = []));
    current.push(`${f(x(samples[i].t))},${f(y(v))}`);
  });
  const d = runs.filter((r) => r.length > 1).map((r) => `M${r.join(' L')}`).join(' ');
  const dots = runs.filter((r) => r.length === 1).map((r) => `<circle cx="${r[0].split(',')[0]}" cy="${r[0].split(',')[1]}" r="1.5" fill="${color}"/>`);
  return `${d ? `<path class="series" d="${d}" fill="none" stroke="${color}" stroke-width="1.5" stroke-linejoin="round"/>` : ''}${dots.join('')}`;
}

/** The whole page: verdict, what ran where, the plot, the figures and the phases. */
export function renderDemoReport(report: DemoReportPage, samples: readonly DemoSample[]): string {
  const pass = report.failedRequests === 0 && report.lostWrites === 0 && !report.resurrected;
  const verdict = `${pass ? 'PASS' : 'FAIL'}: ${num(report.failedRequests)} of ${num(report.requests)} requests failed, ${num(report.lostWrites)} of ${num(report.acknowledgedWrites)} acknowledged writes lost`;
  const when = report.startedAt ? formatTime(report.startedAt) : undefined;

  const facts: [string, string][] = [];
  const runParts = [
    ...(when ? [`started ${esc(when)}`] : []),
    ...(report.totalSeconds !== undefined ? [`${formatSeconds(report.totalSeconds)} in all${report.estimatedSeconds !== undefined ? ` (estimated ${formatSeconds(report.estimatedSeconds)} before it started)` : ''}`] : []),
  ];
  if (runParts.length) facts.push(['run', runParts.join('; ')]);
  const release = (label: 'v1' | 'v2') => `${label} <code>${esc(report.releases[label])}</code>${report.shas ? ` (commit <code title="${esc(report.shas[label])}">${esc(report.shas[label].slice(0, 12))}</code>)` : ''}`;
  facts.push(['releases', `${release('v1')} → ${release('v2')}`]);
  facts.push(['data', `${num(report.products)} products (${num(report.items)} items) in production`]);
  if (report.settings) {
    const s = report.settings;
    facts.push([
      'traffic',
      `${num(s.ratePerSec)} requests/s through the public record, ${num(s.writeFraction * 100)} % of them writes, on ${num(s.hotProducts)} hot products; If-Match ${s.conditionalWrites ? 'on' : 'off'}` +
        `${s.writersPerProduct === 2 ? '; two clients write each product' : ''}; promote in steps of ${s.promoteSteps.map((p) => `${num(p)} %`).join(', ')}${(s.cycles ?? 1) > 1 ? `; ${num(s.cycles)} rollback + promote cycles` : ''}` +
        `${s.fence === undefined ? '' : s.fence ? '; rollback and promote again fenced' : '; no write fence'}`,
    ]);
  }
  if (report.emulatorCeilingItemsPerSec !== undefined) {
    const share = report.copyToCeiling ?? report.copyItemsPerSec / report.emulatorCeilingItemsPerSec;
    facts.push([
      'this machine',
      `DynamoDB Local writes at most ${num(report.emulatorCeilingItemsPerSec)} items/s (raw BatchWriteItem, measured before the run); the copy ran at ${num(report.copyItemsPerSec)} items/s, ${num(share * 100)} % of that ceiling`,
    ]);
  }

  const t = report.traffic;
  const figures: [string, string][] = [
    ['products in production', `${num(report.products)} (${num(report.items)} items)`],
    ['requests through the public record', `${num(report.requests)}${t ? ` (${num(t.reads)} reads, ${num(t.writes)} writes)` : ''}`],
    ['failed requests', num(report.failedRequests)],
    ['acknowledged writes', num(report.acknowledgedWrites)],
    ['acknowledged writes lost (read back from the live release at the end)', `${num(report.lostWrites)}${report.resurrected !== undefined ? ` (deletes undone: ${num(report.resurrected)})` : ''}`],
    ...(report.maxWritePauseMs !== undefined
      ? ([
          [
            'writes held by the write fence',
            `${num(report.fencedWrites ?? 0)}, the longest ${num(report.maxWritePauseMs)} ms (99th percentile ${num(report.writePauseP99Ms ?? 0)} ms); cut-overs held writes ${(report.cutOverPausesMs ?? []).map((ms) => `${num(ms)} ms`).join(', ') || 'never'}; ${num(report.redirectedWrites ?? 0)} redirected to the new stack`,
          ],
        ] as [string, string][])
      : []),
    ['writes that found their stack behind and waited for the sync (If-Match)', `${num(report.heldWrites)}${report.heldWrites > 0 ? `, the longest ${num(report.heldMaxMs)} ms` : ''}`],
    ...(t ? ([['request latency', `median ${num(t.latencyP50Ms)} ms, 99th percentile ${num(t.latencyP99Ms)} ms`]] as [string, string][]) : []),
    [
      'copy rate (release v2’s copy, with the channel migration)',
      `${num(report.copyItemsPerSec)} items/s${report.emulatorCeilingItemsPerSec !== undefined ? ` (${num((report.copyToCeiling ?? report.copyItemsPerSec / report.emulatorCeilingItemsPerSec) * 100)} % of this machine’s ceiling)` : ''}`,
    ],
    ['replication lag seen by a client, median', `${num(report.lagP50Ms)} ms`],
    ['replication lag seen by a client, 99th percentile', `${num(report.lagP99Ms)} ms`],
    ['lag probes', `${num(report.lagSamples)} measured, ${num(report.lagProbeTimeouts)} timed out, ${num(report.lagProbeFailedWrites)} probe writes failed`],
  ];

  const phaseEntries = Object.entries(report.phases);
  const phaseSum = phaseEntries.reduce((n, [, s]) => n + s, 0);
  const whole = Math.max(report.totalSeconds ?? 0, phaseSum, 1e-9);
  const other = report.totalSeconds !== undefined ? report.totalSeconds - phaseSum : 0;
  // where each phase starts on the plot's time axis (phases before its t = 0 are not on it)
  const plotStart = new Map<string, number>();
  for (const p of phaseSpans(samples)) if (!plotStart.has(p.name)) plotStart.set(p.name, p.from);
  const phaseRow = (name: string, seconds: number, cls = '') => {
    const share = Math.round((seconds / whole) * 1000) / 10;
    const at = plotStart.get(name);
    return `<tr${cls ? ` class="${cls}"` : ''}><td>${esc(name)}</td><td class="n">${at === undefined ? '—' : `${num(at)} s`}</td><td class="n">${formatSeconds(seconds)}</td><td class="n">${num(share)} %</td><td class="bar"><div style="width:${f(Math.min(100, share))}%"></div></td></tr>`;
  };
  const phaseRows = [
    ...phaseEntries.map(([k, v]) => phaseRow(k, v)),
    ...(other >= 1 ? [phaseRow('between phases (measuring the emulator’s ceiling, starting the traffic…)', other, 'other')] : []),
    `<tr class="total"><td>the whole run</td><td></td><td class="n">${formatSeconds(report.totalSeconds ?? phaseSum)}</td><td class="n">100 %</td><td></td></tr>`,
  ];

  const failures = report.failures ?? [];
  const lost = report.lost ?? [];
  const title = `stackshift demo: ${pass ? 'PASS' : 'FAIL'} — catalog v1 → v2${when ? `, ${when}` : ''}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.3em}h2{font-size:1.15em;margin-top:1.6em}
.verdict{font-size:1.25em;font-weight:bold;padding:.6em .9em;border-radius:6px;margin:.6em 0}
.verdict.pass{background:#e3f4e1;color:#1d5e1a;border:1px solid #9ccf96}.verdict.fail{background:#fbe3e1;color:#8a1c12;border:1px solid #e29a92}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e2e2e2;text-align:left;vertical-align:top}
th{font-weight:600;color:#555;white-space:nowrap}td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.bar{width:220px}td.bar div{height:10px;background:#7da7d9;border-radius:2px}tr.other td{color:#666}tr.total td{font-weight:600;border-top:2px solid #bbb}
code{font-size:.95em}svg{max-width:100%;height:auto}.note{color:#666;font-size:.9em}
</style></head><body>
<header>
<h1>catalog v1 → v2 under live traffic</h1>
<p class="verdict ${pass ? 'pass' : 'fail'}">${esc(verdict)}</p>
<table class="facts">
${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('\n')}
</table>
</header>
<h2>The run</h2>
${renderDemoSvg(samples)}<p class="note">One sample a second from the first phase; a line is broken where its series has no value (no traffic before it starts, no lag while no synced pair is probed).</p>
<h2>Figures</h2>
<table class="figures">
${figures.map(([k, v]) => `<tr><th>${esc(k)}</th><td class="n">${esc(v)}</td></tr>`).join('\n')}
</table>
<h2>Phases</h2>
<table class="phases"><tr><th>phase</th><th>starts on the plot at</th><th>duration</th><th>share of the run</th><th></th></tr>
${phaseRows.join('\n')}
</table>
${
  failures.length
    ? `<h2>Failed requests (first ${num(failures.length)})</h2>\n<ul>${failures.map((x) => `<li><code>${esc(x.method)} ${esc(x.path)}</code> on ${esc(x.releaseId ?? '?')} at ${esc(formatTime(x.at))}: ${esc(x.error ?? (x.status !== undefined ? `HTTP ${x.status}` : 'unknown'))}</li>`).join('')}</ul>\n`
    : ''
}${
  lost.length
    ? `<h2>Lost writes (first ${num(lost.length)})</h2>\n<ul>${lost.map((l) => `<li><code>${esc(l.id)}</code>: expected <code>${esc(JSON.stringify(l.expected))}</code>, the live release has <code>${esc(JSON.stringify(l.got))}</code></li>`).join('')}</ul>\n`
    : ''
}<p class="note">Written by <code>npm run demo -- --report</code>: one self-contained page, no script, no external asset.</p>
</body></html>
`;
}

/** Coordinates with one decimal. */
function f(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** A text's width in a sans-serif font, roughly (no layout engine here). */
function textWidth(s: string, fontSize: number): number {
  return s.length * fontSize * 0.56;
}
