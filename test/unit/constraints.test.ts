import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseConstraints, pinnedVersion, pinsOf, renderConstraints } from '../../server/domain/constraints';

const UC = readFileSync(join(__dirname, '../fixtures/upper-constraints.txt'), 'utf8');

describe('constraints', () => {
  test('the real upper-constraints.txt round-trips byte for byte', () => {
    const f = parseConstraints(UC);
    expect(renderConstraints(f)).toBe(UC);
    expect(f.index.size).toBeGreaterThan(500);
  });

  test('names compare by PEP 503, the file spelling is kept', () => {
    const f = parseConstraints('Oslo.Log===6.0.0\nPasteDeploy===3.1.0\n');
    expect(pinnedVersion(f, 'oslo_log')).toBe('6.0.0');
    expect(pinnedVersion(f, 'pastedeploy')).toBe('3.1.0');
    const out = renderConstraints(f, new Map([['oslo-log', { name: 'oslo.log', version: '6.1.0' }]]));
    expect(out).toBe('Oslo.Log===6.1.0\nPasteDeploy===3.1.0\n');
  });

  test('an override changes every marker line of the library and nothing else', () => {
    const text = '# c\nnumpy===1.26.4;python_version==\'3.9\'\r\n\nnumpy===1.26.4;python_version>=\'3.10\'\nsix===1.16.0';
    const f = parseConstraints(text);
    expect(pinsOf(f, 'numpy').map((p) => p.marker)).toEqual(["python_version=='3.9'", "python_version>='3.10'"]);
    const out = renderConstraints(f, new Map([['numpy', { name: 'numpy', version: '2.0.0' }]]));
    expect(out).toBe('# c\nnumpy===2.0.0;python_version==\'3.9\'\r\n\nnumpy===2.0.0;python_version>=\'3.10\'\nsix===1.16.0');
  });

  test('disagreeing marker lines make the stable version ambiguous', () => {
    const f = parseConstraints("a===1.0;python_version<'3.10'\na===2.0;python_version>='3.10'\n");
    expect(() => pinnedVersion(f, 'a')).toThrow(/several versions/);
  });

  test('a library the file lacks is appended', () => {
    const f = parseConstraints('six===1.16.0');
    expect(renderConstraints(f, new Map([['new-lib', { name: 'new_lib', version: '1.0' }]]))).toBe('six===1.16.0\nnew_lib===1.0\n');
  });

  test('bad lines are rejected with their line number', () => {
    expect(() => parseConstraints('six===1.16.0\nthis is not a pin\n')).toThrow(/line 2/);
    expect(() => parseConstraints('six===not-a-version\n')).toThrow(/PEP 440/);
  });

  test('property: any file of comments, blanks and pins round-trips', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,10}[A-Za-z0-9]$/);
    const version = fc.tuple(fc.nat(30), fc.nat(30), fc.nat(30)).map((v) => v.join('.'));
    const line = fc.oneof(
      fc.tuple(name, version, fc.constantFrom('', ";python_version>='3.10'", ' ; sys_platform == "win32"')).map(([n, v, m]) => `${n}===${v}${m}`),
      fc.stringMatching(/^#[^\r\n]{0,30}$/),
      fc.constantFrom('', '   '),
    );
    const eol = fc.constantFrom('\n', '\r\n');
    fc.assert(fc.property(fc.array(fc.tuple(line, eol), { maxLength: 30 }), fc.boolean(), (ls, lastEol) => {
      let text = ls.map(([l, e]) => l + e).join('');
      if (!lastEol && text.endsWith('\n')) text = text.replace(/\r?\n$/, '');
      expect(renderConstraints(parseConstraints(text))).toBe(text);
    }));
  });
});
