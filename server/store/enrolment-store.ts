import { randomBytes, randomUUID } from 'node:crypto';
import { DomainError } from '../domain/errors';
import { hashToken } from './token-store';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

/** An enrolled machine, as a credential lookup gives it. */
export interface Enrolment {
  machine: string;
  /** The report source it was enrolled under (services/sources.ts). */
  source: string;
  /** ISO-8601. */
  enrolledAt: string;
}

/** Machine credentials start with this, so a credential is never taken for a token. */
export const CREDENTIAL_PREFIX = 'dcm_';

/** One enrolment per machine id: 1 stored, 0 the id is taken (nothing written). */
const ENROL = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`;
/** Forgets one machine's enrolment (its id and credential): 1 forgotten, 0 none. */
const FORGET = `
local sha = redis.call('HGET', KEYS[1], ARGV[1])
if not sha then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], sha)
return 1`;

/**
 * Machine enrolments (docs/trust.md): the server makes a machine's credential (a random
 * secret it shows once) and keeps only its sha256, with the machine id and the source the
 * machine enrolled under. A lookup is one HGET by the presented credential's hash.
 */
export class EnrolmentStore {
  private readonly k: Keys;
  private salt: string | null = null;

  constructor(private readonly redis: DcRedis, prefix: string) {
    this.k = keys(prefix);
  }

  /** The secret salt of block source ids: made once per key prefix, shared by every replica. */
  async sourceSalt(): Promise<string> {
    if (this.salt) return this.salt;
    await this.redis.set(this.k.enrolSalt, randomBytes(32).toString('hex'), 'NX');
    const salt = await this.redis.get(this.k.enrolSalt);
    if (!salt) throw new Error('the enrolment salt could not be read back');
    this.salt = salt;
    return salt;
  }

  /**
   * Enrols `machine` (a new random id when null) under `source`; returns the id and its
   * credential. A machine id enrolled before is refused (409): enrol without one for a new id.
   */
  async enrol(machine: string | null, source: string, now = Date.now()): Promise<{ machine: string; credential: string }> {
    const id = machine ?? randomUUID();
    const credential = `${CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`;
    const sha = hashToken(credential);
    const entry: Enrolment = { machine: id, source, enrolledAt: new Date(now).toISOString() };
    const stored = await this.redis.eval(ENROL, 2, this.k.enrolled, this.k.enrolCredentials, id, sha, JSON.stringify(entry));
    if (stored !== 1) {
      throw new DomainError('conflict', `machine id ${id} is enrolled already; enrol without a machine id to get a new one`, { field: 'machine' });
    }
    return { machine: id, credential };
  }

  async lookup(credential: string): Promise<Enrolment | null> {
    const v = await this.redis.hget(this.k.enrolCredentials, hashToken(credential));
    return v ? (JSON.parse(v) as Enrolment) : null;
  }

  async forget(machine: string): Promise<boolean> {
    return (await this.redis.eval(FORGET, 2, this.k.enrolled, this.k.enrolCredentials, machine)) === 1;
  }

  async count(): Promise<number> {
    return this.redis.hlen(this.k.enrolled);
  }
}
