import { describe, expect, it } from 'vitest';
import { formatNumber, formatSeconds, formatTime, releaseVerdict, renderReleaseReport, type ReportHistoryEntry, type ReportRun } from '../../lib/release/release-report';
import type { StepTiming } from '../../lib/ledger/release-records';
import type { HistoryEntry, ReleaseStatus, StatusView } from '../../lib/release/views';

const base = { dataVersions: { products: 2 }, copy: {}, syncs: [], deadLetters: 0, endpoint: null, trafficPercent: 0, live: false, previous: false } as const;

const live: ReleaseStatus = {
  ...base,
  releaseId: 'sha-bbbbbbbbbbbb',
  sha: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  phase: 'Live',
  live: true,
  trafficPercent: 100,
  endpoint: 'http://127.0.0.1:4100',
  copy: { products: { completed: 16, segments: 16, itemsRead: 150_000, dead: 0 } },
  syncs: [{ direction: 'reverse', from: 'sha-bbbbbbbbbbbb', to: 'sha-aaaaaaaaaaaa', running: true, lagMs: 1_250, caughtUp: true }],
  gates: {
    ok: true,
    at: '2026-12-03T10:04:00.000Z',
    gates: [
      { name: 'copy complete', ok: true, detail: '16 of 16 segments' },
      { name: 'two-way verify', ok: true, detail: '150,000 items match' },
    ],
  },
};

const previous: ReleaseStatus = { ...base, releaseId: 'sha-aaaaaaaaaaaa', sha: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', phase: 'Previous', previous: true, endpoint: 'http://127.0.0.1:4000', dataVersions: { products: 1 } };

const failed: ReleaseStatus = {
  ...base,
  releaseId: 'br-feature-x',
  branch: 'feature/<x>',
  phase: 'Failed',
  deadLetters: 3,
  syncs: [{ direction: 'forward', from: 'sha-bbbbbbbbbbbb', to: 'br-feature-x', running: false, lagMs: null, caughtUp: false, error: 'stream <expired>', stoppedAt: '2026-12-03T11:00:00.000Z' }],
  gates: { ok: false, at: '2026-12-03T10:59:00.000Z', gates: [{ name: 'checks', ok: false, detail: 'GET /products/<id> returned 500 & "oops"' }] },
  failed: { step: 'gates', code: 'GATES_FAILED', message: 'check <script>alert(1)</script> failed', at: '2026-12-03T10:59:00.000Z' },
};

const status: StatusView = {
  app: 'catalog & <friends>',
  live: live.releaseId,
  previous: previous.releaseId,
  warnings: ['DNS sends sha-bbbbbbbbbbbb 90 %, sha-aaaaaaaaaaaa 10 %, but the ledger\'s live release is sha-bbbbbbbbbbbb'],
  releases: [live, previous, failed],
};

const history: HistoryEntry[] = [
  {
    releaseId: 'sha-bbbbbbbbbbbb',
    sha: live.sha,
    outcome: 'Live',
    by: 'ann@ci',
    at: '2026-12-03T10:00:00.000Z',
    durations: { release: 240, promote: 31 },
    promotedAt: '2026-12-03T10:05:31.000Z',
    runs: [
      { verb: 'release', by: 'ann@ci', startedAt: '2026-12-03T10:00:00.000Z', endedAt: '2026-12-03T10:04:00.000Z', outcome: 'done', seconds: 240 },
      { verb: 'promote', by: 'ann@ci', startedAt: '2026-12-03T10:05:00.000Z', endedAt: '2026-12-03T10:05:31.000Z', outcome: 'done', seconds: 31 },
    ],
  },
  {
    releaseId: 'br-feature-x',
    branch: 'feature/<x>',
    outcome: 'Failed',
    by: 'bob@laptop',
    at: '2026-12-03T10:50:00.000Z',
    durations: { release: 540 },
    failed: 'gates: check failed',
    runs: [
      { verb: 'release', by: 'bob@laptop', startedAt: '2026-12-03T10:50:00.000Z', endedAt: '2026-12-03T10:59:00.000Z', outcome: 'failed', seconds: 540, failedStep: 'gates', code: 'GATES_FAILED' },
      { verb: 'release', by: 'bob@laptop', startedAt: '2026-12-03T11:10:00.000Z', outcome: 'running', step: 'copy' },
    ],
  },
  { releaseId: 'sha-000000000000', sha: '0000000000000000000000000000000000000000', outcome: 'TornDown', by: 'ann@ci', at: '2026-12-01T09:00:00.000Z', durations: { release: 300, teardown: 45.5 }, tornDownAt: '2026-12-02T09:00:00.000Z', runs: [] },
];

const steps: Record<string, Record<string, StepTiming>> = {
  'sha-bbbbbbbbbbbb': {
    'release:stack': { startedAt: '2026-12-03T10:00:00.000Z', endedAt: '2026-12-03T10:01:05.000Z' },
    'release:copy': { startedAt: '2026-12-03T10:01:05.000Z', endedAt: '2026-12-03T10:03:20.000Z' },
    'promote:flip': { startedAt: '2026-12-03T10:05:00.000Z', endedAt: '2026-12-03T10:05:31.000Z' },
  },
};

const generatedAt = '2026-12-03T11:12:13.000Z';

/** The markup of one release's card. */
function card(html: string, releaseId: string): string {
  const m = new RegExp(`<section class="card (\\w+)" id="${releaseId}">([\\s\\S]*?)</section>`).exec(html);
  expect(m, releaseId).not.toBeNull();
  return m![0];
}

/** A timeline's rows as [label, duration, outcome] triples. */
function timelineRows(markup: string): string[][] {
  return [...markup.matchAll(/<tr class="(run|step)"><td>(?:<strong>)?([^<]*)(?:<\/strong>)?<\/td><td>[^<]*<\/td><td class="n">([^<]*)<\/td><td>(?:<span[^>]*>)?([^<]*)/g)].map((m) => [m[1], m[2], m[3], m[4]]);
}

describe('renderReleaseReport', () => {
  const html = renderReleaseReport({ status, history, steps, generatedAt });

  it('heads the page with the app, when it was generated, a summary and the warnings', () => {
    expect(html).toContain('<h1>catalog &amp; &lt;friends&gt;: releases</h1>');
    expect(html).toContain('generated 2026-12-03 11:12:13 UTC');
    expect(html).toContain('<p class="summary">live: sha-bbbbbbbbbbbb (100 % of the traffic) · previous: sha-aaaaaaaaaaaa · 1 failed · 3 dead letters · 1 warning</p>');
    expect(html).toContain('<p class="warning">WARNING: DNS sends sha-bbbbbbbbbbbb 90 %, sha-aaaaaaaaaaaa 10 %, but the ledger&#39;s live release is sha-bbbbbbbbbbbb</p>');
  });

  it('gives each release a card with its phase and verdict in words', () => {
    const l = card(html, 'sha-bbbbbbbbbbbb');
    expect(l).toMatch(/^<section class="card good"/);
    expect(l).toContain('<span class="badge good">LIVE</span>sha-bbbbbbbbbbbb');
    expect(l).toContain('<p class="verdict">the live release: serves 100 % of the traffic</p>');
    expect(l).toContain('<tr><th>endpoint</th><td><code>http://127.0.0.1:4100</code></td></tr>');
    expect(l).toContain('<tr><th>built from</th><td>commit <code title="bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb">bbbbbbbbbbbb</code></td></tr>');
    expect(l).toContain('<tr><th>created</th><td>2026-12-03 10:00:00 UTC by ann@ci</td></tr>');
    expect(l).toContain('promoted 2026-12-03 10:05:31 UTC');
    const p = card(html, 'sha-aaaaaaaaaaaa');
    expect(p).toContain('<span class="badge info">PREVIOUS</span>');
    expect(p).toContain('the rollback target (serves 0 % of the traffic)');
    const f = card(html, 'br-feature-x');
    expect(f).toMatch(/^<section class="card bad"/);
    expect(f).toContain('<span class="badge bad">FAILED</span>');
    expect(f).toContain('<p class="verdict">failed at step gates (GATES_FAILED): check &lt;script&gt;alert(1)&lt;/script&gt; failed</p>');
    expect(f).toContain('branch <code>feature/&lt;x&gt;</code>');
  });

  it('shows the copy, the syncs with their lag, the dead letters and the gates with details', () => {
    const l = card(html, 'sha-bbbbbbbbbbbb');
    expect(l).toContain('<tr><td>products</td><td class="n">16 of 16</td><td class="n">150,000</td><td class="n">0</td></tr>');
    expect(l).toContain('<tr><td>reverse, to <code>sha-aaaaaaaaaaaa</code></td><td><span class="ok">running, caught up</span></td><td class="n">1,250 ms</td>');
    expect(l).toContain('<h3>Gates: <span class="ok">pass</span> <span class="note">(checked 2026-12-03 10:04:00 UTC)</span></h3>');
    expect(l).toContain('<tr><td>two-way verify</td><td><span class="ok">pass</span></td><td>150,000 items match</td></tr>');
    expect(l).toContain('<tr><th>dead letters</th><td><span class="ok">0</span></td></tr>');
    const f = card(html, 'br-feature-x');
    expect(f).toContain('<tr><th>dead letters</th><td><span class="no">3</span> (held for redrive)</td></tr>');
    expect(f).toContain('<p class="concern warn">3 dead letters: items the copy or a sync could not write, held for redrive</p>');
    expect(f).toContain('<p class="concern bad">gates failing: checks</p>');
    expect(f).toContain('<tr><td>checks</td><td><span class="no">FAIL</span></td><td>GET /products/&lt;id&gt; returned 500 &amp; &quot;oops&quot;</td></tr>');
    expect(f).toContain('<p class="concern bad">the forward sync from sha-bbbbbbbbbbbb stopped with an error: stream &lt;expired&gt;</p>');
    expect(f).toContain('<span class="no">stopped</span> 2026-12-03 11:00:00 UTC</td><td class="n">—</td><td><span class="no">stream &lt;expired&gt;</span>');
  });

  it('draws a timeline of each release’s verb runs, with its steps under them and their durations', () => {
    expect(timelineRows(card(html, 'sha-bbbbbbbbbbbb'))).toEqual([
      ['run', 'release', '4 min 0 s', 'done'],
      ['step', 'stack', '65 s', ''],
      ['step', 'copy', '2 min 15 s', ''],
      ['run', 'promote', '31 s', 'done'],
      ['step', 'flip', '31 s', ''],
    ]);
    const f = card(html, 'br-feature-x');
    expect(timelineRows(f)).toEqual([
      ['run', 'release', '9 min 0 s', 'failed'],
      ['run', 'release', 'running…', 'running'],
    ]);
    expect(f).toContain('<td>at gates (GATES_FAILED)</td>');
    // the bars: the first run starts at the left edge; the running one reaches the time of the report
    const bars = [...f.matchAll(/style="margin-left:([\d.]+)%;width:([\d.]+)%"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(bars[0][0]).toBe(0);
    expect(bars[1][0] + bars[1][1]).toBeCloseTo(100, 0);
    // a release without runs: no timeline
    expect(card(html, 'sha-aaaaaaaaaaaa')).not.toContain('Timeline');
  });

  it('lists the releases the status leaves out (torn down) from history', () => {
    expect(html).toContain('<h2>Earlier releases</h2>');
    expect(html).toContain('<tr><td>sha-000000000000</td><td><code>000000000000</code></td><td>TornDown</td><td>2026-12-01 09:00:00 UTC</td><td>release 5 min 0 s, teardown 45.5 s</td><td></td></tr>');
  });

  it('is one self-contained page with no script and nothing unescaped from the ledger', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/);
    expect(html).not.toContain('<x>');
    expect(html).not.toContain('<friends>');
    expect(html).not.toContain('<expired>');
  });

  it('takes a history from another stackshift: no runs, runs with fields it does not know, steps without runs', () => {
    const loose: ReportHistoryEntry[] = [
      { releaseId: 'sha-bbbbbbbbbbbb', durations: { release: 12.25 } },
      { releaseId: 'sha-aaaaaaaaaaaa', runs: [{ verb: 'release', startedAt: '2026-12-03T09:00:00.000Z', events: [{ kind: 'step', at: 'x' }] } as ReportRun] },
    ];
    const out = renderReleaseReport({ status: { ...status, warnings: [] }, history: loose, steps: { 'br-feature-x': { 'release:build': { startedAt: '2026-12-03T10:50:00.000Z' } } }, generatedAt });
    expect(card(out, 'sha-bbbbbbbbbbbb')).toContain('<h3>Timeline</h3><p>release 12.3 s</p>');
    expect(timelineRows(card(out, 'sha-aaaaaaaaaaaa'))).toEqual([['run', 'release', '?', '']]);
    expect(timelineRows(card(out, 'br-feature-x'))).toEqual([['step', 'release: build', 'running…', 'not finished']]);
    expect(out).not.toContain('undefined');
    expect(out).not.toContain('NaN');
  });

  it('says when there is nothing yet', () => {
    const out = renderReleaseReport({ status: { app: 'new-app', live: null, previous: null, warnings: [], releases: [] }, generatedAt });
    expect(out).toContain('<p class="summary">no releases yet</p>');
    expect(out).not.toContain('<section');
  });
});

describe('releaseVerdict', () => {
  it('puts every phase in words', () => {
    const v = (phase: ReleaseStatus['phase'], extra: Partial<ReleaseStatus> = {}) => releaseVerdict({ ...base, releaseId: 'r', phase, ...extra });
    expect(v('Ready')).toEqual({ word: 'READY', tone: 'info', text: 'copied, synced and checked: it can be promoted' });
    expect(v('Promoting', { trafficPercent: 25 })).toMatchObject({ word: 'PROMOTING', text: 'being promoted: serves 25 % of the traffic so far' });
    expect(v('RolledBack').word).toBe('ROLLED BACK');
    expect(v('TornDown').tone).toBe('muted');
    expect(v('Failed')).toMatchObject({ word: 'FAILED', tone: 'bad', text: 'failed' });
  });
});

describe('formatting', () => {
  it('formats numbers, durations and times for people', () => {
    expect(formatNumber(17_955)).toBe('17,955');
    expect(formatNumber(1595.6)).toBe('1,596');
    expect(formatNumber(31.25)).toBe('31.3');
    expect(formatNumber(0.53)).toBe('0.53');
    expect(formatSeconds(12.34)).toBe('12.3 s');
    expect(formatSeconds(185)).toBe('3 min 5 s');
    expect(formatSeconds(4000)).toBe('1 h 6 min');
    expect(formatTime('2026-12-03T20:51:26.041Z')).toBe('2026-12-03 20:51:26 UTC');
    expect(formatTime('not a time')).toBe('not a time');
  });
});
