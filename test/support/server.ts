import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadConfig, type Config } from '../../server/config';
import { startServer, type Extension, type RunningServer } from '../../server/runtime';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const FIXTURES = join(__dirname, '..', 'fixtures');

/**
 * A real server on 127.0.0.1:<free port>, on the jest run's real Redis with a fresh key
 * prefix (so tests never see each other's data). Always `await s.close()`.
 */
export async function startTestServer(overrides: Partial<Config> = {}, extensions: Extension[] = [], logger?: Logger): Promise<TestServer> {
  const socket = process.env.DEPCANARY_TEST_REDIS_SOCKET;
  if (!socket) throw new Error('DEPCANARY_TEST_REDIS_SOCKET is unset: run through jest (test/support/global-setup.ts)');
  const base = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: `unix://${socket}`,
    DEPCANARY_KEY_PREFIX: `t${randomBytes(5).toString('hex')}`,
    DEPCANARY_CONSTRAINTS_FILE: join(FIXTURES, 'upper-constraints.txt'),
    DEPCANARY_ADMIN_TOKEN: ADMIN_TOKEN,
    DEPCANARY_CONTROLLER: '0',
    // One test client blasts from 127.0.0.1: limits are off unless a test turns them on.
    DEPCANARY_LIMIT_REPORTS_PER_MIN: '0',
    DEPCANARY_LIMIT_AUTH_FAILURES_PER_MIN: '0',
    DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN: '0',
    DEPCANARY_LIMIT_AUTH_FAILURES_PER_BLOCK_PER_MIN: '0',
    DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR: '0',
    DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR: '0',
    // No network in tests: Requires-Python comes from the request, or the index tests' own index.
    DEPCANARY_INDEX_URL: 'off',
  });
  const config = { ...base, ...overrides };
  const server = await startServer(config, logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), extensions);
  return new TestServer(server, config);
}

export class TestServer {
  private readonly reporterTokens = new Map<string, Promise<string>>();
  private readonly spread = new Map<string, number>();
  constructor(readonly server: RunningServer, readonly config: Config) {}

  /**
   * A reporter token (a CI system's; docs/trust.md) made through the API once per name: its
   * reports count under the source `ci:<name>`.
   */
  reporter(name = 'test-ci'): Promise<string> {
    let t = this.reporterTokens.get(name);
    if (!t) {
      t = this.req('POST', '/v1/tokens', { name, role: 'reporter' }).then((r) => {
        if (r.status !== 201) throw new Error(`could not make reporter token ${name}: ${r.text}`);
        return r.json.token as string;
      });
      this.reporterTokens.set(name, t);
    }
    return t;
  }

  /**
   * Enrols a machine over HTTP; `from` is the client address claimed in X-Forwarded-For
   * (believed only when the server trusts the loopback proxy), which sets its source.
   */
  async enrol(from?: string, machine?: string): Promise<{ machine: string; credential: string }> {
    const r = await this.req('POST', '/v1/enrol', machine ? { machine } : {}, null, from ? { 'x-forwarded-for': from } : {});
    if (r.status !== 201) throw new Error(`enrolment failed: ${r.status} ${r.text}`);
    return r.json;
  }

  /**
   * Reports of many machines from `sources` CI systems (reporter tokens `ci-0`…): each
   * machine always reports through the same one, so the evidence has that many sources.
   * Batches of 100; throws on anything but 202.
   */
  async postSpread(reports: { machine: string }[], sources = 6): Promise<void> {
    const by = new Map<number, { machine: string }[]>();
    for (const r of reports) {
      // round-robin by first appearance: a few machines already span several sources
      let k = this.spread.get(r.machine);
      if (k === undefined) this.spread.set(r.machine, (k = this.spread.size % sources));
      by.set(k, [...(by.get(k) ?? []), r]);
    }
    for (const [k, rs] of by) {
      const token = await this.reporter(`ci-${k}`);
      for (let i = 0; i < rs.length; i += 100) {
        const r = await this.req('POST', '/v1/reports', { reports: rs.slice(i, i + 100) }, token);
        if (r.status !== 202) throw new Error(`reports refused: ${r.status} ${r.text}`);
      }
    }
  }

  /** POST /v1/reports with the default reporter token (or the given credential). */
  async postReports(body: unknown, credential?: string, headers: Record<string, string> = {}) {
    return this.req('POST', '/v1/reports', body, credential ?? (await this.reporter()), headers);
  }
  get url() {
    return this.server.url;
  }
  close() {
    return this.server.close();
  }

  async req(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN, headers: Record<string, string> = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: {
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* text body */
    }
    return { status: res.status, json, text, headers: res.headers };
  }
}

export function report(fields: Partial<Record<string, unknown>> & { machine: string; installed: Record<string, string> }) {
  return {
    id: randomUUID(),
    outcome: 'pass',
    project: 'nova',
    env: 'py311',
    python: '3.11.7',
    platform: 'linux-x86_64',
    durationMs: 1000,
    failedTests: [],
    finishedAt: new Date().toISOString(),
    ...fields,
  };
}

/** What a wait last saw: a rollout view's state and decision first (the part that says why), else the start of its JSON. */
function describeLast(x: unknown): string {
  const v = x as { state?: unknown; decision?: { verdict?: unknown; rule?: unknown; reason?: unknown } | null } | null;
  const head = v && typeof v === 'object' && 'state' in v ? `state ${String(v.state)}, decision ${String(v.decision?.verdict)} ${String(v.decision?.rule)}: ${String(v.decision?.reason).slice(0, 400)}; ` : '';
  return head + JSON.stringify(x).slice(0, 600);
}

/** Polls `get` until `ok` holds (a condition, never a fixed sleep); throws naming `what` after `ms`. */
export async function waitFor<T>(what: string, get: () => Promise<T>, ok: (x: T) => boolean, ms = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const x = await get();
    if (ok(x)) return x;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${describeLast(x)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
