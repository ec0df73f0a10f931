import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import Redis from 'ioredis';
import { loadGerritConfig } from '../../server/gerrit/config';
import { outboxFor } from '../../server/gerrit/outbox-item';
import { startGerritWorker } from '../../server/gerrit/start';
import { createRollout } from '../../server/domain/rollout';
import { resolvePolicy } from '../../server/domain/policy';
import { diffLines } from './support/admin';
import { ensureOutboxItem, GR, makeWorld, regressionDecision, UC, type World } from './support/world';

/**
 * Rollback (and promotion) proposals against a real Gerrit, triggered through depcanary's
 * real API and store, delivered by the real outbox worker, checked through Gerrit's REST API.
 */
let w: World;
let rolloutId: string;
let topic: string;
let changeNumber: number;

const OSLO_REQ = 'oslo.log!=3.44.2,!=4.1.2,!=4.2.0,!=5.0.1,!=5.0.2,!=5.1.0  # Apache-2.0';

beforeAll(async () => {
  w = await makeWorld({ env: { GERRIT_PROPOSE_PROMOTIONS: 'true' } });
});
afterAll(async () => {
  await w?.close();
});

async function rollback(id: string, reason: string) {
  return w.server.req('POST', `/v1/rollouts/${id}/rollback`, { reason });
}

test('a rollback opens exactly one change with one-line diffs, topic, hashtags, reviewer and the evidence', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100] });
  expect(created.status).toBe(201);
  rolloutId = created.json.id;
  expect((await w.server.req('POST', `/v1/rollouts/${rolloutId}/promote`, { reason: 'quiet at 1%' })).status).toBe(200);
  // What the controller records before it rolls back.
  const decision = regressionDecision(1, 10);
  await w.server.server.runtime.rolloutStore.setDecision(rolloutId, decision);
  expect((await rollback(rolloutId, 'candidate fails more than control')).status).toBe(200);
  await ensureOutboxItem(w, 'rollback', rolloutId, decision);
  await w.worker.drain();

  topic = `depcanary-rollback-${rolloutId}`;
  const open = await w.admin.openChanges(w.project, topic);
  expect(open).toHaveLength(1);
  const c = open[0];
  changeNumber = c._number;
  expect(c.subject).toBe('Roll back oslo.log to 8.2.0: 8.3.0 fails in the 10% cohort');
  expect(c.topic).toBe(topic);
  expect(c.hashtags.sort()).toEqual(['depcanary', 'rollback', topic].sort());
  expect(c.owner.username).toBe(w.bot.username);
  expect(c.current_revision_number).toBe(1);

  const files = await w.admin.files(w.project, changeNumber);
  expect(Object.keys(files).filter((f) => f !== '/COMMIT_MSG').sort()).toEqual(['global-requirements.txt', 'upper-constraints.txt']);
  const diff = diffLines(await w.admin.patch(w.project, changeNumber));
  expect(diff['upper-constraints.txt']).toEqual({ removed: ['oslo.log===8.3.0'], added: ['oslo.log===8.2.0'] });
  expect(diff['global-requirements.txt']).toEqual({ removed: [OSLO_REQ], added: [OSLO_REQ.replace('  #', ',!=8.3.0  #')] });

  const message: string = c.revisions[c.current_revision].commit.message;
  expect(message).toContain('at stage 2 of 3, where 10% of machines ran the candidate');
  expect(message).toContain('  candidate  8.3.0     412        38      61        3         14.8%');
  expect(message).toContain('  control    8.2.0    3620       341      97        5          2.7%');
  expect(message).toContain('difference +12.1 points (interval +6.3 to +17.9, margin 2.0)');
  expect(message).toContain('Decision: rollback (rule: regression)');
  expect(message).toContain('nova.tests.unit.test_log.TestLogging.test_json_formatter (9 machines, 0.4 expected)');
  expect(message).toContain(`Rollout: https://depcanary.example.org/rollouts/${rolloutId}`);
  // Gerrit adds its Change-Id to depcanary's footer paragraph.
  const footer = message.trimEnd().split('\n\n').pop()!.split('\n').sort();
  expect(footer).toEqual([expect.stringMatching(/^Change-Id: I[0-9a-f]{40}$/), `Depcanary-Rollout: ${rolloutId}`]);
  mkdirSync('test-output', { recursive: true });
  writeFileSync(join('test-output', 'gerrit-commit-message.txt'), message);
  writeFileSync(join('test-output', 'gerrit-change.patch'), await w.admin.patch(w.project, changeNumber));

  const reviewers = await w.admin.reviewers(w.project, changeNumber);
  expect(reviewers.map((r) => r.username)).toContain(w.reviewer);

  const view = await w.server.req('GET', `/v1/rollouts/${rolloutId}`);
  expect(view.json.proposal).toMatchObject({
    kind: 'rollback', status: 'sent', changeNumber, topic, attempts: 1,
    url: `${process.env.GERRIT_TEST_URL}/c/${w.project}/+/${changeNumber}`,
    files: ['upper-constraints.txt', 'global-requirements.txt'],
  });
  expect(view.json.proposal.patch).toContain('+oslo.log===8.2.0');
});

test('triggering it again, or re-delivering after a crash, still finds one change and adds no patch set', async () => {
  expect((await rollback(rolloutId, 'again')).status).toBe(409);
  // A worker that crashed after creating the change but before recording it runs the item again.
  expect(await w.worker.outbox.requeue(`rollback:${rolloutId}`, Date.now())).toBe(true);
  await w.worker.drain();
  const open = await w.admin.openChanges(w.project, topic);
  expect(open.map((c) => c._number)).toEqual([changeNumber]);
  expect(open[0].current_revision_number).toBe(1);
  const all = await w.admin.allChanges(w.project);
  expect(all.filter((c) => c.topic === topic)).toHaveLength(1);
  const view = await w.server.req('GET', `/v1/rollouts/${rolloutId}`);
  expect(view.json.proposal).toMatchObject({ status: 'sent', changeNumber, attempts: 2 });
  const metrics = (await w.server.req('GET', '/metrics', undefined, null)).text;
  expect(metrics).toMatch(/depcanary_gerrit_proposals_total\{outcome="created"\} 1/);
  expect(metrics).toMatch(/depcanary_gerrit_proposals_total\{outcome="unchanged"\} 1/);
});

test('when the branch moves, re-delivery updates the same change onto the new head', async () => {
  const uc = await w.admin.branchFile(w.project, 'upper-constraints.txt');
  await w.admin.commitFiles(w.project, 'Update six to 1.17.1', { 'upper-constraints.txt': uc!.replace('six===1.17.0', 'six===1.17.1') });
  expect(await w.worker.outbox.requeue(`rollback:${rolloutId}`, Date.now())).toBe(true);
  await w.worker.drain();
  const open = await w.admin.openChanges(w.project, topic);
  expect(open.map((c) => c._number)).toEqual([changeNumber]);
  expect(open[0].current_revision_number).toBe(2);
  const diff = diffLines(await w.admin.patch(w.project, changeNumber));
  expect(diff['upper-constraints.txt']).toEqual({ removed: ['oslo.log===8.3.0'], added: ['oslo.log===8.2.0'] });
  expect(Object.keys(diff).sort()).toEqual(['global-requirements.txt', 'upper-constraints.txt']);
  const c = open[0];
  const head = await w.admin.req('GET', `/projects/${encodeURIComponent(w.project)}/branches/master`);
  expect(c.revisions[c.current_revision].commit.parents[0].commit).toBe(head.revision);
  const message: string = c.revisions[c.current_revision].commit.message;
  expect(message).not.toContain('NOTE FOR REVIEWERS');
  expect(message).toContain('Decision: rollback (rule: regression)');
  // Delivered once more on the same head: nothing to change, no third patch set.
  expect(await w.worker.outbox.requeue(`rollback:${rolloutId}`, Date.now())).toBe(true);
  await w.worker.drain();
  expect((await w.admin.openChanges(w.project, topic))[0].current_revision_number).toBe(2);
});

test('once merged, the base follows the branch and the rollout records when its change merged', async () => {
  await w.admin.submit(w.project, changeNumber);
  const synced = await w.server.req('POST', '/v1/admin/gerrit/sync-base');
  expect(synced.status).toBe(200);
  expect(synced.json.outcome).toBe('replaced');
  const branch = await w.admin.branchFile(w.project, 'upper-constraints.txt');
  const base = await w.server.req('GET', '/v1/constraints');
  expect(base.text).toBe(branch);
  expect(base.text).toContain('oslo.log===8.2.0\n');
  const served = await w.server.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null);
  expect(served.text).toContain('oslo.log===8.2.0\n');
  const view = await w.server.req('GET', `/v1/rollouts/${rolloutId}`);
  expect(view.json.proposal.status).toBe('sent');
  expect(typeof view.json.proposal.mergedAt).toBe('number');
  expect(Math.abs(view.json.proposal.mergedAt - Date.now())).toBeLessThan(10 * 60_000);
});

test('when the branch already pins stable and excludes the candidate, nothing is proposed and the rollout says why', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.3.0' });
  expect(created.status).toBe(201);
  const id = created.json.id;
  expect(created.json.stable).toBe('8.2.0');
  expect((await rollback(id, 'still bad')).status).toBe(200);
  await ensureOutboxItem(w, 'rollback', id, null);
  await w.worker.drain();
  const view = await w.server.req('GET', `/v1/rollouts/${id}`);
  expect(view.json.proposal).toMatchObject({
    status: 'nothing_to_propose',
    reason: 'upper-constraints.txt already pins oslo.log at 8.2.0 and global-requirements.txt already excludes 8.3.0; nothing to propose.',
  });
  expect(await w.admin.openChanges(w.project, `depcanary-rollback-${id}`)).toEqual([]);
});

test('a completed rollout proposes the constraints bump the same way', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'pbr', candidate: '7.0.4', stages: [5, 100] });
  expect(created.status).toBe(201);
  const id = created.json.id;
  const promoted = await w.server.req('POST', `/v1/rollouts/${id}/promote`, { reason: 'no regression at 5%' });
  expect(promoted.json.state).toBe('promoted');
  await ensureOutboxItem(w, 'promote', id, null);
  await w.worker.drain();
  const open = await w.admin.openChanges(w.project, `depcanary-promote-${id}`);
  expect(open).toHaveLength(1);
  expect(open[0].subject).toBe('Update pbr to 7.0.4: rolled out to 100% of machines');
  const diff = diffLines(await w.admin.patch(w.project, open[0]._number));
  expect(diff).toEqual({ 'upper-constraints.txt': { removed: ['pbr===7.0.3'], added: ['pbr===7.0.4'] } });
});

test('wrong credentials fail for good (no retry loop), with Gerrit\'s error text and no password in it', async () => {
  const redis = new Redis({ path: process.env.DEPCANARY_TEST_REDIS_SOCKET! });
  const prefix = `bad${Date.now()}`;
  const password = 'not-the-password-0123456789';
  const settings = loadGerritConfig({ ...w.env, GERRIT_PASSWORD_FILE: undefined, GERRIT_PASSWORD: password });
  const records: unknown[] = [];
  const registry = new Registry();
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => logs.push(s) });
  const worker = startGerritWorker({
    redis, prefix, settings, registry, logger, sink: { setProposal: async (_id, p) => void records.push(p) },
    readBase: async () => UC, pollMs: 60_000,
  });
  try {
    const r = createRollout({ id: 'bad-creds', library: 'six', stable: '1.16.0', candidate: '1.17.0', stages: [1, 100], salt: 's', policy: resolvePolicy(2), actor: 't', now: Date.now() });
    const { item } = outboxFor('rollback', { ...r, state: 'rolled_back' }, { type: 'rollback', actor: 't', reason: 'r' }, null);
    await worker.outbox.enqueue(item);
    await worker.drain();
    const stored = await worker.outbox.get(item.id);
    expect({ status: stored?.status, lastError: stored?.lastError }).toEqual({ status: 'failed', lastError: expect.stringMatching(/401/) });
    expect(stored?.lastError).toMatch(/401/);
    expect(await redis.zscore(worker.outbox.keys.due, item.id)).toBeNull();
    expect(records).toEqual([expect.objectContaining({ status: 'failed', attempts: 1 })]);
    expect(await registry.metrics()).toMatch(/depcanary_gerrit_proposals_total\{outcome="failed"\} 1/);
    const all = logs.join('') + JSON.stringify(stored) + JSON.stringify(records);
    expect(all).toContain('Gerrit proposal failed');
    expect(all).not.toContain(password);
    expect(all).not.toContain(Buffer.from(`${settings.connection!.user}:${password}`).toString('base64'));
  } finally {
    await worker.stop();
    redis.disconnect();
  }
});

test('the seeded files are the real fixtures', () => {
  expect(UC).toContain('oslo.log===8.3.0\n');
  expect(GR).toContain(`${OSLO_REQ}\n`);
});
