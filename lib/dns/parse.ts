import { userError } from '../errors';

export const ROUTE_STEPS_INVALID = 'ROUTE_STEPS_INVALID';
export const DURATION_INVALID = 'DURATION_INVALID';

const STEPS_FIX = 'give whole percentages that rise and end at 100, e.g. "10,50,100"';

/** `'10,50,100'` → `[10, 50, 100]`: the traffic steps of a gradual flip. */
export function parseSteps(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const steps = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (steps.some((s) => Number.isNaN(s))) {
    throw userError(ROUTE_STEPS_INVALID, `invalid traffic steps "${text}": not a comma-separated list of whole percentages`, { fix: STEPS_FIX });
  }
  return validateSteps(steps);
}

/** Steps are whole percentages in 1..100, strictly ascending, the last one 100. Returns them unchanged. */
export function validateSteps(steps: readonly number[]): number[] {
  const shown = `"${steps.join(',')}"`;
  let problem: string | undefined;
  if (steps.length === 0) problem = 'no steps';
  else if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100)) problem = 'every step must be a whole percentage from 1 to 100';
  else if (steps.some((s, i) => i > 0 && s <= steps[i - 1])) problem = 'steps must rise';
  else if (steps.at(-1) !== 100) problem = 'the last step must be 100';
  if (problem) throw userError(ROUTE_STEPS_INVALID, `invalid traffic steps ${shown}: ${problem}`, { fix: STEPS_FIX });
  return [...steps];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `'500ms'` | `'60s'` | `'2m'` | `'1h'` → milliseconds. A bare number is refused: its unit would be a guess. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) {
    throw userError(DURATION_INVALID, `invalid duration "${text}": expected a number with a unit (ms, s, m or h)`, {
      fix: 'write it like "500ms", "60s" or "2m"',
    });
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]]);
}
