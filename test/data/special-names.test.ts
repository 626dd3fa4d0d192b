import { describe, expect, it } from 'vitest';
import { CONSTRUCTOR_ATTRIBUTE, PROTO_ATTRIBUTE, renameKeys, toCarriedNames, toWireNames, wireName } from '../../lib/item/special-names';

describe('attribute names the SDK cannot carry, renamed on the wire', () => {
  it('renames __proto__ and constructor at any depth, in maps and in lists, and leaves string values alone', () => {
    const wire = '{"Items":[{"__proto__":{"S":"__proto__"},"m":{"M":{"constructor":{"L":[{"M":{"__proto__":{"N":"1"}}}]}}}}]}';

    const carried = JSON.parse(toCarriedNames(wire)!);

    const item = carried.Items[0];
    expect(Object.keys(item)).toEqual([PROTO_ATTRIBUTE, 'm']);
    expect(item[PROTO_ATTRIBUTE]).toEqual({ S: '__proto__' });
    expect(item.m.M[CONSTRUCTOR_ATTRIBUTE].L[0].M[PROTO_ATTRIBUTE]).toEqual({ N: '1' });
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
    expect(item.m.M.constructor).toBe(Object);
  });

  it('finds a name however the JSON escapes it', () => {
    const carried = JSON.parse(toCarriedNames('{"Item":{"\\u005f_proto__":{"S":"x"},"\\u0063onstructor":{"S":"y"}}}')!);
    expect(carried.Item[PROTO_ATTRIBUTE]).toEqual({ S: 'x' });
    expect(carried.Item[CONSTRUCTOR_ATTRIBUTE]).toEqual({ S: 'y' });
  });

  it('round-trips: what a response became is written back as the same JSON', () => {
    const wire = '{"Item":{"pk":{"S":"a"},"__proto__":{"M":{"constructor":{"B":"AAE="}}}}}';
    const sdkWritten = JSON.stringify(JSON.parse(toCarriedNames(wire)!));

    expect(sdkWritten).toContain('\\ud800__proto__');
    expect(toWireNames(sdkWritten)).toBe(wire);
    expect(wireName(PROTO_ATTRIBUTE)).toBe('__proto__');
    expect(wireName(CONSTRUCTOR_ATTRIBUTE)).toBe('constructor');
    expect(wireName('other')).toBe('other');
  });

  it('leaves bodies without such names untouched (no parse, no rewrite)', () => {
    expect(toCarriedNames('{"Items":[{"pk":{"S":"a"}}]}')).toBeUndefined();
    expect(toWireNames('{"Item":{"pk":{"S":"__proto__"}}}')).toBeUndefined();
  });

  it('renameKeys builds own fields, never prototypes', () => {
    const tree = JSON.parse('{"a":{"__proto__":{"polluted":true}}}');
    const out = renameKeys(tree, new Map([['a', 'b']])) as Record<string, Record<string, unknown>>;
    expect(Object.keys(out.b!)).toEqual(['__proto__']);
    expect((out.b as { polluted?: boolean }).polluted).toBeUndefined();
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
