import { createHash } from 'node:crypto';

/** Strong ETag value for a text: sha256, base64url, 27 characters (162 bits). */
export function etagOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 27);
}
