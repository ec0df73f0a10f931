import { formatDuration, parseDuration } from '../../server/cli/duration';
import { createBody } from '../../server/cli/commands/start';
import { wilson } from '../../server/presentation/figures';

describe('CLI helpers', () => {
  test.each([
    ['30s', 30], ['90m', 5400], ['24h', 86400], ['2d', 172800], ['1w', 604800], ['1h30m', 5400], ['45', 45], ['1.5h', 5400], [' 10M ', 600],
  ])('parseDuration(%j) = %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  test.each(['', 'h', '10x', '-5s', '1h 30m', 'soon'])('parseDuration(%j) is refused with an example', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration \(examples: 30s/);
  });

  test('formatDuration is short and exact', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(5400)).toBe('1h30m');
    expect(formatDuration(86400)).toBe('1d');
    expect(formatDuration(90061)).toBe('1d1h');
  });

  test('start flags become the create body: stages, soak and min machines as a stage policy', () => {
    expect(createBody('oslo.log', '8.4.0', { stages: '1,10,100', soak: '24h', minMachines: '20' })).toEqual({
      library: 'oslo.log', candidate: '8.4.0', stages: [1, 10, 100], policy: { stage: { soakSeconds: 86400, minMachines: 20 } },
    });
    expect(createBody('oslo.log', '8.4.0', {})).toEqual({ library: 'oslo.log', candidate: '8.4.0' });
    expect(() => createBody('x', '1', { stages: '1,ten,100' })).toThrow(/--stages/);
    expect(() => createBody('x', '1', { minMachines: '3.5' })).toThrow(/--min-machines/);
  });

  test('Wilson interval: hand-checked values, empty arm', () => {
    const w = wilson(5, 100);
    expect(w.p).toBeCloseTo(0.05, 10);
    expect(w.lo).toBeCloseTo(0.0215, 3);
    expect(w.hi).toBeCloseTo(0.1118, 3);
    expect(wilson(0, 0)).toEqual({ p: null, lo: null, hi: null });
  });
});
