/**
 * Segment evidence and tests (server/domain/segments): the ingestion plan and its caps, the
 * in-memory ledger, the conditional e-value, the Bonferroni split and the finding sentence.
 * Hand-computed cases first, then properties (fast-check).
 */
import fc from 'fast-check';
import {
  SEGMENT_MIXTURE, SIGNATURE_MIXTURE, SegmentLedger, emptySegmentEvidence, evidenceFigure, field, findingSentence, log10EValue,
  parseField, projectSegment, pythonMinor, runAlpha, segmentCheck, segmentEvidence, segmentLabel, segmentPlan, segmentReason,
  stageOf, stageShares, total, type SegmentCheckPolicy, type SegmentEvidence, type SegmentReport, type SignatureStats,
} from '../../server/domain/segments';

const POLICY = { cap: 5, maxProjects: 100, maxPythons: 8, maxSignatures: 2000, maxNewSegmentsPerMachineDay: 20 };
const CHECK: SegmentCheckPolicy = {
  project: 0.0005, python: 0.0005, signature: 0.0015, maxProjects: 100, maxPythons: 8, maxSignatures: 2000, segmentMinMachines: 3, segmentHoldFactor: 10,
};
const STAGES = [1, 10, 100];

function rep(over: Partial<SegmentReport> = {}): SegmentReport {
  return { machine: 'm1', day: '2025-01-06', stage: 0, arm: 'candidate', project: 'nova', python: '3.11.7', outcome: 'pass', failedTests: [], ...over };
}

function ledgerOf(reports: SegmentReport[], policy = POLICY): SegmentLedger {
  const l = new SegmentLedger();
  for (const r of reports) l.apply(segmentPlan(r, policy));
  return l;
}

function sig(project: string, test: string, candidate: number[], control: number[]): SignatureStats {
  return { project, test, candidate, control };
}

describe('segment names', () => {
  test('Python minor versions', () => {
    expect(pythonMinor('3.11.7')).toBe('3.11');
    expect(pythonMinor('3.13')).toBe('3.13');
    expect(pythonMinor('3.12.0rc1')).toBe('3.12');
    expect(pythonMinor(' 3.010.2 ')).toBe('3.10');
    expect(pythonMinor('3')).toBeNull();
    expect(pythonMinor('pypy3.10')).toBeNull();
    expect(pythonMinor('3.123456')).toBeNull();
  });

  test('projects are PEP 503 normalised; an empty name is no segment', () => {
    expect(projectSegment('oslo.config')).toBe('oslo-config');
    expect(projectSegment('Oslo_Config')).toBe('oslo-config');
    expect(projectSegment('  ')).toBeNull();
  });

  test('labels', () => {
    expect(segmentLabel('project', 'nova')).toBe('nova');
    expect(segmentLabel('python', '3.10')).toBe('Python 3.10');
    expect(segmentLabel('signature', 'nova', 'tests.test_a')).toBe('nova: tests.test_a');
  });

  test('fields round-trip, a test id may hold anything but a tab', () => {
    expect(parseField(field('N', 'project', 'nova'))).toEqual({ stat: 'N', family: 'project', name: 'nova' });
    expect(parseField(field('t1', 'signature', 'nova', 'a::b[x|y]'))).toEqual({ stat: 't1', family: 'signature', name: 'nova', test: 'a::b[x|y]' });
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((s) => !s.includes('\t')), fc.string({ minLength: 1 }).filter((s) => !s.includes('\t')), (p, t) => {
        expect(parseField(field('t0', 'signature', p, t))).toEqual({ stat: 't0', family: 'signature', name: p, test: t });
      }),
    );
  });

  test('garbage fields parse to null', () => {
    for (const f of ['', 'N', 'N\tq\tnova', 'N\tp\t', 't0\ts\tnova', 't0\ts\t\ttest', 't0\ts\tnova\t']) expect(parseField(f)).toBeNull();
    expect(stageOf('r2', 'r')).toBe(2);
    expect(stageOf('r', 'r')).toBeNull();
    expect(stageOf('rx', 'r')).toBeNull();
    expect(stageOf('f2', 'r')).toBeNull();
    expect(stageOf('r100', 'r')).toBeNull();
    expect(stageOf('r-1', 'r')).toBeNull();
  });
});

describe('ingestion plan', () => {
  test('a passing run: capped runs and first runs of its project and Python', () => {
    const p = segmentPlan(rep(), POLICY);
    expect(p.arm).toBe('candidate');
    expect(p.budgetField).toBe('m1\t2025-01-06');
    expect(p.budgetUnit).toBe('2025-01-06');
    expect(p.limits).toEqual({ project: 100, python: 8, signature: 2000, budget: 20 });
    expect(p.groups).toEqual([
      { guards: [{ op: 'admit', family: 'project', member: 'nova' }, { op: 'cap', field: 'p\tnova\tm1\t2025-01-06', limit: 5, unit: 'p\tnova\t2025-01-06' }], incr: ['N\tp\tnova'] },
      { guards: [{ op: 'member', family: 'project', member: 'nova' }, { op: 'first', member: 'p\tnova\tm1', unit: 'p\tnova' }], incr: ['r0\tp\tnova'] },
      { guards: [{ op: 'admit', family: 'python', member: '3.11' }, { op: 'cap', field: 'y\t3.11\tm1\t2025-01-06', limit: 5, unit: 'y\t3.11\t2025-01-06' }], incr: ['N\ty\t3.11'] },
      { guards: [{ op: 'member', family: 'python', member: '3.11' }, { op: 'first', member: 'y\t3.11\tm1', unit: 'y\t3.11' }], incr: ['r0\ty\t3.11'] },
    ]);
  });

  test('a failed run adds its failures and one signature group per distinct test id', () => {
    const p = segmentPlan(rep({ outcome: 'fail', stage: 1, failedTests: ['a', 'b', 'a', '', 'bad\tid'] }), POLICY);
    expect(p.groups[0]!.incr).toEqual(['N\tp\tnova', 'F\tp\tnova']);
    // the source's event (no source: the machine stands for itself) before the machine's first run
    expect(p.groups[1]).toEqual({
      guards: [{ op: 'member', family: 'project', member: 'nova' }, { op: 'absent', member: 'p\tnova\tm1', unit: 'p\tnova' }, { op: 'first', member: 'SF\tp\tnova\tcandidate\tm:m1' }],
      incr: ['SF\tp\tnova'],
    });
    expect(p.groups[2]).toEqual({
      guards: [{ op: 'member', family: 'project', member: 'nova' }, { op: 'absent', member: 'p\tnova\tm1', unit: 'p\tnova' }],
      incr: ['f1\tp\tnova'],
    });
    expect(p.groups[3]!.incr).toEqual(['r1\tp\tnova']);
    expect(p.groups.slice(8)).toEqual([
      {
        guards: [{ op: 'admit', family: 'signature', member: 'nova\ta' }, { op: 'absent', member: 's\tnova\ta\tm1', unit: 's\tnova\ta' }, { op: 'first', member: 'u\ts\tnova\ta\tcandidate\tm:m1' }],
        incr: ['u\ts\tnova\ta'],
      },
      { guards: [{ op: 'member', family: 'signature', member: 'nova\ta' }, { op: 'first', member: 's\tnova\ta\tm1', unit: 's\tnova\ta' }], incr: ['t1\ts\tnova\ta'] },
      {
        guards: [{ op: 'admit', family: 'signature', member: 'nova\tb' }, { op: 'absent', member: 's\tnova\tb\tm1', unit: 's\tnova\tb' }, { op: 'first', member: 'u\ts\tnova\tb\tcandidate\tm:m1' }],
        incr: ['u\ts\tnova\tb'],
      },
      { guards: [{ op: 'member', family: 'signature', member: 'nova\tb' }, { op: 'first', member: 's\tnova\tb\tm1', unit: 's\tnova\tb' }], incr: ['t1\ts\tnova\tb'] },
    ]);
    // with a source, events count it (first per segment and source)
    const q = segmentPlan(rep({ outcome: 'fail', source: 'net:0123456789abcdef' }), POLICY);
    expect(q.groups[1]!.guards[2]).toEqual({ op: 'first', member: 'SF\tp\tnova\tcandidate\tnet:0123456789abcdef' });
  });

  test('an errored run counts as failed and errored; a pass never carries signatures', () => {
    const p = segmentPlan(rep({ outcome: 'error', python: '3.9.1' }), POLICY);
    expect(p.groups.map((g) => g.incr)).toEqual([
      ['N\tp\tnova', 'F\tp\tnova', 'E\tp\tnova'], ['SF\tp\tnova'], ['SE\tp\tnova'], ['f0\tp\tnova', 'e0\tp\tnova'], ['r0\tp\tnova'],
      ['N\ty\t3.9', 'F\ty\t3.9', 'E\ty\t3.9'], ['SF\ty\t3.9'], ['SE\ty\t3.9'], ['f0\ty\t3.9', 'e0\ty\t3.9'], ['r0\ty\t3.9'],
    ]);
    expect(segmentPlan(rep({ outcome: 'pass', failedTests: ['a'] }), POLICY).groups).toHaveLength(4);
  });

  test('without a parsable Python or a project, those groups (and signatures) are left out', () => {
    expect(segmentPlan(rep({ python: 'cpython' }), POLICY).groups).toHaveLength(2);
    const p = segmentPlan(rep({ project: ' ', outcome: 'fail', failedTests: ['a'] }), POLICY);
    expect(p.groups.map((g) => g.guards[0])).toEqual([
      { op: 'admit', family: 'python', member: '3.11' },
      { op: 'member', family: 'python', member: '3.11' },
      { op: 'member', family: 'python', member: '3.11' },
      { op: 'member', family: 'python', member: '3.11' },
    ]);
  });
});

describe('ledger: the plan semantics', () => {
  test('runs are capped per machine, UTC day and segment; first runs once per machine over the rollout', () => {
    const days = ['2025-01-06', '2025-01-06', '2025-01-06', '2025-01-06', '2025-01-06', '2025-01-06', '2025-01-07'];
    const l = ledgerOf(days.map((day, i) => rep({ day, outcome: i === 5 ? 'fail' : 'pass' })));
    const ev = l.evidence();
    // day 1: 6 runs, the 6th (failed) beyond the cap of 5; day 2: 1 run
    expect(ev.projects[0]).toEqual({
      kind: 'project', name: 'nova',
      candidate: { N: 6, F: 0, E: 0, firstRuns: [1], firstFailed: [], firstErrored: [] },
      control: { N: 0, F: 0, E: 0, firstRuns: [], firstFailed: [], firstErrored: [] },
    });
  });

  test("a machine's first run is counted in the arm and stage it fell in, once", () => {
    const l = ledgerOf([
      rep({ arm: 'control', stage: 0, outcome: 'fail' }),
      rep({ arm: 'candidate', stage: 1, outcome: 'error' }),
      rep({ machine: 'm2', arm: 'candidate', stage: 1, outcome: 'error' }),
    ]);
    const p = l.evidence().projects[0]!;
    expect(p.control.firstRuns).toEqual([1]);
    expect(p.control.firstFailed).toEqual([1]);
    expect(p.candidate.firstRuns).toEqual([0, 1]);
    expect(p.candidate.firstErrored).toEqual([0, 1]);
  });

  test('a signature counts each machine once, at its first failure', () => {
    const l = ledgerOf([
      rep({ outcome: 'fail', failedTests: ['t'] }),
      rep({ outcome: 'fail', failedTests: ['t'], day: '2025-01-07' }),
      rep({ machine: 'm2', arm: 'control', outcome: 'fail', failedTests: ['t'] }),
      rep({ machine: 'm3', outcome: 'fail', stage: 1, failedTests: ['t', 'u'] }),
    ]);
    expect(l.evidence().signatures).toEqual([
      { project: 'nova', test: 't', candidate: [1, 1], control: [1], sources: { candidate: 2, control: 1 } },
      { project: 'nova', test: 'u', candidate: [0, 1], control: [], sources: { candidate: 1, control: 0 } },
    ]);
  });

  test('one source adds at most segmentSourceCap events to a segment a day, across both arms; passes are not capped', () => {
    const capped = { ...POLICY, segmentSourceCap: 2 };
    const l = ledgerOf([
      ...['m1', 'm2', 'm3'].map((machine) => rep({ machine, source: 'net:a', outcome: 'fail', failedTests: ['t'] })),
      rep({ machine: 'm4', source: 'net:a', arm: 'control', outcome: 'fail', failedTests: ['t'] }),
      rep({ machine: 'm5', source: 'net:a', outcome: 'fail', failedTests: ['t'], day: '2025-01-07' }),
      ...['m6', 'm7', 'm8'].map((machine) => rep({ machine, source: 'net:a' })),
      rep({ machine: 'm9', source: 'net:b', arm: 'control', outcome: 'fail', failedTests: ['t'] }),
    ], capped);
    const ev = l.evidence();
    // every machine's first run counts; of the net:a events of day 1 only two (m1, m2: m3 and
    // control m4 over the cap), m5 the next day
    expect(ev.projects[0]!.candidate).toMatchObject({ firstRuns: [7], firstFailed: [3], sourcesFailed: 1 });
    expect(ev.projects[0]!.control).toMatchObject({ firstRuns: [2], firstFailed: [1], sourcesFailed: 2 });
    expect(ev.signatures[0]).toMatchObject({ candidate: [3], control: [1] });
  });

  test('events count their sources once: many machines of one source are one source', () => {
    const l = ledgerOf([
      ...['m1', 'm2', 'm3', 'm4'].map((machine) => rep({ machine, source: 'net:a', outcome: 'fail', failedTests: ['t'] })),
      rep({ machine: 'm5', source: 'net:b', outcome: 'error', failedTests: ['t'] }),
      // a machine's later failure is not an event again, nor its source's
      rep({ machine: 'm6', source: 'net:c' }),
      rep({ machine: 'm6', source: 'net:c', outcome: 'fail', failedTests: ['t'] }),
    ]);
    const ev = l.evidence();
    expect(ev.projects[0]!.candidate).toMatchObject({ firstFailed: [5], firstErrored: [1], sourcesFailed: 2, sourcesErrored: 1 });
    expect(ev.signatures[0]).toMatchObject({ candidate: [6], sources: { candidate: 3, control: 0 } });
  });

  test('tables are bounded and first come; refusals are counted once per report and segment', () => {
    const small = { ...POLICY, maxProjects: 1, maxSignatures: 1 };
    const l = ledgerOf([
      rep({ project: 'nova', outcome: 'fail', failedTests: ['a', 'b'] }),
      rep({ project: 'cinder', machine: 'm2' }),
      rep({ project: 'cinder', machine: 'm2' }),
    ], small);
    const ev = l.evidence();
    expect(ev.projects.map((p) => p.name)).toEqual(['nova']);
    expect(ev.signatures.map((s) => s.test)).toEqual(['a']);
    expect(ev.refused).toEqual({ project: 2, python: 0, signature: 1 });
    expect([...l.tables.project]).toEqual(['nova']);
  });

  test("a machine adds at most its daily budget of new segments; known ones stay counted", () => {
    const tight = { ...POLICY, maxNewSegmentsPerMachineDay: 3 };
    const l = ledgerOf([
      rep({ outcome: 'fail', failedTests: ['a', 'b', 'c'] }), // nova, 3.11, a: budget used; b, c refused
      rep({ machine: 'm2', outcome: 'fail', failedTests: ['b'] }), // m2's own budget: b admitted
      rep({ outcome: 'fail', failedTests: ['b'], day: '2025-01-07' }), // m1 the next day: b is known
    ], tight);
    const ev = l.evidence();
    expect(ev.signatures.map((s) => [s.test, s.candidate])).toEqual([['a', [1]], ['b', [2]]]);
    expect(ev.refused.signature).toBe(2);
  });

  test('an unadmitted segment consumes neither its cap nor its first run', () => {
    const l = ledgerOf([rep({ project: 'a' }), rep({ project: 'b' })], { ...POLICY, maxProjects: 1 });
    expect(l.caps.has('p\tb\tm1\t2025-01-06')).toBe(false);
    expect(l.first.has('p\tb\tm1')).toBe(false);
    expect(l.first.has('p\ta\tm1')).toBe(true);
  });
});

describe('segment evidence from stored fields', () => {
  test('any order, unknown and bad fields ignored, counts validated', () => {
    const ev = segmentEvidence(
      [['t0\ts\tnova\tx', '2'], ['N\tp\tnova', '7'], ['r1\tp\tnova', 3], ['zz\tp\tnova', 4], ['garbage', 1], ['F\tp\tnova', 'NaN'], ['E\tp\tnova', -2]],
      [['N\ty\t3.11', 5], ['t2\ts\tnova\tx', 1], ['tq\ts\tnova\tx', 1]],
      { signature: '3', project: 'x' },
    );
    expect(ev.projects).toEqual([{ kind: 'project', name: 'nova', candidate: { N: 7, F: 0, E: 0, firstRuns: [0, 3], firstFailed: [], firstErrored: [] }, control: { N: 0, F: 0, E: 0, firstRuns: [], firstFailed: [], firstErrored: [] } }]);
    expect(ev.pythons.map((p) => [p.name, p.control.N])).toEqual([['3.11', 5]]);
    expect(ev.signatures).toEqual([{ project: 'nova', test: 'x', candidate: [2], control: [0, 0, 1] }]);
    expect(ev.refused).toEqual({ project: 0, python: 0, signature: 3 });
  });

  test('segments and signatures come sorted by name', () => {
    const ev = segmentEvidence([['N\tp\tb', 1], ['N\tp\ta', 1], ['t0\ts\tb\tz', 1], ['t0\ts\ta\ty', 1]], []);
    expect(ev.projects.map((p) => p.name)).toEqual(['a', 'b']);
    expect(ev.signatures.map((s) => s.project)).toEqual(['a', 'b']);
  });
});

describe('the conditional e-value', () => {
  const shares = stageShares(STAGES);

  test('stage shares are basis points / 10,000', () => {
    expect(stageShares([0.5, 12.34, 100])).toEqual([0.005, 0.1234, 1]);
  });

  test('hand-computed: one component, ρ = 3 at a 25% stage: ×2 per candidate event, ×2/3 per control event', () => {
    // θ = ρp/(1 − p + ρp) = 0.75/1.5 = 0.5: candidate factor θ/p = 2, control (1 − θ)/(1 − p) = 2/3
    const one = { rho: [3], weight: [1] };
    expect(log10EValue({ candidate: [3], control: [0] }, [0.25, 1], one)).toBeCloseTo(Math.log10(8), 12);
    expect(log10EValue({ candidate: [3], control: [3] }, [0.25, 1], one)).toBeCloseTo(Math.log10(8 * (2 / 3) ** 3), 12);
    // the 100% stage carries no information
    expect(log10EValue({ candidate: [0, 5], control: [0, 0] }, [0.25, 1], one)).toBe(0);
  });

  test('hand-computed: the signature mixture at p = 1%', () => {
    // candidate factors ρ/(0.99 + 0.01ρ): 99.0197, 90.9918, 50.2513, 9.17431, 2.94118
    // T = 4, K = 0: 0.5·99.0197⁴ + 0.15·90.9918⁴ + 0.15·50.2513⁴ + 0.1·9.17431⁴ + 0.1·2.94118⁴ = 5.934e7
    expect(log10EValue({ candidate: [4], control: [0] }, shares, SIGNATURE_MIXTURE)).toBeCloseTo(7.77311, 4);
    expect(log10EValue({ candidate: [3], control: [0] }, shares, SIGNATURE_MIXTURE)).toBeCloseTo(5.79068, 4);
    // one control event multiplies each component by 1/(0.99 + 0.01ρ): mostly by ~0.0099
    expect(log10EValue({ candidate: [4], control: [1] }, shares, SIGNATURE_MIXTURE)).toBeCloseTo(6.27713, 4);
  });

  test('no events: e = 1; weights below 1 or ρ ≤ 1 and bad counts are ignored', () => {
    expect(log10EValue({ candidate: [], control: [] }, shares, SIGNATURE_MIXTURE)).toBeCloseTo(0, 12);
    expect(log10EValue({ candidate: [1], control: [] }, [0.5], { rho: [1, 0.5, 3], weight: [0.5, 0.5, 0] })).toBe(Number.NEGATIVE_INFINITY);
    expect(log10EValue({ candidate: [NaN, -1], control: [Infinity] }, shares, SIGNATURE_MIXTURE)).toBeCloseTo(0, 12);
    expect(total([1, NaN, 2, -3, Infinity])).toBe(3);
  });

  const counts = fc.array(fc.nat(8), { minLength: 1, maxLength: 3 });
  const mixture = fc.constantFrom(SIGNATURE_MIXTURE, SEGMENT_MIXTURE);

  test('adding candidate failures to a signature never lowers its evidence; control failures never raise it', () => {
    fc.assert(
      fc.property(counts, counts, fc.nat(2), fc.nat(3), mixture, (c, k, j, extra, mix) => {
        const base = log10EValue({ candidate: c, control: k }, shares, mix);
        const moreC = [...c];
        while (moreC.length <= j) moreC.push(0);
        moreC[j]! += extra;
        const moreK = [...k];
        while (moreK.length <= j) moreK.push(0);
        moreK[j]! += extra;
        expect(log10EValue({ candidate: moreC, control: k }, shares, mix)).toBeGreaterThanOrEqual(base - 1e-12);
        expect(log10EValue({ candidate: c, control: moreK }, shares, mix)).toBeLessThanOrEqual(base + 1e-12);
      }),
    );
  });

  test('a flaky test failing in both arms at the stage share never reaches a tenth of the signature level', () => {
    // events in proportion: per 100 failing machines at 1%, 1 candidate; at 10%, 10
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 50 }), (n1, n2) => {
        const e = log10EValue({ candidate: [n1, n2 * 10], control: [99 * n1, 90 * n2] }, shares, SIGNATURE_MIXTURE);
        expect(e).toBeLessThan(1);
      }),
    );
  });

  test('under the null the e-value stays below 1/α with probability ≥ 1 − α (Ville), checked by simulation', () => {
    // 1,000 sequences of 40 events at p = 10%: the running maximum reaches 20 in ≤ 5% of them
    // (200 in the mutation run, test/support/mutation-setup.ts: 7 of them reach it, 19 of 1,000)
    const sequences = process.env.DEPCANARY_MUTATION ? 200 : 1000;
    let state = 42;
    const rand = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    let reached = 0;
    for (let s = 0; s < sequences; s++) {
      let c = 0, k = 0, hit = false;
      for (let i = 0; i < 40 && !hit; i++) {
        if (rand() < 0.1) c++;
        else k++;
        if (log10EValue({ candidate: [0, c], control: [0, k] }, shares, SEGMENT_MIXTURE) >= Math.log10(20)) hit = true;
      }
      if (hit) reached++;
    }
    expect(reached / sequences).toBeLessThanOrEqual(0.05);
    expect(reached).toBeGreaterThan(0); // the test can fail: the level is not vacuous
  });
});

function evidenceWith(partial: Partial<SegmentEvidence>): SegmentEvidence {
  return { ...emptySegmentEvidence(), ...partial };
}

function project(name: string, cand: Partial<{ firstRuns: number[]; firstFailed: number[]; firstErrored: number[]; N: number }>, ctrl: typeof cand = {}) {
  const arm = (a: typeof cand) => ({ N: a.N ?? 0, F: 0, E: 0, firstRuns: a.firstRuns ?? [], firstFailed: a.firstFailed ?? [], firstErrored: a.firstErrored ?? [] });
  return { kind: 'project' as const, name, candidate: arm(cand), control: arm(ctrl) };
}

describe('segment check: the split and the findings', () => {
  test('the levels: run-level gets what the families leave; each test its family share over the table size', () => {
    expect(runAlpha(0.01, CHECK)).toBeCloseTo(0.0075, 15);
    const s = segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [4], [])] }), STAGES, 0.01, CHECK);
    // signature: 0.0015 / 2,000 = 7.5e-7 → log10(1/α) = 6.12494
    expect(s.fired!.log10Threshold).toBeCloseTo(6.124939, 5);
    expect(s.alpha).toEqual({ run: expect.closeTo(0.0075, 15), project: 0.0005, python: 0.0005, signature: 0.0015 });
    expect(s.limits).toEqual({ project: 100, python: 8, signature: 2000 });
    // projects: 0.0005 / (2 × 100); Pythons: 0.0005 / (2 × 8)
    const p = segmentCheck(evidenceWith({ projects: [project('nova', { firstRuns: [9], firstFailed: [9] })] }), STAGES, 0.01, CHECK);
    expect(p.top[0]!.log10Threshold).toBeCloseTo(Math.log10(200 / 0.0005), 10);
    const y = segmentCheck(evidenceWith({ pythons: [{ ...project('3.10', { firstRuns: [9], firstErrored: [9] }), kind: 'python' }] }), STAGES, 0.01, CHECK);
    expect(y.top.map((f) => [f.family, f.event])).toEqual([['python', 'error']]);
    expect(y.top[0]!.log10Threshold).toBeCloseTo(Math.log10(16 / 0.0005), 10);
  });

  test('4 candidate machines at 1% fire a signature; 3 do not (5.79 < 6.12) but are suspect (within 10×)', () => {
    const three = segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [3], [])] }), STAGES, 0.01, CHECK);
    expect(three.fired).toBeNull();
    expect(three.suspect).toMatchObject({ test: 't', suspect: true, fired: false });
    // not within 10× of 6.12 with one control event (3 candidate: 4.3), nor with 2 machines
    expect(segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [3], [1])] }), STAGES, 0.01, CHECK).suspect).toBeNull();
    expect(segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [2], [])] }), [0.01, 100], 0.01, CHECK).suspect).toBeNull();
    expect(segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [3], [])] }), STAGES, 0.01, { ...CHECK, segmentHoldFactor: 1 }).suspect).toBeNull();
    const s = segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [4], [])] }), STAGES, 0.01, CHECK);
    expect(s.fired).toMatchObject({ family: 'signature', event: 'test', segment: 'nova', test: 't', candidateEvents: 4, controlEvents: 0, fired: true, suspect: false });
    expect(s.firedTests).toEqual(['t']);
    expect(s.suspect).toBeNull();
  });

  test('distinct candidate machines are required, however strong the e-value', () => {
    // 2 candidate events in a 1-in-10,000 stage: e ≈ 10⁷·0.5 but only 2 machines
    const s = segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [2], [])] }), [0.01, 100], 0.01, CHECK);
    expect(s.top[0]!.log10E).toBeGreaterThan(s.top[0]!.log10Threshold);
    expect(s.fired).toBeNull();
    expect(segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [2], [])] }), [0.01, 100], 0.01, { ...CHECK, segmentMinMachines: 2 }).fired).not.toBeNull();
  });

  test('exactly at the threshold fires; just below does not', () => {
    // one component, ρ = 3 at 25%: e = 2^T; signature level 0.125 / 1 = 1/8: T = 3 gives exactly 8
    const one = { signature: { rho: [3], weight: [1] }, segment: SEGMENT_MIXTURE };
    const pol = { ...CHECK, signature: 0.125, maxSignatures: 1, segmentMinMachines: 1 };
    const at = segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [3], [])] }), [25, 100], 0.5, pol, one);
    expect(at.fired?.log10E).toBeCloseTo(at.fired!.log10Threshold, 12);
    const below = segmentCheck(evidenceWith({ signatures: [sig('nova', 't', [3], [1])] }), [25, 100], 0.5, pol, one);
    expect(below.fired).toBeNull();
  });

  test('a family with no share of alpha (or no table) is not tested', () => {
    const ev = evidenceWith({ signatures: [sig('nova', 't', [9], [])], projects: [project('nova', { firstRuns: [9], firstFailed: [9] })] });
    const off = segmentCheck(ev, STAGES, 0.01, { ...CHECK, signature: 0, project: 0 });
    expect(off.top).toEqual([]);
    expect(segmentCheck(ev, STAGES, 0.01, { ...CHECK, maxSignatures: 0, maxProjects: 0 }).top).toEqual([]);
  });

  test('the strongest fired finding decides; a signature names its project\'s other fired tests', () => {
    const ev = evidenceWith({
      projects: [project('blazar', { firstRuns: [4], N: 6 }, { firstRuns: [61], N: 80 })],
      signatures: [sig('blazar', 'tests.a', [4], []), sig('blazar', 'tests.b', [4], [1]), sig('nova', 'tests.c', [5], [0])],
    });
    const s = segmentCheck(ev, STAGES, 0.01, CHECK);
    expect(s.fired).toMatchObject({ segment: 'nova', test: 'tests.c', candidateMachines: null, controlRuns: null });
    expect(s.firedTests).toEqual(['tests.c']);
    expect(s.top.map((f) => f.test)).toEqual(['tests.c', 'tests.a', 'tests.b']);
    expect(s.top.find((f) => f.test === 'tests.a')).toMatchObject({ candidateMachines: 4, controlMachines: 61, candidateRuns: 6, controlRuns: 80 });
    const blazar = segmentCheck({ ...ev, signatures: ev.signatures.slice(0, 2) }, STAGES, 0.01, CHECK);
    expect(blazar.firedTests).toEqual(['tests.a', 'tests.b']);
    expect(segmentReason(blazar)).toBe('blazar: 2 tests fail on 4 of 4 candidate machines, 0 of 61 control machines (e = 5.9e+7, needs 1.3e+6)');
  });

  test('ties are broken by name, never by the order of the evidence', () => {
    const a = sig('nova', 'a', [1], []);
    const b = sig('nova', 'b', [1], []);
    const one = segmentCheck(evidenceWith({ signatures: [b, a] }), STAGES, 0.01, CHECK);
    const two = segmentCheck(evidenceWith({ signatures: [a, b] }), STAGES, 0.01, CHECK);
    expect(one.top.map((f) => f.test)).toEqual(['a', 'b']);
    expect(two.top).toEqual(one.top);
  });

  test('at most 10 findings, strongest first; nothing with e ≤ 1', () => {
    const sigs = Array.from({ length: 15 }, (_, i) => sig('nova', `t${String(i).padStart(2, '0')}`, [1 + (i % 4)], [i % 3]));
    sigs.push(sig('nova', 'weak', [1], [60]));
    const s = segmentCheck(evidenceWith({ signatures: sigs }), STAGES, 0.01, CHECK);
    expect(s.top).toHaveLength(10);
    for (let i = 1; i < s.top.length; i++) expect(s.top[i - 1]!.log10E - s.top[i - 1]!.log10Threshold).toBeGreaterThanOrEqual(s.top[i]!.log10E - s.top[i]!.log10Threshold);
    expect(s.top.some((f) => f.test === 'weak')).toBe(false);
  });

  test('sentences', () => {
    const base = {
      family: 'project' as const, event: 'failure' as const, segment: 'blazar', test: null, label: 'blazar', candidateEvents: 5, controlEvents: 3,
      candidateMachines: 5, controlMachines: 120, candidateRuns: 7, controlRuns: 150, log10E: 6.5, log10Threshold: 5.6, fired: true, held: false, suspect: false, candidateSources: 5,
    };
    expect(findingSentence(base)).toBe('blazar: the first run failed on 5 of 5 candidate machines, 3 of 120 control machines');
    expect(findingSentence({ ...base, family: 'python', event: 'error', segment: '3.10', label: 'Python 3.10', controlMachines: 1 }))
      .toBe('Python 3.10: the first run errored (install or set-up) on 5 of 5 candidate machines, 3 of 1 control machine');
    expect(findingSentence({ ...base, family: 'signature', event: 'test', test: 'tests.x', candidateMachines: null, controlMachines: null, candidateEvents: 1, controlEvents: 1 }))
      .toBe('blazar: tests.x fails on 1 candidate machine, 1 control machine');
    expect(evidenceFigure({ ...base, log10E: 7.9999 })).toBe('e = 1.0e+8, needs 4.0e+5');
    expect(evidenceFigure({ ...base, log10E: -0.5, log10Threshold: Infinity })).toBe('e = 3.2e-1, needs ∞');
    expect(evidenceFigure({ ...base, log10E: -Infinity })).toBe('e = 0, needs 4.0e+5');
    expect(segmentReason({ ...segmentCheck(emptySegmentEvidence(), STAGES, 0.01, CHECK) })).toBe('');
  });
});

describe('segment check: which fired finding explains the rollback', () => {
  test('a fired signature is preferred to its project\'s stronger first-run test', () => {
    const ev = evidenceWith({
      projects: [project('blazar', { firstRuns: [6], firstFailed: [6] }, { firstRuns: [60] })],
      signatures: [sig('blazar', 'tests.a', [6], [])],
    });
    const s = segmentCheck(ev, STAGES, 0.01, CHECK);
    const proj = s.top.find((f) => f.family === 'project')!;
    expect(proj.fired).toBe(true);
    expect(proj.log10E - proj.log10Threshold).toBeGreaterThan(s.fired!.log10E - s.fired!.log10Threshold);
    expect(s.fired).toMatchObject({ family: 'signature', test: 'tests.a' });
    expect(segmentCheck({ ...ev, signatures: [] }, STAGES, 0.01, CHECK).fired).toMatchObject({ family: 'project', event: 'failure' });
  });
});
