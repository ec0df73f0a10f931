import fc from 'fast-check';
import { parseRecord, type ArmRecord, type MachineRecord } from '../../server/store/machine-record';
import { numbersOf } from '../../server/store/rollout-fold';

const text = fc.string({ maxLength: 12 });
const arm: fc.Arbitrary<ArmRecord> = fc.record({
  s: fc.uniqueArray(fc.nat(9)),
  f: fc.uniqueArray(fc.nat(9)),
  d: fc.dictionary(text, text),
  g: text,
  t: fc.uniqueArray(text),
}, { requiredKeys: [] });
const record: fc.Arbitrary<MachineRecord> = fc.record({
  c: arm,
  k: arm,
  sc: fc.dictionary(text, fc.nat()),
  sf: fc.uniqueArray(text),
  sb: fc.dictionary(text, fc.nat()),
}, { requiredKeys: [] });

/** A machine's record in a rollout (evidence layout 3): what the fold writes reads back, and nothing else is taken for a record. */
describe('machine records', () => {
  test('a record reads back as it was written', () => {
    fc.assert(fc.property(record, (r) => {
      expect(parseRecord(JSON.stringify(r))).toEqual(r);
    }));
  });

  test.each([
    ['not JSON', '{"c":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"x"'],
    ['an arm that is not an object', '{"c":[1]}'],
    ['a stage that is not a count', '{"k":{"s":[-1]}}'],
    ['a fractional stage', '{"k":{"f":[1.5]}}'],
    ['stages that are not a list', '{"k":{"s":{"0":1}}}'],
    ['a machine-day that is not a string', '{"c":{"d":{"2025-01-06":3}}}'],
    ['days as an array', '{"c":{"d":["1,0,0"]}}'],
    ['an aggregate that is not a string', '{"c":{"g":1}}'],
    ['tests that are not strings', '{"c":{"t":[1]}}'],
    ['a negative cap counter', '{"sc":{"p\\tnova\\t2025-01-06":-1}}'],
    ['a budget that is not a number', '{"sb":{"2025-01-06":"1"}}'],
    ['firsts that are not a list', '{"sf":"p\\tnova"}'],
  ])('%s is not a record', (_, stored) => {
    expect(parseRecord(stored)).toBeNull();
  });

  test('fields of another version are dropped', () => {
    expect(parseRecord('{"x":1,"c":{"s":[0],"z":[]},"k":{}}')).toEqual({ c: { s: [0] }, k: {} });
  });
});

describe('numbersOf (how the fold reads its comma-separated values)', () => {
  test.each(['3,1,0', '3,1,0,ci:x', '3,1,0,src,with,commas', '2,0.3333333333333333,1,0', '5', '', '1,,2', 'a,1,2', ' 4 ,5,6'])('%j reads as split(",").map(Number) does', (s) => {
    const want = s.split(',').map(Number).slice(0, 3);
    while (want.length < 3) want.push(Number.NaN);
    expect(numbersOf(s, 3)).toEqual(want);
  });

  test('any string, any count: as split(",").map(Number) reads its first n', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.double().map(String), fc.nat().map(String), fc.string({ maxLength: 4 }))), fc.integer({ min: 1, max: 6 }), (xs, n) => {
      const s = xs.join(',');
      const want = s.split(',').map(Number).slice(0, n);
      while (want.length < n) want.push(Number.NaN);
      expect(numbersOf(s, n)).toEqual(want);
    }));
  });
});
