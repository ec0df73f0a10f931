import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, report } from '../support/server';
import { REPORTER_TOKEN, spawnServer } from '../support/process';

const TOKEN = 'restart-test-admin-token';

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${path === '/v1/reports' ? REPORTER_TOKEN : TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json().catch(() => null)) as any };
}

describe('restart mid-rollout (server process + its embedded Redis with AOF)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-restart-'));
  const env = {
    DEPCANARY_DATA_DIR: dir,
    DEPCANARY_ADMIN_TOKEN: TOKEN,
    DEPCANARY_CONSTRAINTS_FILE: join(FIXTURES, 'upper-constraints.txt'),
    DEPCANARY_CONTROLLER: '0',
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['SIGTERM', 'SIGKILL'] as const)('state, cohorts and counters survive a %s', async (signal) => {
    let srv = await spawnServer(env);
    try {
      const { json: ro } = await call(srv.url, 'POST', '/v1/rollouts', { library: 'oslo.log', candidate: `8.4.${signal.length}`, stages: [20, 50, 100] });
      await call(srv.url, 'POST', `/v1/rollouts/${ro.id}/promote`, { reason: 'to 50%' });
      const machines = Array.from({ length: 30 }, () => randomUUID());
      const pinsBefore = await Promise.all(machines.map(async (m) => (await call(srv.url, 'GET', `/v1/pins?machine=${m}`)).json.pins));
      const reports = machines.map((m, i) => report({ machine: m, installed: { 'oslo.log': pinsBefore[i].find((p: any) => p.rolloutId === ro.id).version }, outcome: i % 3 ? 'pass' : 'fail' }));
      expect((await call(srv.url, 'POST', '/v1/reports', { reports })).status).toBe(202);
      const before = (await call(srv.url, 'GET', `/v1/rollouts/${ro.id}`)).json;

      await srv.stop(signal);
      srv = await spawnServer(env);

      const after = (await call(srv.url, 'GET', `/v1/rollouts/${ro.id}`)).json;
      expect(after).toMatchObject({ state: 'active', stageIndex: 1, percent: 50, revision: before.revision });
      expect(after.evidence).toEqual(before.evidence);
      const pinsAfter = await Promise.all(machines.map(async (m) => (await call(srv.url, 'GET', `/v1/pins?machine=${m}`)).json.pins));
      expect(pinsAfter).toEqual(pinsBefore);
      const replay = await call(srv.url, 'POST', '/v1/reports', { reports });
      expect(replay.json).toEqual({ accepted: 0, duplicates: 30 });
      const events = (await call(srv.url, 'GET', `/v1/rollouts/${ro.id}/events`)).json.events;
      expect(events.map((e: any) => e.type).slice(-2)).toEqual(['created', 'advanced']);
    } finally {
      await srv.stop();
    }
  });
});
