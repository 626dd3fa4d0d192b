import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_IO } from '../../examples/catalog/demo';
import { DNS_IO } from '../../lib/dns/messages';
import { BAKE_IO } from '../../lib/infra/bake-messages';
import { FLEET_IO } from '../../lib/infra/local-fleet';
import { DATA_IO, IO, make, registeredMessages } from '../../lib/io/messages';
import { PACKAGE_ROOT } from '../../lib/local/paths';
import { RELEASE_IO } from '../../lib/release/messages';

const AREAS = { IO, DATA_IO, RELEASE_IO, DNS_IO, FLEET_IO, BAKE_IO, DEMO_IO };

/** Every `'<AREA>_<L><NNNN>'` string in the sources of lib/ and examples/. */
function codesInSources(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/'([A-Z]+_[EWIDT]\d{4})'/g)) found.add(m[1]!);
    }
  };
  walk(path.join(PACKAGE_ROOT, 'lib'));
  walk(path.join(PACKAGE_ROOT, 'examples'));
  return found;
}

describe('the message code registry', () => {
  it('holds every code of every area, each under its own name, one code per number', () => {
    const defined = Object.values(AREAS).flatMap((area) => Object.entries(area).map(([key, spec]) => ({ key, spec })));
    for (const { key, spec } of defined) expect(spec.code).toBe(key);
    const registered = registeredMessages().map((s) => s.code);
    expect(new Set(registered)).toEqual(new Set(defined.map((d) => d.spec.code)));
    const numbers = registered.map((c) => c.slice(-4));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('has no code in the sources that is not registered', () => {
    const registered = new Set(registeredMessages().map((s) => s.code));
    expect([...codesInSources()].filter((c) => !registered.has(c))).toEqual([]);
  });

  it('refuses a second code of a number, and a letter that is not its level', () => {
    expect(() => make('info')('OTHER_I2000', 'clashes with COPY_I2000')).toThrow(/OTHER_I2000 reuses number 2000 of COPY_I2000/);
    expect(() => make('warn')('OTHER_I9999', 'says info, is a warning')).toThrow(/not <AREA>_W<4 digits> for level warn/);
  });
});
