import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { hashToken, ROLES, type TokenEntry } from './store/token-store';

/**
 * Tokens file (DEPCANARY_TOKENS_FILE): a JSON array of `{"name", "role", "sha256"}`, where
 * sha256 is the hex digest of the token (`printf %s "$TOKEN" | sha256sum`). Plain tokens
 * never sit on disk.
 */
const fileSchema = z.array(z.strictObject({
  name: z.string().min(1).max(100),
  role: z.enum(ROLES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256'),
}));

export function staticTokens(adminToken: string | undefined, tokensFile: string | undefined): (TokenEntry & { source: 'env' | 'file' })[] {
  const out: (TokenEntry & { source: 'env' | 'file' })[] = [];
  if (adminToken) out.push({ name: 'bootstrap-admin', role: 'admin', sha256: hashToken(adminToken), source: 'env' });
  if (tokensFile) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(tokensFile, 'utf8'));
    } catch (e) {
      throw new Error(`DEPCANARY_TOKENS_FILE ${tokensFile}: ${(e as Error).message}`);
    }
    const parsed = fileSchema.safeParse(data);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`DEPCANARY_TOKENS_FILE ${tokensFile}: [${i.path.join('.')}] ${i.message}`);
    }
    out.push(...parsed.data.map((e) => ({ ...e, source: 'file' as const })));
  }
  return out;
}
