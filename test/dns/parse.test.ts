import { describe, expect, it } from 'vitest';
import { DURATION_INVALID, parseDuration, parseSteps, ROUTE_STEPS_INVALID, validateSteps } from '../../lib/dns/parse';
import { ReleaseError } from '../../lib/errors';

function thrown(fn: () => unknown): ReleaseError {
  try {
    fn();
  } catch (err) {
    if (ReleaseError.isReleaseError(err)) return err;
    throw err;
  }
  throw new Error('expected a ReleaseError, nothing was thrown');
}

describe('parseSteps', () => {
  it('reads comma-separated percentages, spaces allowed', () => {
    expect(parseSteps('10,50,100')).toEqual([10, 50, 100]);
    expect(parseSteps(' 25 , 100 ')).toEqual([25, 100]);
    expect(parseSteps('100')).toEqual([100]);
  });

  it.each([
    ['', 'not a comma-separated list'],
    ['10,abc,100', 'not a comma-separated list'],
    ['10.5,100', 'not a comma-separated list'],
    ['-10,100', 'not a comma-separated list'],
    ['50,10,100', 'must rise'],
    ['10,10,100', 'must rise'],
    ['10,50', 'last step must be 100'],
    ['0,100', 'from 1 to 100'],
    ['10,150', 'from 1 to 100'],
  ])('refuses %j with one user error line that shows the value and the fix', (text, problem) => {
    const err = thrown(() => parseSteps(text));
    expect(err.code).toBe(ROUTE_STEPS_INVALID);
    expect(err.source).toBe('user');
    expect(err.message).toContain(problem);
    expect(err.message).toContain('e.g. "10,50,100"');
    expect(err.message).not.toContain('\n');
  });
});

describe('validateSteps', () => {
  it('accepts a valid list and returns a copy', () => {
    const steps = [1, 100];
    const out = validateSteps(steps);
    expect(out).toEqual([1, 100]);
    expect(out).not.toBe(steps);
  });

  it('refuses an empty list and non-integers', () => {
    expect(thrown(() => validateSteps([])).message).toContain('no steps');
    expect(thrown(() => validateSteps([33.3, 100])).code).toBe(ROUTE_STEPS_INVALID);
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['60s', 60_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    [' 0s ', 0],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['60', '', '1d', 's', '-5s', '5 s'])('refuses %j', (text) => {
    const err = thrown(() => parseDuration(text));
    expect(err.code).toBe(DURATION_INVALID);
    expect(err.source).toBe('user');
    expect(err.message).toContain(`"${text}"`);
    expect(err.message).toContain('"60s"');
  });
});
