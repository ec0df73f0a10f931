import { z } from 'zod';
import type { IndexFile } from '../domain/dist-files';

/**
 * The two forms of a project page of the simple repository API, validated before use:
 * PEP 691 JSON (`application/vnd.pypi.simple.v1+json`) and PEP 503 HTML
 * (`data-requires-python` on each anchor). Index responses are untrusted input.
 */
export const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
export const ACCEPT = `${JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01`;
export const MAX_FILES = 200_000;

const projectDetail = z.object({
  meta: z.object({ 'api-version': z.string().regex(/^1\.\d+$/, 'must be 1.x') }),
  name: z.string().min(1).max(300),
  files: z.array(z.object({
    filename: z.string().min(1).max(500),
    'requires-python': z.string().max(1000).nullish(),
    yanked: z.union([z.boolean(), z.string()]).optional(),
  })).max(MAX_FILES),
});

export class BadIndexResponse extends Error {}

export function parseJsonPage(text: string): IndexFile[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BadIndexResponse('the project page is not valid JSON');
  }
  const parsed = projectDetail.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BadIndexResponse(`the project page is not a PEP 691 project detail (${issue.path.join('.') || 'body'}: ${issue.message})`);
  }
  return parsed.data.files.map((f) => ({
    filename: f.filename,
    requiresPython: f['requires-python'] ?? null,
    yanked: f.yanked !== undefined && f.yanked !== false,
  }));
}


export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|gt|lt|amp|quot|apos);/gi, (all, e: string) => {
    const l = e.toLowerCase();
    if (l === 'gt') return '>';
    if (l === 'lt') return '<';
    if (l === 'amp') return '&';
    if (l === 'quot') return '"';
    if (l === 'apos') return "'";
    const cp = l.startsWith('#x') ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
  });
}

/**
 * The anchors of a PEP 503 project page: file name (the anchor text) and its attributes.
 * A forward scan with indexOf (each character looked at a bounded number of times), so a
 * hostile page costs time linear in its size.
 */
export function parseHtmlPage(text: string): IndexFile[] {
  const out: IndexFile[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (;;) {
    const open = lower.indexOf('<a', at);
    if (open < 0) break;
    const next = lower.charCodeAt(open + 2);
    if (!(next === 32 || next === 9 || next === 10 || next === 13 || next === 62)) {
      at = open + 2;
      continue;
    }
    const tagEnd = text.indexOf('>', open);
    if (tagEnd < 0) break;
    const close = lower.indexOf('</a', tagEnd);
    if (close < 0) break;
    at = close + 3;
    if (out.length >= MAX_FILES) throw new BadIndexResponse(`the project page lists more than ${MAX_FILES} files`);
    const attrText = text.slice(open + 2, tagEnd);
    if (attrText.length > 10_000) continue;
    const attrs = attributes(attrText);
    const filename = decodeEntities(text.slice(tagEnd + 1, close).trim());
    if (filename === '' || filename.length > 500 || filename.includes('<')) continue;
    const rp = attrs.get('data-requires-python');
    out.push({ filename, requiresPython: rp === undefined || rp.trim() === '' ? null : rp, yanked: attrs.has('data-yanked') });
  }
  return out;
}

const isWs = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';

/** `name="v" name='v' name=v name` → map (names lower-cased, values entity-decoded); one pass. */
function attributes(t: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < t.length) {
    while (i < t.length && (isWs(t[i]) || t[i] === '/')) i++;
    const start = i;
    while (i < t.length && !isWs(t[i]) && t[i] !== '=' && t[i] !== '/') i++;
    const name = t.slice(start, i).toLowerCase();
    if (name === '') {
      i++;
      continue;
    }
    while (i < t.length && isWs(t[i])) i++;
    if (t[i] !== '=') {
      out.set(name, '');
      continue;
    }
    i++;
    while (i < t.length && isWs(t[i])) i++;
    let value: string;
    if (t[i] === '"' || t[i] === "'") {
      const q = t[i]!;
      const end = t.indexOf(q, i + 1);
      const stop = end < 0 ? t.length : end;
      value = t.slice(i + 1, stop);
      i = stop + 1;
    } else {
      const vs = i;
      while (i < t.length && !isWs(t[i])) i++;
      value = t.slice(vs, i);
    }
    out.set(name, decodeEntities(value));
  }
  return out;
}
