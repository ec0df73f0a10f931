import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseConstraints } from '../../server/domain/constraints';
import { diffConstraints } from '../../server/domain/constraints-diff';
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
  const CLIFF_BEFORE = readFileSync(join(__dirname, '../fixtures/upper-constraints-before-cliff-split.txt'), 'utf8');
  const CLIFF_SPLIT = readFileSync(join(__dirname, '../fixtures/upper-constraints-cliff-split.txt'), 'utf8');

  test('rollback of a merged bump: the repository\'s Revert form, one line back, evidence, Signed-off-by, bug', () => {
    const p = buildProposal(input({ signedOffBy: 'depcanary bot <depcanary@example.org>', bug: { kind: 'closes', id: '2162085' } }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.subject).toBe('Revert "update constraint for oslo.log to new release 8.3.0"');
    expect(p.files.map((f) => f.path)).toEqual(['upper-constraints.txt']);
    expect(changedLines(UC, p.files[0]!.after)).toEqual([['oslo.log===8.3.0', 'oslo.log===8.2.0']]);
    const m = p.message;
    expect(m.startsWith(`${p.subject}\n\nReason for revert: automatic rollback: candidate worse than control\n\n`)).toBe(true);
    expect(m).toContain("depcanary's progressive rollout of oslo.log 8.3.0 on master was rolled\nback at stage 2 of 3 (10% of machines on 8.3.0) by the decision rule.\nThis sets oslo.log back to 8.2.0 in upper-constraints.txt.");
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
    expect(m.trimEnd().split('\n\n').pop()).toBe('Closes-Bug: #2162085\nSigned-off-by: depcanary bot <depcanary@example.org>\nDepcanary-Rollout: r-123');
    expect(m).not.toContain('This reverts commit');
    for (const l of m.split('\n')) if (!l.includes('://') && !l.includes('.tests.')) expect(l.length).toBeLessThanOrEqual(72);
  });

  test('with the bump commit on the branch: "This reverts commit", and exactly its lines come back (a marker split)', () => {
    const before = parseConstraints(CLIFF_BEFORE);
    const after = parseConstraints(CLIFF_SPLIT);
    const change = diffConstraints(before, after)[0]!;
    const sha = 'e99201c91c4dbe12cd93470d92279e53190431ff';
    const p = buildProposal(input({
      rollout: { id: 'r-9', library: 'cliff', stable: '4.9.1', candidate: '4.10.0', stages: [1, 10, 100], stageIndex: 0, requiresPython: '>=3.10' },
      constraints: { path: 'upper-constraints.txt', text: CLIFF_SPLIT },
      reverts: { commit: sha, subject: 'update constraint for cliff to new release 4.10.0', change },
      decision: null, actor: 'alice (release-manager)', reason: 'cliff 4.10.0 breaks the osc plugins',
      bug: { kind: 'related', id: '2109396' },
    }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.files[0]!.after).toBe(CLIFF_BEFORE);
    expect(p.message.split('\n').slice(0, 5)).toEqual([
      'Revert "update constraint for cliff to new release 4.10.0"', '', `This reverts commit ${sha}.`, '',
      'Reason for revert: cliff 4.10.0 breaks the osc plugins',
    ]);
    expect(p.message).toContain('\n\nNo decision-rule evidence is attached (manual rollback).\n\n');
    expect(p.message).toContain('Related-Bug: #2109396\nDepcanary-Rollout: r-9\n');
  });

  test('the patch applies with git apply and reproduces the new file', () => {
    const p = buildProposal(input());
    if (!p.propose) throw new Error(p.reason);
    const dir = mkdtempSync(join(tmpdir(), 'depcanary-patch-'));
    writeFileSync(join(dir, 'upper-constraints.txt'), UC);
    writeFileSync(join(dir, 'change.patch'), p.patch);
    execFileSync('git', ['apply', '--unidiff-zero', 'change.patch'], { cwd: dir });
    expect(readFileSync(join(dir, 'upper-constraints.txt'), 'utf8')).toBe(p.files[0]!.after);
  });

  test('a manual rollback: only the lines at the candidate go back, marker lines at other versions untouched, no rule evidence', () => {
    const uc = "numpy===2.0.0;python_version=='3.9'\nsix===1.17.0\nnumpy===2.1.0;python_version>='3.10'";
    const p = buildProposal(input({
      rollout: { id: 'r', library: 'numpy', stable: '2.0.2', candidate: '2.1.0', stages: [1, 100], stageIndex: 0 },
      constraints: { path: 'upper-constraints.txt', text: uc },
      requirements: null,
      decision: null,
    }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.files[0]!.after).toBe("numpy===2.0.0;python_version=='3.9'\nsix===1.17.0\nnumpy===2.0.2;python_version>='3.10'");
    expect(p.message).toContain('No decision-rule evidence is attached (manual rollback).');
    expect(p.message).not.toContain('Decision:');
    expect(p.patch).toContain('\\ No newline at end of file');
  });

  test('an automatic rollback says its reason once (the rule\'s reason is the action\'s)', () => {
    const p = buildProposal(input({ reason: DECISION.reason }));
    if (!p.propose) throw new Error(p.reason);
    const sentences = p.message.replace(/\n(?! )/g, ' ').split(/(?<=\.)\s+/).filter((x) => x.length > 30);
    expect(new Set(sentences).size).toBe(sentences.length);
    expect(p.message.split(DECISION.reason.slice(0, 40)).length - 1).toBe(1);
  });

  test('intervals are shown within ±100 points', () => {
    const wide = { ...DECISION, D: 0.906, lower: 0.188, upper: 1.624, margin: 0.02 };
    const p = buildProposal(input({ decision: wide }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.message).toContain('difference +90.6 points (interval +18.8 to +100.0, margin 2.0)');
    const low = buildProposal(input({ decision: { ...DECISION, D: -0.5, lower: -1.7, upper: 0.7 } }));
    if (!low.propose) throw new Error(low.reason);
    expect(low.message).toContain('interval -100.0 to +70.0');
  });

  test('the branch never pinned the candidate: nothing to revert, with the reason', () => {
    const uc = UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0');
    const p = buildProposal(input({ constraints: { path: 'upper-constraints.txt', text: uc }, rollout: { ...input().rollout, branch: 'stable/2026.1' } }));
    expect(p).toEqual({ propose: false, kind: 'rollback', reason: 'upper-constraints.txt on stable/2026.1 does not pin oslo.log at 8.3.0; nothing to revert.', notes: [] });
  });

  test('the exclusion is a change of its own: requirements only, in the repository\'s form', () => {
    const p = buildProposal(input({ kind: 'exclude', signedOffBy: 'depcanary bot <depcanary@example.org>' }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.subject).toBe('Exclude oslo.log 8.3.0 from global requirements');
    expect(p.files.map((f) => f.path)).toEqual(['global-requirements.txt']);
    expect(changedLines(GR, p.files[0]!.after)).toHaveLength(1);
    expect(p.message.replace(/\n/g, ' ')).toContain('It is a change of its own: the revert of the constraint does not depend on it.');
    const gr = GR.replace('!=5.1.0  # Apache-2.0', '!=5.1.0,!=8.3.0  # Apache-2.0');
    const again = buildProposal(input({ kind: 'exclude', requirements: { path: 'global-requirements.txt', text: gr } }));
    expect(again).toMatchObject({ propose: false, reason: 'global-requirements.txt on master already excludes oslo.log 8.3.0; nothing to propose.' });
    expect(buildProposal(input({ kind: 'exclude', requirements: null }))).toMatchObject({ propose: false, reason: expect.stringMatching(/GERRIT_REQUIREMENTS_PATH/) });
  });

  test('promotion: the bump in the release bot\'s form, split per Python as the rollout ran it', () => {
    const p = buildProposal(input({
      kind: 'promote', decision: null, reason: 'no regression at 10%',
      constraints: { path: 'upper-constraints.txt', text: CLIFF_BEFORE },
      rollout: { id: 'r', library: 'cliff', stable: '4.9.1', candidate: '4.10.0', stages: [1, 10, 100], stageIndex: 2, requiresPython: '>=3.10', stableRequiresPython: '>=3.9', pythons: ['3.9', '3.10', '3.11', '3.12'] },
    }));
    if (!p.propose) throw new Error(p.reason);
    expect(p.subject).toBe('update constraint for cliff to new release 4.10.0');
    expect(p.files[0]!.after).toBe(CLIFF_SPLIT);
    expect(p.message).toContain('Only the lines for the Pythons cliff 4.10.0 supports move: it does not\nsupport Python 3.9 (Requires-Python >=3.10), which keep 4.9.1.');
    const again = buildProposal(input({ kind: 'promote', decision: null }));
    expect(again).toMatchObject({ propose: false, reason: 'upper-constraints.txt on master already pins oslo.log at 8.3.0; nothing to propose.' });
  });

  test('a malformed or partial decision never breaks the message', () => {
    for (const decision of [undefined, 42, 'x', [], { arms: 'no' }, { candidate: { p: null, runs: 0 }, D: null }, { verdict: 7, newInCandidate: [null, { id: 3 }, { id: 'a\nb' }] }]) {
      const p = buildProposal(input({ decision }));
      if (!p.propose) throw new Error(p.reason);
      expect(p.subject).toBe('Revert "update constraint for oslo.log to new release 8.3.0"');
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
