import type { ConstraintsFile } from './constraints';
import { changedLine, defaultEol, type LineChange } from './rollout-lines';

/** One change, rendered once: the bytes that replace its line. */
export interface Splice {
  index: number;
  /** `changedLine()` of the change, as UTF-8. */
  bytes: Buffer;
  /** An unambiguous description of the change (its line and text), for content tags. */
  tag: string;
}

/**
 * A file cut once at the lines some changes may replace, so that any set of those changes
 * renders by copying bytes: the file's own bytes between the replaced lines and each
 * change's pre-rendered bytes. `render()` gives exactly the bytes of
 * `applyLineChanges(file, changes)` (the last change for a line wins there too).
 */
export class LineSplicer {
  /** The file as it is, as UTF-8. */
  readonly whole: Buffer;
  private readonly start: number[];
  private readonly eol: string;

  constructor(private readonly file: ConstraintsFile) {
    this.start = new Array<number>(file.lines.length + 1);
    let at = 0;
    let text = '';
    for (let i = 0; i < file.lines.length; i++) {
      const l = file.lines[i]!;
      this.start[i] = at;
      at += Buffer.byteLength(l.text) + Buffer.byteLength(l.eol);
      text += l.text + l.eol;
    }
    this.start[file.lines.length] = at;
    this.whole = Buffer.from(text);
    this.eol = defaultEol(file);
  }

  /** `change` pre-rendered; its index must be a line of the file. */
  splice(change: LineChange): Splice {
    const line = this.file.lines[change.index];
    if (!line) throw new RangeError(`line ${change.index} is not in the file (${this.file.lines.length} lines)`);
    const text = changedLine(line, change, this.eol);
    return { index: change.index, bytes: Buffer.from(text), tag: JSON.stringify([change.index, text]) };
  }

  /**
   * The file with `splices` in place of their lines (`splices` sorted by index, one per line), as
   * the pieces to send one after the other: views of the file's own bytes between the replaced
   * lines and each splice's bytes, nothing copied (a pins response with 40 live rollouts is a
   * fresh combination nearly every time, and 25 KB copied for each kept the collector busy).
   */
  chunks(splices: readonly Splice[]): Buffer[] {
    const out: Buffer[] = [];
    let from = 0;
    for (const s of splices) {
      const to = this.start[s.index]!;
      if (to > from) out.push(this.whole.subarray(from, to));
      if (s.bytes.length) out.push(s.bytes);
      from = this.start[s.index + 1]!;
    }
    if (from < this.whole.length || out.length === 0) out.push(this.whole.subarray(from));
    return out;
  }

  /** The file with `splices` in place of their lines, in one buffer (the bytes `chunks()` gives). */
  render(splices: readonly Splice[]): Buffer {
    return Buffer.concat(this.chunks(splices));
  }
}
