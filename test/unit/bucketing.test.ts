import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { bucketOf, BUCKETS, inCandidateArm } from '../../server/domain/bucketing';

describe('bucketing', () => {
  test('known values are stable across processes and restarts', () => {
    // Fixed vectors: a change here would reshuffle every live cohort.
    expect(bucketOf('0123456789abcdef', 'ab5e0b9c-7c33-4a5b-9a55-2f0f4c1f7d11')).toBe(3711) // sha256("salt:machine")[0:6] mod 10000, checked with Python hashlib;
  });

  test('property: monotone in percent — a machine in the candidate arm at p stays in at q ≥ p', () => {
    fc.assert(fc.property(fc.string(), fc.uuid(), fc.integer({ min: 0, max: 10000 }), fc.integer({ min: 0, max: 10000 }), (salt, m, a, b) => {
      const [p, q] = [Math.min(a, b) / 100, Math.max(a, b) / 100];
      const bucket = bucketOf(salt, m);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKETS);
      if (inCandidateArm(bucket, p)) expect(inCandidateArm(bucket, q)).toBe(true);
    }));
  });

  test('0% puts nobody in the candidate arm and 100% everybody', () => {
    fc.assert(fc.property(fc.string(), fc.uuid(), (salt, m) => {
      expect(inCandidateArm(bucketOf(salt, m), 0)).toBe(false);
      expect(inCandidateArm(bucketOf(salt, m), 100)).toBe(true);
    }));
  });

  const ids = Array.from({ length: 100_000 }, () => randomUUID());

  test('roughly uniform over 100k ids (χ² over 100 bins, and the 1%/10% arms)', () => {
    const bins = new Array(100).fill(0);
    let onePct = 0;
    let tenPct = 0;
    for (const m of ids) {
      const b = bucketOf('uniformity', m);
      bins[Math.floor(b / 100)]++;
      if (inCandidateArm(b, 1)) onePct++;
      if (inCandidateArm(b, 10)) tenPct++;
    }
    const expected = ids.length / 100;
    const chi2 = bins.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    // 99 degrees of freedom: P(χ² > 160) ≈ 1e-4.
    expect(chi2).toBeLessThan(160);
    // Binomial sd at 1%: ~31; at 10%: ~95. Allow 5 sd.
    expect(Math.abs(onePct - 1000)).toBeLessThan(160);
    expect(Math.abs(tenPct - 10000)).toBeLessThan(475);
  });

  test('independent across two rollouts (different salts)', () => {
    // Joint membership of two 10% arms should be ~1% of machines if independent.
    let both = 0;
    let a = 0;
    let b = 0;
    for (const m of ids) {
      const inA = inCandidateArm(bucketOf('rollout-a-salt', m), 10);
      const inB = inCandidateArm(bucketOf('rollout-b-salt', m), 10);
      if (inA) a++;
      if (inB) b++;
      if (inA && inB) both++;
    }
    const expected = (a * b) / ids.length;
    // sd of the joint count ≈ sqrt(1000) ≈ 32; allow 5 sd.
    expect(Math.abs(both - expected)).toBeLessThan(160);
  });
});
