import { inspect } from 'node:util';

/**
 * A credential that never prints: JSON, string conversion and util.inspect (pino, console)
 * all give "[redacted]"; only `reveal()` returns the value, at the one place that builds
 * the Authorization header.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

/**
 * Removes every occurrence of the given secrets (and their Basic-auth and URL-encoded
 * forms) from a text that may end up in a log line, an error or Redis.
 */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s), Buffer.from(s).toString('base64')])) {
      out = out.split(form).join('[redacted]');
    }
  }
  // Basic credentials of any user, in case a caller echoes a header.
  return out.replace(/(Basic\s+)[A-Za-z0-9+/=]{8,}/gi, '$1[redacted]');
}
