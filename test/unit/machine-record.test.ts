import fc from 'fast-check';
import { emptyArm, emptyRecord, parseRecord, serializeRecord, type ArmRecord, type MachineRecord } from '../../server/store/machine-record';

const text = fc.string({ maxLength: 12 });
const arm: fc.Arbitrary<ArmRecord> = fc.record({
  stages: fc.uniqueArray(fc.nat(9)).map((x) => new Set(x)),
  failing: fc.uniqueArray(fc.nat(9)).map((x) => new Set(x)),
  days: fc.dictionary(text, text).map((d) => new Map(Object.entries(d))),
  aggregate: fc.option(text, { nil: false as const }) as fc.Arbitrary<string | false>,
  tests: fc.uniqueArray(text).map((x) => new Set(x)),
});
const record: fc.Arbitrary<MachineRecord> = fc.record({
  candidate: fc.option(arm, { nil: undefined }),
  control: fc.option(arm, { nil: undefined }),
  caps: fc.dictionary(text, fc.nat()).map((d) => new Map(Object.entries(d))),
  firsts: fc.uniqueArray(text).map((x) => new Set(x)),
  budget: fc.dictionary(text, fc.nat()).map((d) => new Map(Object.entries(d))),
}, { requiredKeys: ['caps', 'firsts', 'budget'] });

/** A machine's record in a rollout (evidence layout 3): what the fold writes reads back, and nothing else is taken for a record. */
describe('machine records', () => {
  test('a record reads back as it was written', () => {
    fc.assert(fc.property(record, (r) => {
      expect(parseRecord(serializeRecord(r))).toEqual(r);
    }));
  });

  test('empty parts are left out of what is stored', () => {
    expect(serializeRecord(emptyRecord())).toBe('{}');
    expect(serializeRecord({ ...emptyRecord(), control: emptyArm() })).toBe('{"k":{}}');
    const r = emptyRecord();
    r.candidate = emptyArm();
    r.candidate.stages.add(2);
    r.candidate.days.set('2025-01-06', '1,0,0,ci:x');
    r.candidate.aggregate = '1,0,1,0,2025-01-06,ci:x';
    r.firsts.add('p\tnova');
    expect(JSON.parse(serializeRecord(r))).toEqual({ c: { s: [2], d: { '2025-01-06': '1,0,0,ci:x' }, g: '1,0,1,0,2025-01-06,ci:x' }, sf: ['p\tnova'] });
  });

  test.each([
    ['not JSON', '{"c":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"x"'],
    ['an arm that is not an object', '{"c":[1]}'],
    ['a stage that is not a count', '{"k":{"s":[-1]}}'],
    ['a fractional stage', '{"k":{"s":[1.5]}}'],
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

  test('fields of another version are passed over', () => {
    expect(parseRecord('{"x":1,"c":{"s":[0],"z":[]}}')).toEqual({ ...emptyRecord(), candidate: { ...emptyArm(), stages: new Set([0]) } });
  });
});
