import { hash } from 'node:crypto';

/** Buckets are basis points: 0..9999. */
export const BUCKETS = 10_000;

/**
 * Salts of rollouts made with bucketing 2 start with this; any other salt is bucketing 1
 * (every rollout made before it, which keeps its cohorts as they were).
 */
export const BUCKETING_2 = 'b2:';

/** A new rollout's salt (bucketing 2) from 16 random bytes. */
export function newSalt(random: Buffer): string {
  return `${BUCKETING_2}${random.toString('hex')}`;
}

/**
 * A machine id as buckets are computed from it: its sha256 (bucketing 2) is computed once,
 * when first needed, however many rollouts a request buckets it in.
 */
export class MachineHash {
  private d: [number, number] | null = null;
  constructor(readonly id: string) {}

  /** The first 8 bytes of sha256(id) as two unsigned 32-bit words, big-endian. */
  digest(): [number, number] {
    if (this.d === null) {
      const h = hash('sha256', this.id, 'binary');
      this.d = [word(h, 0), word(h, 4)];
    }
    return this.d;
  }
}

/** A rollout's bucket of a machine: deterministic in (salt, machine id). */
export type Bucketer = (m: MachineHash) => number;

/**
 * The bucketing of one rollout (its salt). Both kinds are uniform over 0..9999 (a 48-bit value
 * modulo 10,000: bias < 1e-10), independent across rollouts (each has its own salt), and the same
 * in every process and after every restart:
 *  - bucketing 1 (a salt without the `b2:` prefix): sha256("salt:machine") read as an unsigned
 *    48-bit integer. One sha256 per rollout and machine: a pins request with 40 live rollouts
 *    hashed 40 times.
 *  - bucketing 2 (`b2:` salts, every rollout made since): sha256(machine) once per machine,
 *    then per rollout a keyed permutation of its first 64 bits: 4 Feistel rounds whose round
 *    function is murmur3's 32-bit finalizer, keyed (with whitening words) by sha256(salt). The
 *    salt is no secret (a machine's arm is not); the permutation only has to make buckets of
 *    different salts independent, which test/unit/bucketing.test.ts measures.
 */
export function bucketerOf(salt: string): Bucketer {
  if (!salt.startsWith(BUCKETING_2)) return (m) => bucket1(salt, m.id);
  const k = hash('sha256', salt, 'binary');
  const [w0, w1, ...rounds] = [0, 4, 8, 12, 16, 20].map((at) => word(k, at)) as [number, number, ...number[]];
  return (m) => {
    const [h0, h1] = m.digest();
    let l = h0 ^ w0;
    let r = h1 ^ w1;
    for (const key of rounds) {
      const t = l ^ fmix32(r ^ key);
      l = r;
      r = t;
    }
    return ((l >>> 0) * 65536 + (r >>> 16)) % BUCKETS;
  };
}

/** The bucket of a machine id in the rollout of `salt` (bucketing 1 or 2, by the salt). */
export function bucketOf(salt: string, machineId: string): number {
  return bucketerOf(salt)(new MachineHash(machineId));
}

function bucket1(salt: string, machineId: string): number {
  // One-shot hash: the same digest as createHash().update(salt).update(':').update(id), half the
  // cost. 'binary' (latin1) output: one character per byte, so the first 6 characters are the
  // first 6 bytes (48 bits is exact in a double); cheaper to make and read than hex or a Buffer.
  const d = hash('sha256', `${salt}:${machineId}`, 'binary');
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + d.charCodeAt(i);
  return v % BUCKETS;
}

/** 4 bytes of a 'binary' digest at `at`, big-endian, as an unsigned 32-bit word. */
function word(d: string, at: number): number {
  return ((d.charCodeAt(at) << 24) | (d.charCodeAt(at + 1) << 16) | (d.charCodeAt(at + 2) << 8) | d.charCodeAt(at + 3)) >>> 0;
}

/** murmur3's 32-bit finalizer: a bijection of 32-bit words in which every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Percent (0..100, may be fractional like 0.5) to basis points. */
export function percentToBasisPoints(percent: number): number {
  return Math.round(percent * 100);
}

/**
 * A machine is in the candidate arm iff its bucket is below the stage percent in basis
 * points. Monotone: raising the percent never moves a machine out of the candidate arm.
 */
export function inCandidateArm(bucket: number, percent: number): boolean {
  return bucket < percentToBasisPoints(percent);
}
