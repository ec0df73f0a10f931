import { hash } from 'node:crypto';

/** Strong ETag value for a text: sha256, base64url, 27 characters (162 bits). One-shot hash: the same digest as createHash, less per call (a pins request with live rollouts hashes one). */
export function etagOf(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 27);
}
