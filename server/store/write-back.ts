/**
 * A write-back view of Redis state for one fold of a rollout's logged reports
 * (store/rollout-fold.ts): reads come from what was fetched (`Fetched`), writes stay here and
 * become one list of writes (`Writes`) that store/lua/fold.lua applies at once. Nothing here
 * does I/O: a read of something not fetched yet is recorded as a miss and reads as absent; the
 * caller fetches the misses and runs the fold again on a new view, until a run has none (the
 * fold is a pure function of what it reads, so that last run is the one of a fold against Redis).
 */

/** What was read from Redis for one fold: hash fields, set members, set sizes, key existence. */
export class Fetched {
  readonly fields = new Map<string, Map<string, string | false>>();
  readonly members = new Map<string, Map<string, boolean>>();
  readonly cards = new Map<string, number>();
  readonly exists = new Map<string, boolean>();
}

/** The reads a run needed and did not have: hash fields and set members per key, set sizes, key existence. */
export class Misses {
  readonly fields = new Map<string, Set<string>>();
  readonly members = new Map<string, Set<string>>();
  readonly cards = new Set<string>();
  readonly exists = new Set<string>();
  size = 0;

  add(m: Map<string, Set<string>>, key: string, x: string): void {
    let xs = m.get(key);
    if (!xs) m.set(key, (xs = new Set()));
    if (!xs.has(x)) {
      xs.add(x);
      this.size++;
    }
  }
}

/** The writes of a fold, by key (fold.lua's ops). */
export interface Writes {
  /** Keys deleted (before anything else is written). */
  del: string[];
  /** Hash fields set (value) or removed (false), per key. */
  hashes: Map<string, Map<string, string | false>>;
  /** Members added, per set. */
  sets: Map<string, string[]>;
  /** Sorted-set increments, per key. */
  zsets: Map<string, Map<string, number>>;
  /** Hash-field increments that nothing in the fold read (HINCRBY), per key. */
  incrs: Map<string, Map<string, number>>;
}

export class WriteBack {
  private readonly hashes = new Map<string, Map<string, string | false>>();
  private readonly added = new Map<string, Set<string>>();
  private readonly zsets = new Map<string, Map<string, number>>();
  private readonly incrs = new Map<string, Map<string, number>>();
  /** Keys deleted in this fold: what is not written here since reads as absent. */
  private readonly deleted = new Set<string>();
  /** The reads this run needed and did not have. */
  readonly misses = new Misses();

  constructor(private readonly fetched: Fetched) {}

  hget(key: string, field: string): string | false {
    if (this.incrs.get(key)?.has(field)) throw new Error(`${key} ${field}: read after an increment of it (incr is for fields the fold never reads)`);
    const own = this.hashes.get(key);
    if (own?.has(field)) return own.get(field)!;
    if (this.deleted.has(key)) return false;
    const v = this.fetched.fields.get(key)?.get(field);
    if (v !== undefined) return v;
    this.misses.add(this.misses.fields, key, field);
    return false;
  }

  hset(key: string, field: string, value: string | false): void {
    let own = this.hashes.get(key);
    if (!own) this.hashes.set(key, (own = new Map()));
    own.set(field, value);
  }

  hdel(key: string, field: string): void {
    this.hset(key, field, false);
  }

  /** HINCRBY of an integer field: the new value. */
  hincrby(key: string, field: string, n: number): number {
    const x = Number(this.hget(key, field) || 0) + n;
    this.hset(key, field, String(x));
    return x;
  }

  /**
   * HINCRBY of an integer field the fold never reads (a counter): no read, so no miss, and
   * applied as an increment (fold.lua I), so the fold need not know its value.
   */
  incr(key: string, field: string, n: number): void {
    let own = this.incrs.get(key);
    if (!own) this.incrs.set(key, (own = new Map()));
    own.set(field, (own.get(field) ?? 0) + n);
  }

  /** Whether a hash has any field. Only for hashes a fold never removes fields of (a machine-days hash). */
  hexists(key: string): boolean {
    for (const v of this.hashes.get(key)?.values() ?? []) if (v !== false) return true;
    if (this.deleted.has(key)) return false;
    const v = this.fetched.exists.get(key);
    if (v !== undefined) return v;
    this.misses.exists.add(key);
    this.misses.size++;
    return false;
  }

  sismember(key: string, member: string): boolean {
    if (this.added.get(key)?.has(member)) return true;
    if (this.deleted.has(key)) return false;
    const v = this.fetched.members.get(key)?.get(member);
    if (v !== undefined) return v;
    this.misses.add(this.misses.members, key, member);
    return false;
  }

  /** SADD of one member: true when it was added (not there before). */
  sadd(key: string, member: string): boolean {
    if (this.sismember(key, member)) return false;
    let own = this.added.get(key);
    if (!own) this.added.set(key, (own = new Set()));
    own.add(member);
    return true;
  }

  scard(key: string): number {
    const own = this.added.get(key)?.size ?? 0;
    if (this.deleted.has(key)) return own;
    const v = this.fetched.cards.get(key);
    if (v !== undefined) return v + own;
    this.misses.cards.add(key);
    this.misses.size++;
    return own;
  }

  zincrby(key: string, n: number, member: string): void {
    let own = this.zsets.get(key);
    if (!own) this.zsets.set(key, (own = new Map()));
    own.set(member, (own.get(member) ?? 0) + n);
  }

  /** DEL: what this fold wrote to the keys goes with them. */
  del(...ks: string[]): void {
    for (const key of ks) {
      this.deleted.add(key);
      this.hashes.delete(key);
      this.added.delete(key);
      this.zsets.delete(key);
      this.incrs.delete(key);
    }
  }

  writes(): Writes {
    const sets = new Map<string, string[]>();
    for (const [key, m] of this.added) if (m.size) sets.set(key, [...m]);
    for (const key of this.deleted) if (this.incrs.has(key)) throw new Error(`${key}: incremented after it was deleted in one fold`);
    return { del: [...this.deleted], hashes: this.hashes, sets, zsets: this.zsets, incrs: this.incrs };
  }
}
