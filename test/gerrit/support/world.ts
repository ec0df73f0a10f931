import type { Decision } from '../../../server/domain/decision';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GerritSettings } from '../../../server/gerrit/config';
import { gerritExtension } from '../../../server/gerrit/extension';
import { outboxId } from '../../../server/gerrit/outbox-item';
import type { GerritWorker } from '../../../server/gerrit/start';
import type { OutboxItem } from '../../../server/gerrit/types';
import { startTestServer, type TestServer } from '../../support/server';
import { GerritAdmin } from './admin';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures');
export const UC = readFileSync(join(FIXTURES, 'upper-constraints.txt'), 'utf8');
export const GR = readFileSync(join(FIXTURES, 'global-requirements.txt'), 'utf8');

/**
 * One test file's world: a fresh Gerrit project holding the real upper-constraints.txt and
 * global-requirements.txt, a bot account (what depcanary logs in as) and a reviewer, both
 * made through the REST API, and a real depcanary server (own Redis key prefix) whose
 * Gerrit extension points at that project.
 */
export interface World {
  admin: GerritAdmin;
  project: string;
  bot: { username: string; password: string };
  reviewer: string;
  server: TestServer;
  worker: GerritWorker;
  settings: GerritSettings;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function makeWorld(opts: {
  env?: NodeJS.ProcessEnv;
  files?: Record<string, string>;
  /** Run on the new project before depcanary starts (settings, branches, commits). */
  before?: (admin: GerritAdmin, project: string) => Promise<void>;
} = {}): Promise<World> {
  const url = process.env.GERRIT_TEST_URL;
  const pw = process.env.GERRIT_TEST_ADMIN_PASSWORD;
  if (!url || !pw) throw new Error('GERRIT_TEST_URL is unset: run with jest -c jest.gerrit.config.js');
  const admin = new GerritAdmin(url, 'admin', pw);
  const tag = randomBytes(3).toString('hex');
  const project = `openstack/requirements-${tag}`;
  await admin.createProject(project, opts.files ?? { 'upper-constraints.txt': UC, 'global-requirements.txt': GR });
  const bot = await admin.createAccount(`depcanary-bot-${tag}`);
  const reviewer = (await admin.createAccount(`reviewer-${tag}`)).username;
  await opts.before?.(admin, project);

  const dir = mkdtempSync(join(tmpdir(), 'depcanary-gerrit-cred-'));
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${bot.password}\n`, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {
    GERRIT_URL: url,
    GERRIT_USER: bot.username,
    GERRIT_PASSWORD_FILE: passwordFile,
    GERRIT_PROJECT: project,
    GERRIT_BRANCH: 'master',
    GERRIT_CONSTRAINTS_PATH: 'upper-constraints.txt',
    GERRIT_REQUIREMENTS_PATH: 'global-requirements.txt',
    GERRIT_HASHTAGS: 'depcanary,rollback',
    GERRIT_REVIEWERS: reviewer,
    GERRIT_BASE_REFRESH_SECONDS: '0',
    GERRIT_TIMEOUT_SECONDS: '10',
    ...opts.env,
  };
  let worker: GerritWorker | undefined;
  let settings: GerritSettings | undefined;
  const server = await startTestServer({ publicUrl: 'https://depcanary.example.org' }, [
    gerritExtension(env, {
      onStart: (w, s) => {
        worker = w;
        settings = s;
      },
      pollMs: 250,
      backoff: { baseMs: 500, maxMs: 4000 },
    }),
  ]);
  return {
    admin, project, bot, reviewer, server, worker: worker!, settings: settings!, env,
    close: () => server.close(),
  };
}

/**
 * The outbox item the rollout store wrote in the same Lua script as the rollback or
 * promotion (RolloutService is given `outboxFor`); fails when it is missing.
 */
export async function ensureOutboxItem(w: World, kind: 'rollback' | 'promote' | 'exclude', rolloutId: string, decision: unknown): Promise<OutboxItem> {
  const have = await w.worker.outbox.get(outboxId(kind, rolloutId));
  if (!have) throw new Error(`the rollout store wrote no outbox item ${outboxId(kind, rolloutId)} with the transition`);
  expect(have.payload.decision).toEqual(decision);
  return have;
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, ms = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A decision explanation shaped like server/domain/decision's, as the controller records it. */
export function regressionDecision(stageIndex: number, percent: number): Decision {
  return {
    verdict: 'rollback', rule: 'regression',
    reason: 'Regression: candidate 14.8% of 380 capped runs on 38 machines vs control 2.7% of 3410 on 341 (D = +12.1 pts ± 5.8); the always-valid lower bound +6.3 pts is above zero.',
    at: Date.now(), stageIndex, percent, stageAgeSeconds: 7200,
    candidate: { N: 380, F: 56.2, G: 38, p: 0.148, V: 0.0004, runs: 412, failures: 61, errors: 3, machines: 38, allFailingMachines: 2, sources: 30, failingSources: 12 },
    control: { N: 3410, F: 92.1, G: 341, p: 0.027, V: 0.00001, runs: 3620, failures: 97, errors: 5, machines: 341, allFailingMachines: 0, sources: 250, failingSources: 40 },
    D: 0.121, h: 0.058, hAdvance: 0.058, lower: 0.063, upper: 0.179, margin: 0.02, tau: 0.027, q0: 0.027, alpha: 0.05, runAlpha: 0.05,
    advanceAlpha: 0.05, hardBreakP: null, blockers: [], alarms: [], alert: false, q0ToFreeze: null, segments: null, held: null, sourceCapped: 0,
    newInCandidate: [
      { id: 'nova.tests.unit.test_log.TestLogging.test_json_formatter', candidateMachines: 9, expectedMachines: 0.42 },
      { id: 'oslo_log.tests.unit.test_log.FancyRecordTestCase.test_rfc5424', candidateMachines: 5, expectedMachines: 0.1 },
    ],
  };
}
