import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildProposal, type ProposalInput } from '../../server/domain/proposal';
import { excludeVersion, specifierExcludes } from '../../server/domain/requirements-edit';
import { unifiedDiff } from '../../server/domain/patch';

const UC = readFileSync(join(__dirname, '../fixtures/upper-constraints.txt'), 'utf8');
const GR = readFileSync(join(__dirname, '../fixtures/global-requirements.txt'), 'utf8');

/** Lines that differ between two texts with the same line count. */
function changedLines(a: string, b: string): [string, string][] {
  const x = a.split('\n');
  const y = b.split('\n');
  expect(y.length).toBe(x.length);
  return x.flatMap((l, i) => (l === y[i] ? [] : [[l, y[i]!] as [string, string]]));
}

const DECISION = {
  verdict: 'rollback',
  rule: 'sequential-difference',
  reason: 'candidate failure rate exceeds control by more than the margin with 95% confidence',
  candidate: { N: 380, F: 56.2, G: 38, p: 0.148, V: 0.001, runs: 412, failures: 61, errors: 3, machines: 38, allFailingMachines: 2 },
  control: { N: 3410, F: 92.1, G: 341, p: 0.027, V: 0.0001, runs: 3620, failures: 97, errors: 5, machines: 341, allFailingMachines: 0 },
  D: 0.121, h: 0.058, lower: 0.063, upper: 0.179, margin: 0.02,
  stageIndex: 1, percent: 10,
  newInCandidate: [
    { id: 'nova.tests.unit.test_log.TestLog.test_format', candidateMachines: 9, expectedMachines: 0.42 },
    { id: 'oslo_log.tests.unit.test_log.JSONFormatterTestCase.test_json', candidateMachines: 4, expectedMachines: 0.1 },
  ],
};

function input(over: Partial<ProposalInput> = {}): ProposalInput {
  return {
    kind: 'rollback',
    rollout: { id: 'r-123', library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], stageIndex: 1 },
    decision: DECISION,
    actor: 'controller',
    reason: 'automatic rollback: candidate worse than control',
    constraints: { path: 'upper-constraints.txt', text: UC },
    requirements: { path: 'global-requirements.txt', text: GR },
    rolloutUrl: 'https://depcanary.example.org/rollouts/r-123',
    ...over,
  };
}

describe('requirements line editor', () => {
  test.each([
    ['oslo.log!=3.44.2,!=4.1.2  # Apache-2.0', 'oslo.log', '6.1.0', 'oslo.log!=3.44.2,!=4.1.2,!=6.1.0  # Apache-2.0'],
    ['a2wsgi  # Apache-2.0', 'a2wsgi', '1.10.11', 'a2wsgi!=1.10.11  # Apache-2.0'],
    ['a2wsgi', 'a2wsgi', '2.0', 'a2wsgi!=2.0'],
    ["xattr;sys_platform!='win32'  # MIT", 'xattr', '1.3.1', "xattr!=1.3.1;sys_platform!='win32'  # MIT"],
    ["pyroute2!=0.5.4,!=0.9.4;sys_platform!='win32'  # Apache-2.0 (+ dual)", 'pyroute2', '0.9.5', "pyroute2!=0.5.4,!=0.9.4,!=0.9.5;sys_platform!='win32'  # Apache-2.0 (+ dual)"],
    ['Django<6  # BSD', 'django', '5.2.1', 'Django<6,!=5.2.1  # BSD'],
    ['requests[security] >= 2.14.2 , !=2.20.0  # Apache-2.0', 'requests', '2.32.0', 'requests[security] >= 2.14.2 , !=2.20.0,!=2.32.0  # Apache-2.0'],
    ['oslo_log>=3.0', 'oslo.log', '6.1.0', 'oslo_log>=3.0,!=6.1.0'],
  ])('%s', (line, lib, v, want) => {
    const r = excludeVersion(`# head\n${line}\nother>=1  # MIT\n`, lib, v);
    expect(r.text).toBe(`# head\n${want}\nother>=1  # MIT\n`);
    expect(r.changed).toEqual([1]);
  });

  test('a specifier that already refuses the version is left alone', () => {
    expect(specifierExcludes('!=3.44.2,!=6.1.0', '6.1.0')).toBe(true);
    expect(specifierExcludes('!=6.1.*', '6.1.3')).toBe(true);
    expect(specifierExcludes('<1.36', '1.37.0')).toBe(true);
    expect(specifierExcludes('!=6.1', '6.1.0')).toBe(true);
    expect(specifierExcludes('', '6.1.0')).toBe(false);
    for (const line of ['boto3<1.36  # Apache-2.0', 'oslo.log!=6.1.0  # Apache-2.0']) {
      const lib = line.startsWith('boto3') ? 'boto3' : 'oslo.log';
      const v = lib === 'boto3' ? '1.36.2' : '6.1.0';
      const r = excludeVersion(`${line}\n`, lib, v);
      expect(r.text).toBe(`${line}\n`);
      expect(r.found).toHaveLength(1);
      expect(r.changed).toEqual([]);
    }
  });

  test('every line of the library is edited, CRLF and a missing final newline are kept', () => {
    const text = "x>=1;python_version<'3.10'\r\nx>=2;python_version>='3.10'  # MIT\r\n-r other.txt\r\nxylo  # BSD";
    const r = excludeVersion(text, 'x', '2.5');
    expect(r.text).toBe("x>=1,!=2.5;python_version<'3.10'\r\nx>=2,!=2.5;python_version>='3.10'  # MIT\r\n-r other.txt\r\nxylo  # BSD");
    expect(r.changed).toEqual([0, 1]);
  });

  test('lines it cannot parse are reported, never rewritten', () => {
    const r = excludeVersion('foo @ https://example.org/foo.whl\n', 'foo', '1.0');
    expect(r.text).toBe('foo @ https://example.org/foo.whl\n');
    expect(r.unparsed).toEqual([0]);
  });

  test('on the real global-requirements.txt exactly one line changes', () => {
    const r = excludeVersion(GR, 'oslo.log', '8.3.0');
    expect(changedLines(GR, r.text)).toEqual([[
      'oslo.log!=3.44.2,!=4.1.2,!=4.2.0,!=5.0.1,!=5.0.2,!=5.1.0  # Apache-2.0',
      'oslo.log!=3.44.2,!=4.1.2,!=4.2.0,!=5.0.1,!=5.0.2,!=5.1.0,!=8.3.0  # Apache-2.0',
    ]]);
    const bare = excludeVersion(GR, 'A2WSGI', '1.10.11');
    expect(changedLines(GR, bare.text)).toEqual([['a2wsgi  # Apache-2.0', 'a2wsgi!=1.10.11  # Apache-2.0']]);
  });
});

describe('buildProposal', () => {
  test('rollback: one line in each file, byte-identical elsewhere, evidence in the message', () => {
    const p = buildProposal(input());
    if (!p.propose) throw new Error(p.reason);
    expect(p.subject).toBe('Roll back oslo.log to 8.2.0: 8.3.0 fails in the 10% cohort');
    expect(p.files.map((f) => f.path)).toEqual(['upper-constraints.txt', 'global-requirements.txt']);
    expect(changedLines(UC, p.files[0]!.after)).toEqual([['oslo.log===8.3.0', 'oslo.log===8.2.0']]);
    expect(changedLines(GR, p.files[1]!.after)).toHaveLength(1);
    const m = p.message;
    expect(m.startsWith(`${p.subject}\n\n`)).toBe(true);
    expect(m).toContain('stage 2 of 3, where 10% of machines ran the candidate');
    expect(m).toContain([
      '  arm        version  runs  machines  failed  errored  failure rate',
      '  candidate  8.3.0     412        38      61        3         14.8%',
      '  control    8.2.0    3620       341      97        5          2.7%',
      '  difference +12.1 points (interval +6.3 to +17.9, margin 2.0)',
      '  (failure rate: failed or errored runs, runs capped per machine-day)',
    ].join('\n'));
    expect(m).toContain('Decision: rollback (rule: sequential-difference)');
    expect(m).toContain('nova.tests.unit.test_log.TestLog.test_format (9 machines, 0.4 expected)');
    expect(m).toContain('Rollout: https://depcanary.example.org/rollouts/r-123');
    expect(m.trimEnd().split('\n').pop()).toBe('Depcanary-Rollout: r-123');
    for (const l of m.split('\n')) if (!l.includes('://') && !l.includes('.tests.')) expect(l.length).toBeLessThanOrEqual(72);
  });

  test('the patch applies with git apply and reproduces the new files', () => {
    const p = buildProposal(input());
    if (!p.propose) throw new Error(p.reason);
    const dir = mkdtempSync(join(tmpdir(), 'depcanary-patch-'));
    writeFileSync(join(dir, 'upper-constraints.txt'), UC);
    writeFileSync(join(dir, 'global-requirements.txt'), GR);
    writeFileSync(join(dir, 'change.patch'), p.patch);
    execFileSync('git', ['apply', '--unidiff-zero', 'change.patch'], { cwd: dir });
    expect(readFileSync(join(dir, 'upper-constraints.txt'), 'utf8')).toBe(p.files[0]!.after);
    expect(readFileSync(join(dir, 'global-requirements.txt'), 'utf8')).toBe(p.files[1]!.after);
  });

  test('every marker line of the library goes back, markers and other lines kept', () => {
    const uc = "numpy===2.1.0;python_version<'3.10'\nsix===1.17.0\nnumpy===2.1.0;python_version>='3.10'";
    const p = buildProposal(input({
      rollout: { id: 'r', library: 'numpy', stable: '2.0.2', candidate: '2.1.0', stages: [1, 100], stageIndex: 0 },
      constraints: { path: 'upper-constraints.txt', text: uc },
      requirements: null,
      decision: null,
    }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.files[0]!.after).toBe("numpy===2.0.2;python_version<'3.10'\nsix===1.17.0\nnumpy===2.0.2;python_version>='3.10'");
    expect(p.subject).toBe('Roll back numpy to 2.0.2: 2.1.0 rolled back in the 1% cohort');
    expect(p.message).toContain('No decision-rule evidence is attached (manual rollback).');
    expect(p.patch).toContain('\\ No newline at end of file');
  });

  test('branch already at stable: only the exclusion is proposed', () => {
    const uc = UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0');
    const p = buildProposal(input({ constraints: { path: 'upper-constraints.txt', text: uc } }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.files.map((f) => f.path)).toEqual(['global-requirements.txt']);
    expect(p.subject).toBe('Exclude oslo.log 8.3.0: 8.3.0 fails in the 10% cohort');
  });

  test('branch at stable and candidate excluded: nothing to propose, with the reason', () => {
    const uc = UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0');
    const gr = GR.replace('!=5.1.0  # Apache-2.0', '!=5.1.0,!=8.3.0  # Apache-2.0');
    const p = buildProposal(input({ constraints: { path: 'upper-constraints.txt', text: uc }, requirements: { path: 'global-requirements.txt', text: gr } }));
    expect(p).toEqual({
      propose: false,
      kind: 'rollback',
      reason: 'upper-constraints.txt already pins oslo.log at 8.2.0 and global-requirements.txt already excludes 8.3.0; nothing to propose.',
      notes: [],
    });
    const noReq = buildProposal(input({ constraints: { path: 'upper-constraints.txt', text: uc }, requirements: null }));
    expect(noReq.propose).toBe(false);
  });

  test('a library the constraints file does not pin is not added', () => {
    const p = buildProposal(input({
      rollout: { id: 'r', library: 'not-there', stable: '1.0', candidate: '1.1', stages: [1, 100], stageIndex: 0 },
      requirements: null,
    }));
    expect(p.propose).toBe(false);
    if (!p.propose) expect(p.reason).toBe('upper-constraints.txt does not pin not-there; nothing to propose.');
  });

  test('promotion pins the candidate and leaves the requirements alone', () => {
    const uc = UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0');
    const p = buildProposal(input({ kind: 'promote', decision: null, constraints: { path: 'upper-constraints.txt', text: uc }, rollout: { id: 'r', library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], stageIndex: 2 } }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.subject).toBe('Update oslo.log to 8.3.0: rolled out to 100% of machines');
    expect(p.files.map((f) => f.path)).toEqual(['upper-constraints.txt']);
    expect(changedLines(uc, p.files[0]!.after)).toEqual([['oslo.log===8.2.0', 'oslo.log===8.3.0']]);
    const again = buildProposal(input({ kind: 'promote', decision: null }));
    expect(again.propose).toBe(false);
  });

  test('a malformed or partial decision never breaks the message', () => {
    for (const decision of [undefined, 42, 'x', [], { arms: 'no' }, { candidate: { p: null, runs: 0 }, D: null }, { verdict: 7, newInCandidate: [null, { id: 3 }, { id: 'a\nb' }] }]) {
      const p = buildProposal(input({ decision }));
      if (!p.propose) throw new Error(p.reason);
      expect(p.subject).toMatch(/^Roll back oslo.log to 8.2.0: 8.3.0 (fails|rolled back) in the 10% cohort$/);
      expect(p.message).not.toContain('undefined');
      expect(p.message).not.toContain('NaN');
    }
  });
});

describe('unifiedDiff', () => {
  test('distant edits make separate hunks with three lines of context', () => {
    const before = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n') + '\n';
    const after = before.replace('l2\n', 'L2\n').replace('l17\n', 'L17\n');
    expect(unifiedDiff({ path: 'f', before, after })).toBe(
      'diff --git a/f b/f\n--- a/f\n+++ b/f\n' +
      '@@ -1,6 +1,6 @@\n l0\n l1\n-l2\n+L2\n l3\n l4\n l5\n' +
      '@@ -15,6 +15,6 @@\n l14\n l15\n l16\n-l17\n+L17\n l18\n l19\n');
  });

  test('a change in line count is one hunk between common prefix and suffix', () => {
    expect(unifiedDiff({ path: 'f', before: 'a\nb\n', after: 'a\nx\ny\nb\n' })).toBe(
      'diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,4 @@\n a\n+x\n+y\n b\n');
    expect(unifiedDiff({ path: 'f', before: 'same', after: 'same' })).toBe('');
  });
});
