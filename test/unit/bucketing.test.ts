import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { bucketerOf, bucketOf, BUCKETING_2, BUCKETS, inCandidateArm, MachineHash, newSalt } from '../../server/domain/bucketing';

/** Bucketing 1: sha256("salt:machine") read as a 48-bit integer mod 10,000. */
function reference1(salt: string, machine: string): number {
  return createHash('sha256').update(salt).update(':').update(machine).digest().readUIntBE(0, 6) % BUCKETS;
}

/** Bucketing 2 as the README's "Cohorts" states it, written out with Buffers (an implementation apart from the server's). */
function reference2(salt: string, machine: string): number {
  const k = createHash('sha256').update(salt).digest();
  const h = createHash('sha256').update(machine).digest();
  const w = (b: Buffer, i: number) => b.readUInt32BE(4 * i);
  const fmix = (x: number) => {
    x = (x ^ (x >>> 16)) >>> 0;
    x = Number((BigInt(x) * 0x85ebca6bn) & 0xffffffffn);
    x = (x ^ (x >>> 13)) >>> 0;
    x = Number((BigInt(x) * 0xc2b2ae35n) & 0xffffffffn);
    return (x ^ (x >>> 16)) >>> 0;
  };
  let [l, r] = [(w(h, 0) ^ w(k, 0)) >>> 0, (w(h, 1) ^ w(k, 1)) >>> 0];
  for (let i = 0; i < 4; i++) [l, r] = [r, (l ^ fmix((r ^ w(k, 2 + i)) >>> 0)) >>> 0];
  return Number(((BigInt(l) << 16n) | BigInt(r >>> 16)) % BigInt(BUCKETS));
}
const salt1 = fc.string().filter((x) => !x.startsWith(BUCKETING_2));
const salt2 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => newSalt(Buffer.from(b)));
const anySalt = fc.oneof(salt1, salt2);

/** bucketing 2 of ('b2:0123456789abcdef0123456789abcdef', 'ab5e0b9c-…'), checked with Python hashlib. */
const BUCKETING_2_VECTOR = 4063;

describe('bucketing', () => {
  test('known values are stable across processes and restarts', () => {
    // Fixed vectors: a change here would reshuffle every live cohort.
    expect(bucketOf('0123456789abcdef', 'ab5e0b9c-7c33-4a5b-9a55-2f0f4c1f7d11')).toBe(3711) // sha256("salt:machine")[0:6] mod 10000, checked with Python hashlib;
    expect(bucketOf('b2:0123456789abcdef0123456789abcdef', 'ab5e0b9c-7c33-4a5b-9a55-2f0f4c1f7d11')).toBe(BUCKETING_2_VECTOR);
  });

  test('a new rollout\'s salt is bucketing 2: b2: and 32 hex digits', () => {
    expect(newSalt(Buffer.alloc(16, 0xab))).toBe(`b2:${'ab'.repeat(16)}`);
    expect(newSalt(randomBytes(16))).toMatch(/^b2:[0-9a-f]{32}$/);
  });

  test('property: bucketing 2 is the keyed Feistel permutation of sha256(machine) as written out apart, for any id (also non-ASCII)', () => {
    fc.assert(fc.property(salt2, fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme' })), (salt, m) => {
      expect(bucketOf(salt, m)).toBe(reference2(salt, m));
    }));
  });

  test('property: one MachineHash serves every rollout of a request, each bucket as its bucketing defines it', () => {
    fc.assert(fc.property(fc.array(anySalt, { minLength: 1, maxLength: 8 }), fc.uuid(), (salts, id) => {
      const want = salts.map((salt) => (salt.startsWith(BUCKETING_2) ? reference2(salt, id) : reference1(salt, id)));
      const m = new MachineHash(id);
      const bucketers = salts.map(bucketerOf);
      expect(bucketers.map((b) => b(m))).toEqual(want);
      expect(bucketers.map((b) => b(m))).toEqual(want); // its digest kept, the same again
    }));
  });

  test('property: bucketing 1 is sha256("salt:machine") read as a 48-bit integer mod 10,000, for any salt without b2: and any id (also non-ASCII)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }).filter((x) => !x.startsWith(BUCKETING_2)), fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme' })), (salt, m) => {
      expect(bucketOf(salt, m)).toBe(reference1(salt, m));
    }));
  });

  test('property: monotone in percent — a machine in the candidate arm at p stays in at q ≥ p', () => {
    fc.assert(fc.property(anySalt, fc.uuid(), fc.integer({ min: 0, max: 10000 }), fc.integer({ min: 0, max: 10000 }), (salt, m, a, b) => {
      const [p, q] = [Math.min(a, b) / 100, Math.max(a, b) / 100];
      const bucket = bucketOf(salt, m);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKETS);
      if (inCandidateArm(bucket, p)) expect(inCandidateArm(bucket, q)).toBe(true);
    }));
  });

  test('0% puts nobody in the candidate arm and 100% everybody', () => {
    fc.assert(fc.property(anySalt, fc.uuid(), (salt, m) => {
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

  const SALTS: [string, string, string][] = [
    ['bucketing 1', 'uniformity', 'rollout-b-salt'],
    ['bucketing 2', 'b2:00000000000000000000000000000000', 'b2:00000000000000000000000000000001'],
  ];

  test.each(SALTS)(`%s: roughly uniform over ${n / 1000}k ids (χ² over 100 bins, and the 1%%/10%% arms)`, (_, salt) => {
    const bins = new Array(100).fill(0);
    let onePct = 0;
    let tenPct = 0;
    const bucket = bucketerOf(salt);
    for (const id of ids) {
      const b = bucket(new MachineHash(id));
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

  /** Machines in both 10% arms, against the count if the two were independent: within 5 sd. */
  function independent(a: string, b: string, machines: MachineHash[]): void {
    const [ba, bb] = [bucketerOf(a), bucketerOf(b)];
    let both = 0;
    let inA = 0;
    let inB = 0;
    for (const m of machines) {
      const x = inCandidateArm(ba(m), 10);
      const y = inCandidateArm(bb(m), 10);
      if (x) inA++;
      if (y) inB++;
      if (x && y) both++;
    }
    const expected = (inA * inB) / machines.length;
    expect({ a, b, off: Math.abs(both - expected) < 5 * Math.sqrt(machines.length * 0.01 * 0.99) }).toEqual({ a, b, off: true });
  }

  test.each([
    ['two bucketing 1 salts', 'rollout-a-salt', 'rollout-b-salt'],
    ['two bucketing 2 salts one bit apart', 'b2:00000000000000000000000000000000', 'b2:00000000000000000000000000000001'],
    ['a bucketing 1 and a bucketing 2 salt', '0123456789abcdef0123456789abcdef', 'b2:0123456789abcdef0123456789abcdef'],
  ])('independent across two rollouts: %s', (_, a, b) => {
    independent(a, b, ids.map((id) => new MachineHash(id)));
  });

  test('bucketing 2: independent across 10 random pairs of salts, and across 40 rollouts at once no machine set is favoured', () => {
    const machines = ids.slice(0, 20_000).map((id) => new MachineHash(id));
    for (let i = 0; i < 10; i++) independent(newSalt(randomBytes(16)), newSalt(randomBytes(16)), machines.slice(0, n === 100_000 ? 20_000 : 10_000));
    // how many of 40 rollouts at 10% a machine is a candidate in: Binomial(40, 0.1), as with independent arms
    const bucketers = Array.from({ length: 40 }, () => bucketerOf(newSalt(randomBytes(16))));
    const counts = machines.map((m) => bucketers.filter((b) => inCandidateArm(b(m), 10)).length);
    const mean = counts.reduce((x, y) => x + y, 0) / counts.length;
    const variance = counts.reduce((x, y) => x + (y - mean) ** 2, 0) / counts.length;
    expect(Math.abs(mean - 4)).toBeLessThan(5 * Math.sqrt(3.6 / counts.length)); // 5 sd of the mean
    expect(Math.abs(variance - 3.6)).toBeLessThan(0.25); // 3.6 if independent; correlated arms would widen it
  });
});
