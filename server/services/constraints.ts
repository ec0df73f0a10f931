import { readFileSync } from 'node:fs';
import { parseConstraints, pinnedVersionOrNull } from '../domain/constraints';
import { etagOf } from '../domain/etag';
import { invalid } from '../domain/errors';
import type { BaseStore } from '../store/base-store';
import type { PinsCache } from './pins-cache';

/** The base constraints: validated on the way in, stored verbatim, served from the pins cache. */
export class ConstraintsService {
  constructor(
    private readonly base: BaseStore,
    private readonly pins: PinsCache,
    private readonly clock: () => number = Date.now,
  ) {}

  async baseText(): Promise<string> {
    return (await this.base.get())?.text ?? '';
  }

  async replace(text: string, source: string): Promise<{ lines: number; pins: number; etag: string }> {
    if (text.includes('\0')) throw invalid('constraints file contains NUL bytes');
    const file = parseConstraints(text);
    const stored = await this.base.replace(text, source, this.clock(), (name) => pinnedVersionOrNull(file, name));
    await this.pins.refreshAfterWrite(true);
    return { lines: file.lines.length, pins: file.index.size, etag: stored.etag };
  }

  /**
   * At start: import the configured file when Redis has no base yet or the file changed
   * since it was last imported, so a base replaced through the API survives restarts.
   */
  async importAtStart(path: string): Promise<'imported' | 'kept'> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`DEPCANARY_CONSTRAINTS_FILE: cannot read ${path}: ${(e as Error).message}`);
    }
    const fileEtag = etagOf(text);
    if ((await this.base.bootFileEtag()) === fileEtag && (await this.base.get())) return 'kept';
    try {
      await this.replace(text, `file:${path}`);
    } catch (e) {
      throw new Error(`DEPCANARY_CONSTRAINTS_FILE ${path}: ${(e as Error).message}`);
    }
    await this.base.setBootFileEtag(fileEtag);
    return 'imported';
  }
}
