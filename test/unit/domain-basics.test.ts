/** The domain's small helpers: versions, names, ETags, errors, constraints limits and lookups. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { MAX_CONSTRAINTS_BYTES, MAX_CONSTRAINTS_LINES, parseConstraints, pinnedVersion, pinnedVersionOrNull, pinsOf } from '../../server/domain/constraints';
import { DomainError, conflict, invalid, notFound } from '../../server/domain/errors';
import { etagOf } from '../../server/domain/etag';
import { NAME_PATTERN, isValidName, normalizeName } from '../../server/domain/names';
import { assertPep440, isPep440, sameVersion, updateType } from '../../server/domain/versions';

describe('versions', () => {
  test('PEP 440, bounded length', () => {
    expect(isPep440('1.0')).toBe(true);
    expect(isPep440('2026.1.0rc1+local.7')).toBe(true);
    expect(isPep440('latest')).toBe(false);
    expect(isPep440('1.' + '0'.repeat(62))).toBe(true); // 64 characters
    expect(isPep440('1.' + '0'.repeat(63))).toBe(false); // 65
    expect(isPep440(3 as unknown as string)).toBe(false);
    expect(() => assertPep440('x', 'candidate')).toThrow('candidate "x" is not a PEP 440 version');
    try {
      assertPep440('x', 'stable');
    } catch (e) {
      expect((e as DomainError).details).toEqual({ field: 'stable' });
    }
    expect(() => assertPep440('1.2', 'stable')).not.toThrow();
  });

  test('equality is PEP 440 equality; non-versions compare as strings', () => {
    expect(sameVersion('1.0', '1.0.0')).toBe(true);
    expect(sameVersion('1.0', '1.0.1')).toBe(false);
    expect(sameVersion('abc', 'abc')).toBe(true);
    expect(sameVersion('abc', '1.0')).toBe(false);
    // asked again (its answers are kept): the same answers, and no two pairs share one
    expect([sameVersion('1.0', '1.0.0'), sameVersion('1.0', '1.0.1'), sameVersion('abc', '1.0')]).toEqual([true, false, false]);
    expect([sameVersion('1.0', '0.1.0'), sameVersion('1.00', '.1.0'), sameVersion('1.0', '01.0'), sameVersion('1.00', '1.0')]).toEqual([false, false, true, true]);
  });

  test('update types: semver, PEP 440 segments, and the rest', () => {
    expect(updateType('1.2.3', '1.2.4')).toBe('patch');
    expect(updateType('1.2.3', '2.0.0-rc.1')).toBe('major');
    expect(updateType('1.2.3', '1.3.0-beta.1')).toBe('minor');
    expect(updateType('1.2.3', '1.2.4-1')).toBe('patch');
    expect(updateType('1.2.3-a.1', '1.2.3-a.2')).toBe('other');
    expect(updateType('1!1.0', '1.0')).toBe('major');
    expect(updateType('1.0', '1.0.post1')).toBe('other');
    expect(updateType('1.0', '1.0.1')).toBe('patch');
    expect(updateType('1', '1.1')).toBe('minor');
    expect(updateType('x', '1.0')).toBe('other');
  });
});

describe('names', () => {
  test('PEP 503 normalisation and the PEP 508 name pattern', () => {
    expect(normalizeName('Oslo.Config__x--Y')).toBe('oslo-config-x-y');
    for (const ok of ['a', 'A1', 'oslo.config', 'x_y-z']) expect(isValidName(ok)).toBe(true);
    for (const bad of ['', '-a', 'a-', '.a', 'a b', 'a/b']) expect(isValidName(bad)).toBe(false);
    expect(NAME_PATTERN.test('a.b')).toBe(true);
  });
});

describe('etags and errors', () => {
  test('a strong ETag: sha256 base64url, 27 characters, content-addressed', () => {
    expect(etagOf('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeR');
    expect(etagOf('a')).toHaveLength(27);
    expect(etagOf('a')).not.toBe(etagOf('b'));
  });

  test('property: the one-shot hash is createHash(sha256) of the UTF-8 text, base64url, cut to 27', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (t) => {
      expect(etagOf(t)).toBe(createHash('sha256').update(t).digest('base64url').slice(0, 27));
    }));
  });

  test('typed domain errors carry code, message and details', () => {
    const e = invalid('bad', { field: 'x' });
    expect(e).toBeInstanceOf(DomainError);
    expect(e).toBeInstanceOf(Error);
    expect([e.code, e.message, e.details, e.name]).toEqual(['invalid', 'bad', { field: 'x' }, 'DomainError']);
    expect([conflict('c').code, notFound('n').code, notFound('n').details]).toEqual(['conflict', 'not_found', undefined]);
  });
});

describe('constraints: limits and lookups', () => {
  test('a file too large or too long is refused', () => {
    expect(() => parseConstraints('#'.repeat(MAX_CONSTRAINTS_BYTES + 1))).toThrow(`constraints file is larger than ${MAX_CONSTRAINTS_BYTES} bytes`);
    expect(() => parseConstraints('#\n'.repeat(MAX_CONSTRAINTS_LINES + 1))).toThrow(`constraints file has more than ${MAX_CONSTRAINTS_LINES} lines`);
    expect(parseConstraints('#\n'.repeat(MAX_CONSTRAINTS_LINES)).lines).toHaveLength(MAX_CONSTRAINTS_LINES);
  });

  test('lines: empty file, last line without newline, CRLF, options and comments', () => {
    expect(parseConstraints('').lines).toEqual([]);
    const f = parseConstraints('-e foo\r\n# c\nsix===1.0');
    expect(f.lines.map((l) => [l.text, l.eol, l.pin?.version ?? null])).toEqual([['-e foo', '\r\n', null], ['# c', '\n', null], ['six===1.0', '', '1.0']]);
    expect(pinsOf(f, 'six')[0]).toMatchObject({ name: 'six', key: 'six', marker: null, versionStart: 6, versionEnd: 9 });
  });

  test('bad lines name their line number', () => {
    expect(() => parseConstraints('six===1.0\nsix>=1.0\n')).toThrow(/constraints line 2 is not "name===version\[;marker\]" \(no === or == after the name\): "six>=1.0"/);
    try {
      parseConstraints('six===x\n');
    } catch (e) {
      expect((e as DomainError).message).toBe('constraints line 1: "x" is not a PEP 440 version');
      expect((e as DomainError).details).toEqual({ line: 1 });
    }
  });

  test('the pinned version: one, none, or several (refused; null from the lenient lookup)', () => {
    const f = parseConstraints("numpy===1.0;python_version<'3.10'\nnumpy===2.0;python_version>='3.10'\nsix===1.0\n");
    expect(pinnedVersion(f, 'six')).toBe('1.0');
    expect(pinnedVersion(f, 'absent')).toBeNull();
    expect(() => pinnedVersion(f, 'numpy')).toThrow('numpy is pinned at several versions (1.0, 2.0); give the stable version explicitly');
    expect(pinnedVersionOrNull(f, 'numpy')).toBeNull();
    expect(pinnedVersionOrNull(f, 'six')).toBe('1.0');
  });
});
