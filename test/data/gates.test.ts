import { describe, expect, it } from 'vitest';
import { evaluatePromotionGates } from '../../lib/data/gates';

const clean = { differences: 0, missing: 0, different: 0, orphaned: 0, unmigratable: 0, deadLettered: 0 };

describe('evaluatePromotionGates', () => {
  it('passes when verify = 0, lag ≤ gate, no dead letters and compat clean', () => {
    // GIVEN clean measurements WHEN evaluated
    const r = evaluatePromotionGates({ verify: clean, lagMs: 1000, deadLetters: 0, compat: { sampled: 50, failures: 0 } });
    // THEN every gate passes, in a fixed order
    expect(r.ok).toBe(true);
    expect(r.gates.map((g) => [g.name, g.ok])).toEqual([
      ['verify', true],
      ['lag', true],
      ['dead-letters', true],
      ['backward-compat', true],
    ]);
  });

  it('has no backward-compat gate when compat was not checked', () => {
    const r = evaluatePromotionGates({ verify: clean, lagMs: 0, deadLetters: 0 });
    expect(r.ok).toBe(true);
    expect(r.gates.map((g) => g.name)).toEqual(['verify', 'lag', 'dead-letters']);
  });

  it.each([
    ['verify', { verify: { ...clean, differences: 2, missing: 1, orphaned: 1 } }],
    ['lag', { lagMs: 1001 }],
    ['lag', { lagMs: 5, lagGateMs: 4 }],
    ['lag', { lagMs: Number.NaN }],
    ['dead-letters', { deadLetters: 1 }],
    ['backward-compat', { compat: { sampled: 10, failures: 1 } }],
  ] as const)('fails only the %s gate when it is over its limit', (name, over) => {
    // GIVEN one measurement over its limit
    const r = evaluatePromotionGates({ verify: clean, lagMs: 0, deadLetters: 0, compat: { sampled: 10, failures: 0 }, ...over });
    // THEN the result fails, and only that gate does
    expect(r.ok).toBe(false);
    expect(r.gates.filter((g) => !g.ok).map((g) => g.name)).toEqual([name]);
  });

  it('uses a 1000 ms lag gate by default and honours lagGateMs', () => {
    expect(evaluatePromotionGates({ verify: clean, lagMs: 1500, deadLetters: 0 }).ok).toBe(false);
    expect(evaluatePromotionGates({ verify: clean, lagMs: 1500, lagGateMs: 2000, deadLetters: 0 }).ok).toBe(true);
  });

  it('an empty release table passes backward compat (nothing to read back)', () => {
    const r = evaluatePromotionGates({ verify: clean, lagMs: 0, deadLetters: 0, compat: { sampled: 0, failures: 0 } });
    expect(r.gates.find((g) => g.name === 'backward-compat')).toMatchObject({ ok: true });
  });

  it('is pure: the same input gives the same output', () => {
    const input = { verify: clean, lagMs: 3, deadLetters: 1 };
    expect(evaluatePromotionGates(input)).toEqual(evaluatePromotionGates(input));
  });
});
