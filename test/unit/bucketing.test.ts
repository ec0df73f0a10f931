import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { bucketOf, BUCKETS, inCandidateArm } from '../../server/domain/bucketing';

describe('bucketing', () => {
  test('known values are stable across processes and restarts', () => {
    // Fixed vectors: a change here would reshuffle every live cohort.
    expect(bucketOf('0123456789abcdef', 'ab5e0b9c-7c33-4a5b-9a55-2f0f4c1f7d11')).toBe(3711) // sha256("salt:machine")[0:6] mod 10000, checked with Python hashlib;
  });

  test('property: the bucket is sha256("salt:machine") read as a 48-bit integer mod 10,000, for any salt and id (also non-ASCII)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme' })), (salt, m) => {
      const d = createHash('sha256').update(salt).update(':').update(m).digest();
      expect(bucketOf(salt, m)).toBe(d.readUIntBE(0, 6) % BUCKETS);
    }));
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

  // 100k ids in `make test`; 10k in the mutation run (test/support/mutation-setup.ts), where a
  // mutant of bucketOf is killed by either size. Bounds are 5 binomial sd at the size used.
  const n = process.env.DEPCANARY_MUTATION ? 10_000 : 100_000;
  let ids: string[] = [];
  beforeAll(() => {
    ids = Array.from({ length: n }, () => randomUUID());
  });
  const fiveSd = (p: number) => 5 * Math.sqrt(n * p * (1 - p));

  test(`roughly uniform over ${n / 1000}k ids (χ² over 100 bins, and the 1%/10% arms)`, () => {
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
    // Binomial sd at 1%: ~31 of 100k; at 10%: ~95. Allow 5 sd.
    expect(Math.abs(onePct - n / 100)).toBeLessThan(fiveSd(0.01));
    expect(Math.abs(tenPct - n / 10)).toBeLessThan(fiveSd(0.1));
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
    // sd of the joint count ≈ sqrt(n/100) (≈ 32 of 100k); allow 5 sd.
    expect(Math.abs(both - expected)).toBeLessThan(fiveSd(0.01));
  });
});
