import { evaluateMarker, evaluatePartial, markerVariables, parseMarker } from '../../server/domain/markers';
import { normalizeRequiresPython, supportsPython } from '../../server/domain/pythons';

describe('environment markers (PEP 508)', () => {
  const py = (v: string) => ({ python_version: v });

  test('python_version compares as PEP 440 versions, not strings', () => {
    expect(evaluateMarker("python_version>='3.10'", py('3.9'))).toBe(false);
    expect(evaluateMarker("python_version>='3.10'", py('3.10'))).toBe(true);
    expect(evaluateMarker("python_version > '3.1'", py('3.10'))).toBe(true);
    expect(evaluateMarker("python_version=='3.9'", py('3.9'))).toBe(true);
    expect(evaluateMarker("python_version == '3.*'", py('3.12'))).toBe(true);
    expect(evaluateMarker("'3.9' < python_version", py('3.10'))).toBe(true);
    expect(evaluateMarker("python_version ~= '3.9'", py('3.12'))).toBe(true);
  });

  test('strings: in / not in, == / !=; <= and >= are equality, < and > false (packaging 26)', () => {
    const env = { sys_platform: 'linux', platform_machine: 'x86_64', python_version: '3.12' };
    expect(evaluateMarker("sys_platform != 'win32' and platform_machine == 'x86_64'", env)).toBe(true);
    expect(evaluateMarker("'linux' in sys_platform", env)).toBe(true);
    expect(evaluateMarker("sys_platform not in 'win32 cygwin'", env)).toBe(true);
    expect(evaluateMarker("sys_platform >= 'linux'", env)).toBe(true);
    expect(evaluateMarker("sys_platform < 'zzz'", env)).toBe(false);
    expect(() => evaluateMarker("sys_platform ~= 'linux'", env)).toThrow(/undefined comparison/);
  });

  test('and binds tighter than or; parentheses group', () => {
    const m = "python_version=='3.9' or python_version=='3.10' and sys_platform=='win32'";
    expect(evaluateMarker(m, { python_version: '3.9', sys_platform: 'linux' })).toBe(true);
    expect(evaluateMarker(m, { python_version: '3.10', sys_platform: 'linux' })).toBe(false);
    const grouped = "(python_version=='3.9' or python_version=='3.10') and sys_platform=='win32'";
    expect(evaluateMarker(grouped, { python_version: '3.9', sys_platform: 'linux' })).toBe(false);
  });

  test('partial evaluation: unknown where a missing variable decides, known where it does not', () => {
    const m = parseMarker("python_version>='3.10' and sys_platform!='win32'");
    expect(evaluatePartial(m, py('3.9'))).toBe(false);
    expect(evaluatePartial(m, py('3.11'))).toBeUndefined();
    expect([...markerVariables(m)].sort()).toEqual(['python_version', 'sys_platform']);
    expect(() => evaluateMarker(m, py('3.11'))).toThrow(/needs sys_platform/);
  });

  test('strict: malformed markers, unknown variables and overlong ones are refused', () => {
    expect(() => parseMarker("python_version=~'3'")).toThrow(/not a PEP 508 environment marker at character 15/);
    expect(() => parseMarker("pyversion=='3'")).toThrow(/not a PEP 508/);
    expect(() => parseMarker("python_version=='3.9' or")).toThrow(/not a PEP 508/);
    expect(() => parseMarker(`python_version=='${'3'.repeat(2000)}'`)).toThrow(/longer than 1000/);
    expect(() => parseMarker(`${'('.repeat(400)}python_version=='3'${')'.repeat(400)}`)).toThrow(/not a PEP 508/);
  });

  test('Requires-Python: validated, and applied to X.Y', () => {
    expect(normalizeRequiresPython(' >=3.10 ')).toBe('>=3.10');
    expect(normalizeRequiresPython('')).toBeNull();
    expect(() => normalizeRequiresPython('>=3.10; rm -rf')).toThrow(/not a PEP 440 specifier/);
    expect(supportsPython('>=3.10', '3.9')).toBe(false);
    expect(supportsPython('>=3.10', '3.13')).toBe(true);
    expect(supportsPython('>=3.8, !=3.11.*', '3.11')).toBe(false);
    expect(supportsPython('>=3.9.2', '3.9')).toBe(false); // conservative: 3.9 means 3.9.0
    expect(supportsPython(null, '3.9')).toBe(true);
  });
});
