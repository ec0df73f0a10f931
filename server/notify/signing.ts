import { createHmac, timingSafeEqual } from 'node:crypto';
import { Secret } from '../gerrit/secret';

/**
 * Standard Webhooks signatures (standardwebhooks.com, symmetric scheme): the secret is
 * `whsec_` + base64 of at least 24 random bytes; the signature of a message is
 * `v1,` + base64(HMAC-SHA256(secret bytes, `${webhook-id}.${webhook-timestamp}.${body}`)).
 * The secret stays in a Secret (prints as [redacted]).
 */
export const SECRET_PREFIX = 'whsec_';

export function webhookSecret(value: string): Secret {
  if (!value.startsWith(SECRET_PREFIX)) throw new Error('must start with whsec_');
  const bytes = Buffer.from(value.slice(SECRET_PREFIX.length), 'base64');
  if (bytes.length < 24) throw new Error('must hold at least 24 bytes (base64) after whsec_');
  return new Secret(value);
}

function key(secret: Secret): Buffer {
  return Buffer.from(secret.reveal().slice(SECRET_PREFIX.length), 'base64');
}

export function sign(secret: Secret, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The receiver's side (tests, and anyone checking a delivery by hand): any listed v1 signature matches. */
export function verify(secret: Secret, headers: { id: string; timestamp: string; signature: string }, body: string, now = Date.now(), toleranceS = 300): boolean {
  const ts = Number(headers.timestamp);
  if (!/^\d{1,12}$/.test(headers.timestamp) || Math.abs(now / 1000 - ts) > toleranceS) return false;
  const want = Buffer.from(sign(secret, headers.id, ts, body));
  return headers.signature.split(' ').some((s) => {
    const got = Buffer.from(s);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}
