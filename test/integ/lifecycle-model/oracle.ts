/**
 * The oracle run after every command: reads the real state fresh (Route 53, the ledger,
 * `status --all --json`, every app that takes traffic) and checks it against the model and against
 * itself. A failed check throws an OracleViolation naming what differs, which fails the sequence
 * (and fast-check shrinks it).
 */
import { httpJson } from '../../../examples/catalog/http-client';
import { readRev } from './client-writes';
import { expectedSplit, type LifecycleModel, type ReleaseName } from './model';
import type { DnsShare, StatusView, SystemUnderTest } from './system-under-test';

export class OracleViolation extends Error {
  public override readonly name = 'OracleViolation';
}

export function violation(message: string): never {
  throw new OracleViolation(message);
}

/** What the oracle read, at one moment. */
export interface Observation {
  readonly status: StatusView;
  readonly ledger: { readonly live: string | null; readonly previous: string | null };
  readonly dns: readonly DnsShare[];
}

/** Before the first command: no edge stack, no ledger, no record. */
export const EMPTY_OBSERVATION: Observation = { status: { live: null, previous: null, releases: [] }, ledger: { live: null, previous: null }, dns: [] };

export async function observe(sut: SystemUnderTest, previousStatus?: StatusView): Promise<Observation> {
  const status = previousStatus ?? (await sut.status());
  return { status, ledger: await sut.appState(), dns: await sut.dns() };
}

/**
 * What a refused command must leave unchanged: live and previous, every release's phase, the
 * record's weights. (Lag figures and timestamps move on their own and are left out.)
 */
export function projection(o: Observation): string {
  return JSON.stringify({
    live: o.status.live,
    previous: o.status.previous,
    ledger: o.ledger,
    releases: [...o.status.releases].map((r) => `${r.releaseId}:${r.phase}`).sort(),
    dns: [...o.dns].map((s) => `${s.releaseId}=${s.weight}`).sort(),
  });
}

const PROMOTED_BEFORE_PHASES = ['Ready', 'RolledBack', 'Previous'];

/** Every invariant, against `o` read fresh after the command. */
export async function checkInvariants(m: LifecycleModel, sut: SystemUnderTest, o: Observation): Promise<void> {
  const id = (n: ReleaseName | null) => (n === null ? null : sut.releaseId(n));
  const show = (x: unknown) => JSON.stringify(x);

  // The ledger and status say the same, and what the model says.
  if (o.status.live !== o.ledger.live || o.status.previous !== o.ledger.previous) {
    violation(`status says live=${o.status.live} previous=${o.status.previous}, the ledger live=${o.ledger.live} previous=${o.ledger.previous}`);
  }
  if (o.ledger.live !== id(m.live)) violation(`live is ${o.ledger.live}, the model expects ${id(m.live)} (${m.live ?? 'none'})`);
  if (o.ledger.previous !== id(m.previous)) violation(`previous is ${o.ledger.previous}, the model expects ${id(m.previous)} (${m.previous ?? 'none'})`);

  // DNS sends traffic exactly where the model says (100 % on the live release unless a weighted promote was interrupted).
  const expected = new Map([...expectedSplit(m)].map(([n, p]) => [sut.releaseId(n), p]));
  const actual = new Map(o.dns.filter((s) => s.percent > 0).map((s) => [s.releaseId, s.percent]));
  if (show([...expected].sort()) !== show([...actual].sort())) {
    violation(`DNS sends ${show(Object.fromEntries(actual))}, the model expects ${show(Object.fromEntries(expected))}`);
  }

  // Every release the model knows is in status, in the phase the model allows; torn-down ones have no DNS weight.
  const byId = new Map(o.status.releases.map((r) => [r.releaseId, r]));
  if (byId.size !== m.releases.size) {
    violation(`status lists ${show([...byId.keys()].sort())}, the model knows ${show([...m.releases.keys()].map((n) => sut.releaseId(n)).sort())}`);
  }
  for (const r of m.releases.values()) {
    const s = byId.get(sut.releaseId(r.name));
    if (!s) violation(`status does not list ${r.name} (${sut.releaseId(r.name)})`);
    const allowed = r.torn
      ? ['TornDown']
      : m.live === r.name
        ? ['Live']
        : m.interrupted?.target === r.name
          ? ['Promoting']
          : r.promotedOnce
            ? PROMOTED_BEFORE_PHASES
            : ['Ready'];
    if (!allowed.includes(s.phase)) violation(`${r.name} (${s.releaseId}) is ${s.phase} in status, the model expects ${allowed.join(' or ')}`);
    const share = o.dns.find((d) => d.releaseId === s.releaseId);
    if (r.torn && share && share.weight > 0) violation(`torn-down release ${r.name} still has DNS weight ${share.weight}`);
    // Status reports the DNS share it observed (when this version of status has the field).
    if (s.trafficPercent !== undefined && s.trafficPercent !== (share?.percent ?? 0)) {
      violation(`status says ${r.name} takes ${s.trafficPercent} % of traffic, DNS gives it ${share?.percent ?? 0} %`);
    }
  }

  // Writes go where traffic is: a release DNS sends traffic to takes writes, and no release holds
  // them once a command has ended (a fence holds writes only inside a cut-over; killed ones are re-run).
  for (const s of o.status.releases) {
    if (s.writes === undefined) continue;
    const name = sut.nameOf(s.releaseId) ?? s.releaseId;
    if (s.writes === 'held') violation(`${name} (${s.releaseId}) holds writes after the command ended`);
    const percent = o.dns.find((d) => d.releaseId === s.releaseId)?.percent ?? 0;
    if (percent > 0 && s.writes !== 'open') violation(`DNS sends ${percent} % to ${name} (${s.releaseId}), whose load balancer does not take writes (${s.writes})`);
  }

  // Every release DNS sends traffic to is up, and has every acknowledged write at its rev or later.
  const serving = o.dns.filter((s) => s.percent > 0);
  for (const share of serving) {
    let baseUrl: string;
    try {
      baseUrl = await sut.baseUrlOf(share.dnsName);
    } catch (e) {
      violation(`DNS sends ${share.percent} % to ${share.releaseId}, whose app is not running (${(e as Error).message})`);
    }
    const health = await httpJson({ baseUrl, method: 'GET', path: '/health', timeoutMs: 5000 }).catch((e: Error) => ({ status: 0, text: e.message }));
    if (health.status !== 200) violation(`DNS sends ${share.percent} % to ${share.releaseId}, whose app answers /health with ${health.status} ${health.text.slice(0, 200)}`);
    // One release takes everything: it must hold every write now. Two share the traffic: each
    // write reaches the other through a sync, within seconds.
    const settleMs = serving.length === 1 ? 0 : 15_000;
    for (const [productId, write] of m.acked) {
      // A sync killed while the record is split carries nothing until a verb restarts it: then a
      // write is owed only by the release that took it (the next flip verb must carry it over).
      if (serving.length > 1 && m.syncsDisturbed && sut.releaseId(write.on) !== share.releaseId) continue;
      const deadline = Date.now() + settleMs;
      for (;;) {
        const rev = await readRev(baseUrl, productId);
        if (rev !== null && rev >= write.rev) break;
        if (Date.now() >= deadline) {
          violation(`acknowledged write lost: ${productId} rev ${write.rev} (written on ${write.on}) reads ${rev === null ? '404' : `rev ${rev}`} on ${sut.nameOf(share.releaseId) ?? share.releaseId}, which DNS sends ${share.percent} % to`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}
