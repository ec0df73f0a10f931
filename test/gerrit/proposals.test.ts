import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { ensureOutboxItem, FIXTURES, GR, makeWorld, regressionDecision, UC, type World } from './support/world';

/**
 * Proposals against a real Gerrit, in the requirements repository's forms, triggered through
 * depcanary's real API and store, delivered by the real outbox worker, checked through
 * Gerrit's REST API. The project is set to require Signed-off-by (as openstack/requirements is).
 * master starts one bump behind: oslo.log 8.2.0, then the release bot's change
 * "update constraint for oslo.log to new release 8.3.0" merges.
 */
let w: World;
let bumpSha: string;
let rolloutId: string;
let topic: string;
let changeNumber: number;

const OSLO_REQ = 'oslo.log!=3.44.2,!=4.1.2,!=4.2.0,!=5.0.1,!=5.0.2,!=5.1.0  # Apache-2.0';
const UC_BEFORE_BUMP = UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0');
const CLIFF_BEFORE = readFileSync(join(FIXTURES, 'upper-constraints-before-cliff-split.txt'), 'utf8');
const CLIFF_SPLIT = readFileSync(join(FIXTURES, 'upper-constraints-cliff-split.txt'), 'utf8');

beforeAll(async () => {
  w = await makeWorld({
    files: { 'upper-constraints.txt': UC_BEFORE_BUMP, 'global-requirements.txt': GR },
    env: { GERRIT_PROPOSE_PROMOTIONS: 'true', GERRIT_BRANCHES: 'master,stable/2099.1' },
    before: async (admin, project) => {
      await admin.setConfig(project, { use_signed_off_by: 'TRUE' });
      bumpSha = (await admin.commit(project, 'update constraint for oslo.log to new release 8.3.0\n\nmeta: version: 8.3.0\nmeta: team: oslo', { 'upper-constraints.txt': UC })).sha;
      await admin.createBranch(project, 'stable/2099.1');
      await admin.commitFiles(project, 'Prepare stable/2099.1', { 'upper-constraints.txt': CLIFF_BEFORE }, 'stable/2099.1');
    },
  });
  const synced = await w.server.req('POST', '/v1/admin/gerrit/sync-base');
  expect(synced.json.branches.map((b: { branch: string; outcome: string }) => [b.branch, b.outcome])).toEqual([['master', 'unchanged'], ['stable/2099.1', 'replaced']]); // master's file is the server's own after the bump
});
afterAll(async () => {
  await w?.close();
});

test('the bump merged first: the rollout serves the control the stable; the rule\'s rollback proposes the repository\'s revert, and the exclusion as a change of its own', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], requiresPython: '' });
  expect(created.status).toBe(201);
  expect(created.json).toMatchObject({ baseMode: 'candidate', lines: { controlLines: 1 } });
  rolloutId = created.json.id;
  expect((await w.server.req('POST', `/v1/rollouts/${rolloutId}/promote`, { reason: 'quiet at 1%' })).status).toBe(200);
  // The controller's rollback, with the rule's evidence and a bug the release manager filed.
  const decision = regressionDecision(1, 10);
  await w.server.server.runtime.rollouts.act(rolloutId, 'rollback', 'controller', decision.reason, {
    automatic: true, evidence: decision, proposal: { bug: { kind: 'closes', id: '2162085' } },
  });
  await ensureOutboxItem(w, 'rollback', rolloutId, decision);
  await ensureOutboxItem(w, 'exclude', rolloutId, decision);
  // Until the revert merges, every machine gets the stable.
  expect((await w.server.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null)).text).toBe(UC_BEFORE_BUMP);
  await w.worker.drain();

  topic = `depcanary-rollback-${rolloutId}`;
  const open = await w.admin.openChanges(w.project, topic);
  expect(open).toHaveLength(1);
  const c = open[0];
  changeNumber = c._number;
  expect(c.subject).toBe('Revert "update constraint for oslo.log to new release 8.3.0"');
  expect(c.topic).toBe(topic);
  expect(c.hashtags.sort()).toEqual(['depcanary', 'rollback', topic].sort());
  expect(c.owner.username).toBe(w.bot.username);
  expect(diffLines(await w.admin.patch(w.project, changeNumber))).toEqual({
    'upper-constraints.txt': { removed: ['oslo.log===8.3.0'], added: ['oslo.log===8.2.0'] },
  });
  const message: string = c.revisions[c.current_revision].commit.message;
  expect(message.split('\n').slice(0, 5)).toEqual([
    'Revert "update constraint for oslo.log to new release 8.3.0"', '', `This reverts commit ${bumpSha}.`, '',
    'Reason for revert: Regression: candidate 14.8% of 380 capped runs on 38',
  ]);
  expect(message).toContain('  candidate  8.3.0     412        38      61        3         14.8%');
  expect(message).toContain('difference +12.1 points (interval +6.3 to +17.9, margin 2.0)');
  expect(message).toContain('Decision: rollback (rule: regression)');
  expect(message).toContain('nova.tests.unit.test_log.TestLogging.test_json_formatter (9 machines, 0.4 expected)');
  expect(message.split('Regression: candidate 14.8%')).toHaveLength(2); // said once
  // Gerrit adds its Change-Id to depcanary's footer paragraph; the DCO line is the bot's own.
  const footer = message.trimEnd().split('\n\n').pop()!.split('\n');
  expect(footer.filter((l) => !l.startsWith('Change-Id: '))).toEqual([
    'Closes-Bug: #2162085', `Signed-off-by: ${w.bot.username} <${w.bot.username}@example.com>`, `Depcanary-Rollout: ${rolloutId}`,
  ]);
  expect(footer.filter((l) => /^Change-Id: I[0-9a-f]{40}$/.test(l))).toHaveLength(1);
  mkdirSync('test-output', { recursive: true });
  writeFileSync(join('test-output', 'gerrit-commit-message.txt'), message);
  writeFileSync(join('test-output', 'gerrit-change.patch'), await w.admin.patch(w.project, changeNumber));

  const exclusion = await w.admin.openChanges(w.project, `depcanary-exclude-${rolloutId}`);
  expect(exclusion).toHaveLength(1);
  expect(exclusion[0].subject).toBe('Exclude oslo.log 8.3.0 from global requirements');
  expect(diffLines(await w.admin.patch(w.project, exclusion[0]._number))).toEqual({
    'global-requirements.txt': { removed: [OSLO_REQ], added: [OSLO_REQ.replace('  #', ',!=8.3.0  #')] },
  });
  writeFileSync(join('test-output', 'gerrit-exclusion-message.txt'), exclusion[0].revisions[exclusion[0].current_revision].commit.message);

  const view = await w.server.req('GET', `/v1/rollouts/${rolloutId}`);
  expect(view.json.proposal).toMatchObject({
    kind: 'rollback', branch: 'master', status: 'sent', changeNumber, topic, attempts: 1,
    url: `${process.env.GERRIT_TEST_URL}/c/${w.project}/+/${changeNumber}`, files: ['upper-constraints.txt'],
  });
  expect(view.json.exclusion).toMatchObject({ kind: 'exclude', status: 'sent', files: ['global-requirements.txt'] });
  expect(view.json.emergencyPin).toMatchObject({ stable: '8.2.0', candidate: '8.3.0', inForce: true });
  const reviewers = await w.admin.reviewers(w.project, changeNumber);
  expect(reviewers.map((r) => r.username)).toContain(w.reviewer);
});

test('triggering it again, or re-delivering after a crash, still finds one change and adds no patch set', async () => {
  expect((await w.server.req('POST', `/v1/rollouts/${rolloutId}/rollback`, { reason: 'again' })).status).toBe(409);
  expect(await w.worker.outbox.requeue(`rollback:${rolloutId}`, Date.now())).toBe(true);
  await w.worker.drain();
  const open = await w.admin.openChanges(w.project, topic);
  expect(open.map((c) => c._number)).toEqual([changeNumber]);
  expect(open[0].current_revision_number).toBe(1);
  const all = await w.admin.allChanges(w.project);
  expect(all.filter((c) => c.topic === topic)).toHaveLength(1);
  expect((await w.server.req('GET', `/v1/rollouts/${rolloutId}`)).json.proposal).toMatchObject({ status: 'sent', changeNumber, attempts: 2 });
  const metrics = (await w.server.req('GET', '/metrics', undefined, null)).text;
  expect(metrics).toMatch(/depcanary_gerrit_proposals_total\{outcome="created"\} 2/);
  expect(metrics).toMatch(/depcanary_gerrit_proposals_total\{outcome="unchanged"\} 1/);
});

test('when the branch moves, re-delivery updates the same change onto the new head, still reverting the bump', async () => {
  const uc = await w.admin.branchFile(w.project, 'upper-constraints.txt');
  await w.admin.commitFiles(w.project, 'Update six to 1.17.1', { 'upper-constraints.txt': uc!.replace('six===1.17.0', 'six===1.17.1') });
  expect(await w.worker.outbox.requeue(`rollback:${rolloutId}`, Date.now())).toBe(true);
  await w.worker.drain();
  const open = await w.admin.openChanges(w.project, topic);
  expect(open.map((c) => c._number)).toEqual([changeNumber]);
  expect(open[0].current_revision_number).toBe(2);
  expect(diffLines(await w.admin.patch(w.project, changeNumber))).toEqual({ 'upper-constraints.txt': { removed: ['oslo.log===8.3.0'], added: ['oslo.log===8.2.0'] } });
  const c = open[0];
  const head = await w.admin.req('GET', `/projects/${encodeURIComponent(w.project)}/branches/master`);
  expect(c.revisions[c.current_revision].commit.parents[0].commit).toBe(head.revision);
  expect(c.revisions[c.current_revision].commit.message).toContain(`This reverts commit ${bumpSha}.`);
  expect(await w.worker.outbox.requeue(`rollback:${rolloutId}`, Date.now())).toBe(true);
  await w.worker.drain();
  expect((await w.admin.openChanges(w.project, topic))[0].current_revision_number).toBe(2);
});

test('once the revert merges, the base follows, the emergency pin ends by itself and the rollout records the merge', async () => {
  await w.admin.submit(w.project, changeNumber);
  const synced = await w.server.req('POST', '/v1/admin/gerrit/sync-base');
  expect(synced.status).toBe(200);
  expect(synced.json).toMatchObject({ branch: 'master', outcome: 'replaced' });
  const branch = await w.admin.branchFile(w.project, 'upper-constraints.txt');
  expect((await w.server.req('GET', '/v1/constraints')).text).toBe(branch);
  expect(branch).toContain('oslo.log===8.2.0\n');
  const view = await w.server.req('GET', `/v1/rollouts/${rolloutId}`);
  expect(view.json.emergencyPin).toBeNull();
  expect(view.json.proposal.status).toBe('sent');
  expect(typeof view.json.proposal.mergedAt).toBe('number');
  expect(Math.abs(view.json.proposal.mergedAt - Date.now())).toBeLessThan(10 * 60_000);
  const served = await w.server.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null);
  expect([served.text, served.headers.get('x-depcanary-overrides')]).toEqual([branch, '']);
});

test('a rollback of a bump that never merged: nothing to revert; the exclusion stands alone, and says why nothing else', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.3.0', requiresPython: '' });
  expect(created.status).toBe(201);
  const id = created.json.id;
  expect(created.json).toMatchObject({ stable: '8.2.0', baseMode: 'stable' });
  expect((await w.server.req('POST', `/v1/rollouts/${id}/rollback`, { reason: 'still bad' })).status).toBe(200);
  await ensureOutboxItem(w, 'rollback', id, null);
  await w.worker.drain();
  const view = await w.server.req('GET', `/v1/rollouts/${id}`);
  expect(view.json.proposal).toMatchObject({ status: 'nothing_to_propose', reason: 'upper-constraints.txt on master does not pin oslo.log at 8.3.0; nothing to revert.' });
  expect(view.json.exclusion).toMatchObject({ status: 'sent' });
  expect(view.json.emergencyPin).toBeNull();
  expect(await w.admin.openChanges(w.project, `depcanary-rollback-${id}`)).toEqual([]);
  // A rollback that asks for no exclusion gets none.
  const again = (await w.server.req('POST', '/v1/rollouts', { library: 'six', candidate: '1.18.0', requiresPython: '' })).json;
  await w.server.req('POST', `/v1/rollouts/${again.id}/rollback`, { reason: 'no', exclude: false });
  await w.worker.drain();
  expect((await w.server.req('GET', `/v1/rollouts/${again.id}`)).json.exclusion).toMatchObject({ status: 'nothing_to_propose', reason: 'the rollback asked for no exclusion' });
});

test('per branch: a promotion on stable/2099.1 proposes the bump there, in the release bot\'s form, split per Python', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.10.0', branch: '2099.1', requiresPython: '>=3.10', stages: [5, 100] });
  expect(created.json).toMatchObject({ branch: 'stable/2099.1', stable: '4.9.1', keptPythons: ['3.9'] });
  const id = created.json.id;
  expect((await w.server.req('POST', `/v1/rollouts/${id}/promote`, { reason: 'no regression at 5%' })).json.state).toBe('promoted');
  await ensureOutboxItem(w, 'promote', id, null);
  await w.worker.drain();
  const open = await w.admin.openChanges(w.project, `depcanary-promote-${id}`);
  expect(open).toHaveLength(1);
  expect(open[0]).toMatchObject({ branch: 'stable/2099.1', subject: 'update constraint for cliff to new release 4.10.0' });
  expect(diffLines(await w.admin.patch(w.project, open[0]._number))).toEqual({
    'upper-constraints.txt': { removed: ['cliff===4.9.1'], added: ["cliff===4.9.1;python_version=='3.9'", "cliff===4.10.0;python_version>='3.10'"] },
  });
  expect(await w.admin.openChanges(w.project, `depcanary-promote-${id}`)).toHaveLength(1);
  // Merged, the branch file is exactly the release team's hand-made split, and the base follows it.
  await w.admin.submit(w.project, open[0]._number);
  expect(await w.admin.branchFile(w.project, 'upper-constraints.txt', 'stable/2099.1')).toBe(CLIFF_SPLIT);
  await w.server.req('POST', '/v1/admin/gerrit/sync-base');
  expect((await w.server.req('GET', '/constraints/upper/2099.1', undefined, null)).text).toBe(CLIFF_SPLIT);
  expect((await w.server.req('GET', '/v1/branches')).json.branches.find((b: { branch: string }) => b.branch === 'stable/2099.1').promotedPending).toEqual([]);
});

test('a branch file that would empty the base is refused by the base sync; the base stays', async () => {
  await w.admin.commitFiles(w.project, 'Oops', { 'upper-constraints.txt': '# emptied by mistake\n' }, 'stable/2099.1');
  const synced = await w.server.req('POST', '/v1/admin/gerrit/sync-base');
  expect(synced.json.branches.find((b: { branch: string }) => b.branch === 'stable/2099.1')).toMatchObject({
    outcome: 'refused', reason: expect.stringMatching(/pin nothing .*refusing to replace the base/),
  });
  expect((await w.server.req('GET', '/constraints/upper/2099.1', undefined, null)).text).toBe(CLIFF_SPLIT);
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

test('the project is set to require Signed-off-by, and every change depcanary made is signed off by its account', async () => {
  // Gerrit 3.10 checks the setting on pushes, not on changes made through the REST API; the
  // footer is what the repository's reviewers and its DCO check look for.
  const config = await w.admin.req('GET', `/projects/${encodeURIComponent(w.project)}/config`);
  expect(config.use_signed_off_by).toMatchObject({ configured_value: 'TRUE' });
  const mine = (await w.admin.req('GET', `/changes/?q=${encodeURIComponent(`project:"${w.project}" owner:${w.bot.username}`)}&o=CURRENT_REVISION&o=CURRENT_COMMIT`)) as any[];
  expect(mine.length).toBeGreaterThanOrEqual(4);
  for (const c of mine) expect(c.revisions[c.current_revision].commit.message).toContain(`\nSigned-off-by: ${w.bot.username} <${w.bot.username}@example.com>\n`);
});

test('the seeded files are the real fixtures', () => {
  expect(UC).toContain('oslo.log===8.3.0\n');
  expect(GR).toContain(`${OSLO_REQ}\n`);
  expect(CLIFF_BEFORE).toContain('\ncliff===4.9.1\n');
});
