/**
 * The promotion gate (DESIGN.md, Data, points 7-9): a pure function of measurements already made.
 * `verify = 0` and `lag ≤ gate` are required; so are no dead letters (an item that could not be
 * copied or synced is a write the new release does not have), and, when it was checked, backward
 * compatibility (items written by the new release must be readable by the previous one).
 * Item counts prove nothing and are not a gate.
 */
import type { BackwardCompatResult } from './compat/backward-compat';
import type { VerifyResult } from './verify/verify-copy';

export type PromotionGateName = 'verify' | 'lag' | 'dead-letters' | 'backward-compat';

export interface PromotionGate {
  readonly name: PromotionGateName;
  readonly ok: boolean;
  /** One lowercase line: the measured value against the limit. */
  readonly detail: string;
}

export interface PromotionGatesInput {
  /** The result of verifyCopy (production → release). */
  readonly verify: Pick<VerifyResult, 'differences' | 'missing' | 'different' | 'orphaned' | 'unmigratable' | 'deadLettered'>;
  /** The forward sync's current lag in milliseconds (0 when caught up). */
  readonly lagMs: number;
  /** The largest lag allowed. @default 1000 */
  readonly lagGateMs?: number;
  /** Dead letters recorded for the copy and its syncs. */
  readonly deadLetters: number;
  /** The backward-compatibility check of the release's items. @default - not checked: no gate */
  readonly compat?: Pick<BackwardCompatResult, 'sampled' | 'failures'>;
}

export interface PromotionGatesResult {
  /** Every gate passed. */
  readonly ok: boolean;
  readonly gates: readonly PromotionGate[];
}

/** @default lag gate, in milliseconds */
export const DEFAULT_LAG_GATE_MS = 1000;

/** Evaluates every promotion gate; never throws on a failed gate, reports it. */
export function evaluatePromotionGates(input: PromotionGatesInput): PromotionGatesResult {
  const lagGateMs = input.lagGateMs ?? DEFAULT_LAG_GATE_MS;
  const v = input.verify;
  const gates: PromotionGate[] = [
    {
      name: 'verify',
      ok: v.differences === 0,
      detail:
        v.differences === 0
          ? 'verify found 0 differences'
          : `verify found ${v.differences} differences (${v.missing} missing, ${v.different} different, ${v.orphaned} orphaned, ${v.unmigratable} unmigratable): fix them, then verify again`,
    },
    {
      name: 'lag',
      ok: Number.isFinite(input.lagMs) && input.lagMs >= 0 && input.lagMs <= lagGateMs,
      detail: `sync lag ${input.lagMs} ms, gate ${lagGateMs} ms`,
    },
    {
      name: 'dead-letters',
      ok: input.deadLetters === 0,
      detail: input.deadLetters === 0 ? 'no dead letters' : `${input.deadLetters} dead letters: re-drive them (npm run redrive) or fix the migration`,
    },
  ];
  if (input.compat) {
    const c = input.compat;
    gates.push({
      name: 'backward-compat',
      // An empty release table has nothing the previous release could fail to read.
      ok: c.failures === 0,
      detail:
        c.sampled === 0
          ? 'backward compatibility: the release table is empty, no item to check'
          : `backward compatibility: ${c.failures} of ${c.sampled} sampled items fail the previous release's schema after down`,
    });
  }
  return { ok: gates.every((g) => g.ok), gates };
}
