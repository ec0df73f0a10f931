import type { SegmentPlan } from '../domain/segments';
import { loggedPartOf, type LoggedPart } from './rollout-fold';

/**
 * The log entries a process folded lately, parsed (store/rollout-fold.ts loggedPartOf), and the
 * segment plans of the parts. A report's parts in the rollouts it concerns are logged as equal
 * strings wherever its arm, stage and caps are equal (a part names no rollout), so with 40 live
 * rollouts a report's 40 entries are about two distinct strings: each is parsed, checked and
 * planned once here, not once per rollout. An entry is its own key (a cached part is that of
 * exactly this string), so the cache cannot change what a fold counts. Bounded: two generations
 * of at most `size` entries each (an entry not used within about two generations is parsed again).
 * The parts and plans handed out are shared: a fold must not change them (it does not).
 */
export class ParsedParts {
  private current = new Map<string, LoggedPart | null>();
  private previous = new Map<string, LoggedPart | null>();
  /** A part's plan, made once (a plan is a function of the part alone); dropped with the part. */
  readonly plans = new WeakMap<LoggedPart, SegmentPlan>();

  constructor(private readonly size = 1024) {}

  /** The entry as a LoggedPart, or null when it is not one (loggedPartOf). */
  get(entry: string): LoggedPart | null {
    let p = this.current.get(entry);
    if (p !== undefined) return p;
    p = this.previous.get(entry);
    if (p === undefined) p = loggedPartOf(entry);
    if (this.current.size >= this.size) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(entry, p);
    return p;
  }
}
