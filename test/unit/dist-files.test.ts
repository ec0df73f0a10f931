/** Distribution file names of a package index page, and one release's Requires-Python from them. */
import fc from 'fast-check';
import { requiresPythonOf, versionOfFile, type IndexFile } from '../../server/domain/dist-files';
import { DomainError } from '../../server/domain/errors';

const file = (filename: string, requiresPython: string | null = null, yanked = false): IndexFile => ({ filename, requiresPython, yanked });

/** Part of pypi.org/simple/oslo-config/ as PEP 691 lists it. */
const OSLO_CONFIG: IndexFile[] = [
  file('oslo.config-9.6.0-py3-none-any.whl', '>=3.8'),
  file('oslo.config-9.6.0.tar.gz', '>=3.8'),
  file('oslo.config-9.7.0-py3-none-any.whl', '>=3.9'),
  file('oslo.config-9.7.0.tar.gz', '>=3.9'),
  file('oslo_config-9.8.0-py3-none-any.whl', '>=3.9'),
  file('oslo_config-9.8.0.tar.gz', '>=3.9'),
  file('oslo.config-2.0.0.tar.gz', null),
];

describe('versionOfFile', () => {
  test('wheels: PEP 427 names, with or without a build tag', () => {
    const cases: [string, string, string | null][] = [
      ['oslo_config-9.7.0-py3-none-any.whl', 'oslo.config', '9.7.0'],
      ['oslo.config-9.7.0-py3-none-any.whl', 'oslo-config', '9.7.0'],
      ['python_novaclient-18.7.0-py3-none-any.whl', 'python-novaclient', '18.7.0'],
      ['pbr-6.1.1-py2.py3-none-any.whl', 'pbr', '6.1.1'],
      ['numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'numpy', '2.1.0'],
      ['numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl', 'NumPy', '2.1.0'],
      ['PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl', 'pyyaml', '6.0.2'],
      ['oslo.config-10.0.0rc1-py3-none-any.whl', 'oslo.config', '10.0.0rc1'],
      // four parts, seven parts, another project, not a version, upper-case extension
      ['pbr-6.1.1-py3-none.whl', 'pbr', null],
      ['pbr-6.1.1-1-2-py3-none-any.whl', 'pbr', null],
      ['pbr_extra-6.1.1-py3-none-any.whl', 'pbr', null],
      ['pbr-latest-py3-none-any.whl', 'pbr', null],
      ['pbr-6.1.1-py3-none-any.WHL', 'pbr', null],
      ['.whl', 'pbr', null],
    ];
    for (const [name, project, want] of cases) expect([name, project, versionOfFile(name, project)]).toEqual([name, project, want]);
  });

  test('sdists: every archive form, the project spelled its own way', () => {
    const cases: [string, string, string | null][] = [
      ['oslo.config-9.7.0.tar.gz', 'oslo.config', '9.7.0'],
      ['oslo_config-9.8.0.tar.gz', 'oslo.config', '9.8.0'],
      ['python-novaclient-18.0.0.tar.gz', 'python-novaclient', '18.0.0'],
      ['python_novaclient-18.0.0.tar.gz', 'Python_NovaClient', '18.0.0'],
      ['Babel-2.16.0.zip', 'babel', '2.16.0'],
      ['pbr-0.5.0.tar.bz2', 'pbr', '0.5.0'],
      ['pbr-0.5.0.tar.xz', 'pbr', '0.5.0'],
      ['pbr-0.5.0.tgz', 'pbr', '0.5.0'],
      ['pbr-0.5.0.tar', 'pbr', '0.5.0'],
      ['pbr-6.1.0.TAR.GZ', 'pbr', '6.1.0'],
      ['pbr-1.0-2.tar.gz', 'pbr', '1.0-2'], // PEP 440: 1.0.post2
      ['foo-1.0-2.0.tar.gz', 'foo-1.0', '2.0'],
    ];
    for (const [name, project, want] of cases) expect([name, project, versionOfFile(name, project)]).toEqual([name, project, want]);
  });

  test('sdists of another project, or of no version, are not this one', () => {
    const cases: [string, string][] = [
      ['oslo.config-9.7.0.tar.gz', 'oslo'], // the first hyphen gives "config-9.7.0": not a version
      ['python-novaclient-18.0.0.tar.gz', 'python'],
      ['python-novaclient-18.0.0.tar.gz', 'novaclient'],
      ['foo-1.0-2.0.tar.gz', 'foo'],
      ['pbr.tar.gz', 'pbr'],
      ['pbr-.tar.gz', 'pbr'],
      ['-1.0.tar.gz', ''],
      ['pbr-6.1.0.exe', 'pbr'],
      ['pbr-6.1.0-py3.8.egg', 'pbr'],
      ['pbr-6.1.0.tar.gz.asc', 'pbr'],
      ['pbr-6.1.0.tar.gz', 'pbrx'],
      ['pbr-6.1.0 .tar.gz', 'pbr'],
      ['pbr-' + '1.'.repeat(40) + '0.tar.gz', 'pbr'], // a version over 64 characters
      ['', 'pbr'],
    ];
    for (const [name, project] of cases) expect([name, project, versionOfFile(name, project)]).toEqual([name, project, null]);
  });

  test('property: a release\'s sdist and wheel, however the name is spelled, give its version', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);
    const nameArb = fc.array(word, { minLength: 1, maxLength: 3 }).chain((ws) =>
      fc.array(fc.constantFrom('-', '_', '.'), { minLength: ws.length - 1, maxLength: ws.length - 1 })
        .map((seps) => ws.map((w, i) => (i === 0 ? w : seps[i - 1] + w)).join('')));
    const versionArb = fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99), fc.constantFrom('', 'rc1', '.post1', '.dev3', 'a2'))
      .map(([a, b, c, s]) => `${a}.${b}.${c}${s}`);
    fc.assert(fc.property(nameArb, versionArb, fc.constantFrom('.tar.gz', '.zip', '.tar.bz2'), (name, v, ext) => {
      expect(versionOfFile(`${name}-${v}${ext}`, name)).toBe(v);
      expect(versionOfFile(`${name}-${v}${ext}`, name.toUpperCase().replace(/[-_.]/g, '_'))).toBe(v);
      expect(versionOfFile(`${name.replace(/[-.]/g, '_')}-${v}-py3-none-any.whl`, name)).toBe(v);
      expect(versionOfFile(`${name}x-${v}${ext}`, name)).toBeNull();
    }));
  });
});

describe('requiresPythonOf', () => {
  test('a release whose files agree', () => {
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo.config', '9.7.0')).toEqual({ found: true, requiresPython: '>=3.9', files: 2 });
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo-config', '9.6.0')).toEqual({ found: true, requiresPython: '>=3.8', files: 2 });
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo.config', '9.8.0')).toEqual({ found: true, requiresPython: '>=3.9', files: 2 });
  });

  test('PEP 440 equality finds the release: 9.7 is 9.7.0', () => {
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo.config', '9.7')).toEqual({ found: true, requiresPython: '>=3.9', files: 2 });
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo.config', '2')).toEqual({ found: true, requiresPython: null, files: 1 });
  });

  test('no Requires-Python declared: null (every Python)', () => {
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo.config', '2.0.0')).toEqual({ found: true, requiresPython: null, files: 1 });
    expect(requiresPythonOf([file('pbr-6.1.1.tar.gz', ''), file('pbr-6.1.1-py3-none-any.whl', '  ')], 'pbr', '6.1.1'))
      .toEqual({ found: true, requiresPython: null, files: 2 });
  });

  test('files that disagree are all honoured, in file order; one without a value adds no limit', () => {
    const files = [
      file('cliff-4.12.0-py3-none-any.whl', '>=3.10'),
      file('cliff-4.12.0.tar.gz', '>=3.9'),
      file('cliff-4.12.0-1-py3-none-any.whl', null),
      file('cliff-4.12.0.zip', ' >=3.10 '),
    ];
    expect(requiresPythonOf(files, 'cliff', '4.12.0')).toEqual({ found: true, requiresPython: '>=3.10, >=3.9', files: 4 });
  });

  test('each clause once, whitespace dropped; clauses past the length of one value are refused, naming the release', () => {
    const files = [file('nova-32.0.0.tar.gz', '>=3.10, <4'), file('nova-32.0.0-py3-none-any.whl', '>= 3.10'), file('nova-32.0.0.zip', '<4,!=3.11.1')];
    expect(requiresPythonOf(files, 'nova', '32.0.0')).toEqual({ found: true, requiresPython: '>=3.10, <4, !=3.11.1', files: 3 });
    const hostile = Array.from({ length: 40 }, (_, i) => file(`nova-32.0.0-${i}-py3-none-any.whl`, `!=3.${i}.1`));
    expect(() => requiresPythonOf(hostile, 'nova', '32.0.0'))
      .toThrow('Requires-Python of nova 32.0.0: its 40 files declare 40 different clauses, together longer than 200 characters');
    // just under the limit is fine
    const fits = requiresPythonOf(hostile.slice(0, 20), 'nova', '32.0.0');
    expect(fits.found && fits.requiresPython!.length).toBeLessThanOrEqual(200);
  });

  test('yanked files count: a === pin still installs them', () => {
    expect(requiresPythonOf([file('pbr-6.1.0.tar.gz', '>=3.6', true)], 'pbr', '6.1.0')).toEqual({ found: true, requiresPython: '>=3.6', files: 1 });
  });

  test('a release that is not listed: how many versions the page has', () => {
    expect(requiresPythonOf(OSLO_CONFIG, 'oslo.config', '9.9.0')).toEqual({ found: false, versions: 4 });
    expect(requiresPythonOf([], 'oslo.config', '9.7.0')).toEqual({ found: false, versions: 0 });
    // files of other projects and unreadable names are no versions of this one
    expect(requiresPythonOf([file('oslo.log-7.0.0.tar.gz', '>=3.9'), file('index.html'), file('oslo.config-latest.tar.gz')], 'oslo.config', '7.0.0'))
      .toEqual({ found: false, versions: 0 });
  });

  test('a value that is no specifier is an error naming the file; other releases\' bad values do not matter', () => {
    const files = [file('pbr-6.1.1.tar.gz', '>=3.8'), file('pbr-6.1.1-py3-none-any.whl', '>=3.8; rm -rf /'), file('pbr-6.0.0.tar.gz', 'python3')];
    let err: unknown;
    try {
      requiresPythonOf(files, 'pbr', '6.1.1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('invalid');
    expect((err as DomainError).message).toBe('Requires-Python of pbr-6.1.1-py3-none-any.whl ">=3.8; rm -rf /" is not a PEP 440 specifier like ">=3.10"');
    expect(requiresPythonOf(files.slice(0, 1), 'pbr', '6.1.1')).toEqual({ found: true, requiresPython: '>=3.8', files: 1 });
    expect(() => requiresPythonOf([file('pbr-6.1.1.tar.gz', '>=3.' + '1'.repeat(200))], 'pbr', '6.1.1'))
      .toThrow('Requires-Python of pbr-6.1.1.tar.gz is longer than 200 characters');
  });

  test('property: found exactly when some file is of the version; files counts them', () => {
    const v = fc.tuple(fc.nat(3), fc.nat(3)).map(([a, b]) => `${a}.${b}`);
    const entry = fc.tuple(v, fc.constantFrom('.tar.gz', '-py3-none-any.whl'), fc.constantFrom(null, '>=3.9', '>=3.10'));
    fc.assert(fc.property(fc.array(entry, { maxLength: 8 }), v, (entries, want) => {
      const files = entries.map(([ver, ext, rp]) => file(`oslo_utils-${ver}${ext}`, rp));
      const mine = entries.filter(([ver]) => ver === want);
      const got = requiresPythonOf(files, 'oslo.utils', want);
      if (mine.length === 0) {
        expect(got).toEqual({ found: false, versions: new Set(entries.map(([ver]) => ver)).size });
      } else {
        const specs = [...new Set(mine.map(([, , rp]) => rp).filter((s) => s !== null))];
        expect(got).toEqual({ found: true, requiresPython: specs.length ? specs.join(', ') : null, files: mine.length });
      }
    }));
  });
});
