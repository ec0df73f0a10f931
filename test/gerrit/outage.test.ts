import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { diffLines } from './support/admin';
import { ensureOutboxItem, eventually, makeWorld, type World } from './support/world';

/**
 * A rollback while Gerrit is down: the rollback itself succeeds, the proposal waits in the
 * outbox (retried with backoff, the error recorded on the rollout), and once Gerrit is back
 * the worker delivers it: exactly one change, nothing lost.
 */
const SCRIPT = join(__dirname, '..', '..', 'scripts', 'ensure-gerrit.sh');
const site = () => process.env.GERRIT_TEST_SITE!;
const port = () => new URL(process.env.GERRIT_TEST_URL!).port;

function gerritUp(): boolean {
  try {
    execFileSync('curl', ['-fsS', '-o', '/dev/null', `${process.env.GERRIT_TEST_URL}/config/server/version`]);
    return true;
  } catch {
    return false;
  }
}

function startGerrit(): void {
  execFileSync(SCRIPT, ['start', site(), '--port', port(), '--owner-pid', process.env.GERRIT_TEST_OWNER_PID!], { stdio: ['ignore', 'ignore', 'inherit'] });
}

let w: World;
beforeAll(async () => {
  w = await makeWorld();
});
afterAll(async () => {
  if (!gerritUp()) startGerrit(); // later test files need it
  await w?.close();
});

test('a rollback during a Gerrit outage is delivered by the outbox once Gerrit is back', async () => {
  const created = await w.server.req('POST', '/v1/rollouts', { library: 'six', stable: '1.16.0', candidate: '1.17.0', requiresPython: '' });
  expect(created.status).toBe(201);
  const id = created.json.id;

  execFileSync(SCRIPT, ['stop', site()], { stdio: ['ignore', 'ignore', 'inherit'] });
  expect(gerritUp()).toBe(false);
  const rolled = await w.server.req('POST', `/v1/rollouts/${id}/rollback`, { reason: 'six 1.17.0 breaks py2 shims' });
  expect(rolled.status).toBe(200);
  await ensureOutboxItem(w, 'rollback', id, null);

  const waiting = await eventually(async () => {
    const v = await w.server.req('GET', `/v1/rollouts/${id}`);
    return v.json.proposal?.status === 'pending' && v.json.proposal.lastError ? v.json.proposal : null;
  }, 30_000, 'a failed first attempt');
  expect(waiting.lastError).toMatch(/ECONNREFUSED|fetch failed/);
  expect(waiting.nextAttemptAt).toBeGreaterThan(waiting.updatedAt);
  const item = await w.worker.outbox.get(`rollback:${id}`);
  expect(item?.status).toBe('pending');

  startGerrit();
  const sent = await eventually(async () => {
    const v = await w.server.req('GET', `/v1/rollouts/${id}`);
    return v.json.proposal?.status === 'sent' ? v.json.proposal : null;
  }, 120_000, 'delivery after Gerrit came back');
  expect(sent.attempts).toBeGreaterThanOrEqual(2);

  const open = await w.admin.openChanges(w.project, `depcanary-rollback-${id}`);
  expect(open).toHaveLength(1);
  expect(open[0]._number).toBe(sent.changeNumber);
  expect(open[0].subject).toBe('Revert "update constraint for six to new release 1.17.0"');
  expect(diffLines(await w.admin.patch(w.project, open[0]._number))).toEqual({
    'upper-constraints.txt': { removed: ['six===1.17.0'], added: ['six===1.16.0'] },
  });
  // The separate exclusion change came through the outage too.
  const excluded = await eventually(async () => {
    const v = await w.server.req('GET', `/v1/rollouts/${id}`);
    return v.json.exclusion?.status === 'sent' ? v.json.exclusion : null;
  }, 60_000, 'the exclusion change');
  expect(diffLines(await w.admin.patch(w.project, excluded.changeNumber))).toEqual({
    'global-requirements.txt': { removed: ['six  # MIT'], added: ['six!=1.17.0  # MIT'] },
  });
  const metrics = (await w.server.req('GET', '/metrics', undefined, null)).text;
  expect(metrics).toMatch(/depcanary_gerrit_proposals_total\{outcome="retry"\} [1-9]/);
  expect(metrics).toMatch(/depcanary_gerrit_proposals_total\{outcome="created"\} 2/);
  // The outbox keeps the delivered item as a record and no longer schedules it.
  expect(await w.worker.outbox.pendingCount()).toBe(0);
});
