import fc from 'fast-check';
import { parseRecord, type ArmRecord, type MachineRecord } from '../../server/store/machine-record';

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
