import { readFileSync } from 'node:fs';
import { assertBranchName, MASTER } from '../domain/branches';
import { parseConstraints, type ConstraintsFile } from '../domain/constraints';
import { etagOf } from '../domain/etag';
import { invalid } from '../domain/errors';
import { communityPythons } from '../domain/pythons';
import { planLines } from '../domain/rollout-lines';
import type { BaseStore, LineOverride } from '../store/base-store';
import { rolloutLines } from './pins';
import type { PinsCache } from './pins-cache';

/** A new base that keeps fewer than this share of the current base's libraries is refused unless forced. */
export const MIN_KEPT_SHARE = 0.5;
/** ... when the current base has at least this many libraries (a small file may change wholesale). */
export const GUARD_MIN_PINS = 10;

export interface ReplaceResult {
  branch: string;
  lines: number;
  pins: number;
  etag: string;
  /** Libraries of the previous base the new one no longer pins. */
  dropped: number;
}

/**
 * The base constraints of each branch: validated on the way in (parser, then a guard
 * against an empty file or one that drops most pins, unless forced), stored verbatim,
 * served from the pins cache.
 */
export class ConstraintsService {
  constructor(
    private readonly base: BaseStore,
    private readonly pins: PinsCache,
    private readonly clock: () => number = Date.now,
    private readonly pythons: readonly string[] | null = null,
  ) {}

  async baseText(branch: string = MASTER): Promise<string> {
    return (await this.base.get(branch))?.text ?? '';
  }

  /** Parses and checks a candidate base without storing it (throws the refusal). */
  check(branch: string, text: string, force = false): { file: ConstraintsFile; dropped: string[] } {
    assertBranchName(branch);
    if (text.includes('\0')) throw invalid('constraints file contains NUL bytes');
    const file = parseConstraints(text);
    const current = this.pins.current().branches.get(branch)?.base ?? null;
    const dropped = current ? [...current.index.keys()].filter((k) => !file.index.has(k)) : [];
    if (force) return { file, dropped };
    if (file.index.size === 0) {
      throw invalid(`the new constraints for ${branch} pin nothing (${file.lines.length} line${file.lines.length === 1 ? '' : 's'}, no Name===version line); refusing to replace the base with it unless forced`, { field: 'body' });
    }
    if (current && current.index.size >= GUARD_MIN_PINS && file.index.size < current.index.size * MIN_KEPT_SHARE) {
      const names = dropped.slice(0, 5).map((k) => current.lines[current.index.get(k)![0]!]!.pin!.name);
      throw invalid(
        `the new constraints for ${branch} drop ${dropped.length} of the ${current.index.size} libraries the base pins (e.g. ${names.join(', ')}); refusing to replace the base with it unless forced`,
        { field: 'body' },
      );
    }
    return { file, dropped };
  }

  async replace(branch: string, text: string, source: string, opts: { force?: boolean } = {}): Promise<ReplaceResult> {
    const { file, dropped } = this.check(branch, text, opts.force ?? false);
    const pythons = communityPythons(file, this.pythons);
    const stillApplies = (o: LineOverride, kind: 'override' | 'emergency') => {
      const plan = planLines(file, rolloutLines(o, pythons));
      return (kind === 'override' ? plan.candidate : plan.control).length > 0;
    };
    const stored = await this.base.replace(branch, text, source, this.clock(), stillApplies);
    await this.pins.refreshAfterWrite(true);
    return { branch, lines: file.lines.length, pins: file.index.size, etag: stored.etag, dropped: dropped.length };
  }

  /**
   * At start: import a branch's configured file when Redis has no base for it yet or the
   * file changed since it was last imported, so a base replaced through the API (or
   * following Gerrit) survives restarts. A changed file the guard refuses is not imported
   * (`refused`, with the reason): the stored base is kept and served.
   */
  async importAtStart(branch: string, path: string): Promise<{ action: 'imported' | 'kept' | 'refused'; reason?: string }> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${path}: ${(e as Error).message}`);
    }
    const fileEtag = etagOf(text);
    const stored = await this.base.get(branch);
    if ((await this.base.bootFileEtag(branch)) === fileEtag && stored) return { action: 'kept' };
    try {
      await this.replace(branch, text, `file:${path}`);
    } catch (e) {
      if (stored && /refusing to replace/.test((e as Error).message)) return { action: 'refused', reason: (e as Error).message };
      throw new Error(`${path}: ${(e as Error).message}`);
    }
    await this.base.setBootFileEtag(branch, fileEtag);
    return { action: 'imported' };
  }
}
