import { api, rolloutPath } from './api.js';
import { actionBar } from './actions.js';
import { stateBadge, verdictBadge } from './badges.js';
import { failureChart } from './chart.js';
import { h, fill } from './dom.js';
import { gatesView } from './gates.js';
import { ago, clock, LIVE, num, reasonOf, stageLabel, time } from './format.js';
import { stageBars } from './stages.js';

/**
 * `/rollouts/:id`: stage bars and actions, the failure-rate chart, the controller's decision
 * and what it still waits for, evidence per arm, failing tests, the Gerrit change and the
 * audit trail. Sections are updated in place on every poll (the chart and an open action
 * form keep their state).
 */
export function rolloutPage(root, id, { refreshNow }) {
  const head = h('div', { class: 'head-main' });
  const bars = h('div', { class: 'head-stages' });
  const actions = h('div', { class: 'head-actions' });
  const chartBox = h('div', { class: 'chart' });
  const decision = h('div');
  const arms = h('div');
  const tests = h('div');
  const segments = h('div');
  const gerrit = h('div');
  const audit = h('div');
  fill(root,
    h('section', { class: 'card rollout-head' }, head, bars, actions),
    h('div', { class: 'grid grid-main' },
      h('section', { class: 'card' }, h('h2', {}, 'Failure rate, candidate vs control'), chartBox, chartLegend()),
      h('section', { class: 'card', id: 'decision' }, h('h2', {}, 'Decision'), decision)),
    h('div', { class: 'grid grid-two' },
      h('section', { class: 'card' }, h('h2', {}, 'Evidence per arm'), arms),
      h('section', { class: 'card', id: 'segments' }, h('h2', {}, 'Segments'), segments)),
    h('div', { class: 'grid grid-two' },
      h('section', { class: 'card' }, h('h2', {}, 'Top failing tests'), tests)),
    h('div', { class: 'grid grid-side' },
      h('section', { class: 'card' }, h('h2', {}, 'Gerrit'), gerrit),
      h('section', { class: 'card' }, h('h2', {}, 'Audit trail'), audit)));
  const chart = failureChart(chartBox);
  const bar = actionBar(actions, { onDone: () => void refreshNow() });
  let points = null;

  function render(v, events, points) {
    fill(head,
      h('div', { class: 'title-row' },
        h('h1', {}, v.library, ' ', h('span', { class: 'versions-big' }, `${v.stable} → `, h('strong', {}, v.candidate))),
        h('span', { class: 'branch-tag', title: 'constraints branch' }, v.branch || 'master'),
        stateBadge(v)),
      h('div', { class: 'muted small' }, `id ${v.id} · revision ${v.revision} · started ${clock(v.createdAt)} by ${v.createdBy} · updated ${ago(v.updatedAt)}`),
      emergencyView(v),
      linesView(v),
      gatesView(v));
    fill(bars, stageBars(v), h('div', { class: 'muted small' }, stageLabel(v)));
    bar.update(v);
    chart.update(points, v);
    fill(decision, decisionView(v));
    fill(arms, armsTable(v));
    fill(tests, testsView(v));
    fill(segments, segmentsView(v));
    fill(gerrit, proposalView(v.proposal, v), v.exclusion ? [h('h3', {}, 'Exclusion (a change of its own)'), proposalView(v.exclusion, v)] : null, stageHistory(v));
    fill(audit, auditView(events));
  }

  return {
    async refresh() {
      const [v, ev] = await Promise.all([api('GET', rolloutPath(id)), api('GET', `${rolloutPath(id)}/events`)]);
      // The series (up to 1,000 points) gains a point only when an evaluation's evidence or
      // verdict differs from the last point (server/controller/series.ts): fetch it then.
      if (points === null || seriesBehind(points, v.decision)) points = (await api('GET', `${rolloutPath(id)}/series`)).points;
      render(v, ev.events, points);
      return { crumbs: [v.library, v.candidate], title: `${v.library} ${v.candidate}` };
    },
    destroy() {
      chart.destroy();
    },
  };
}

function seriesBehind(points, d) {
  if (!d) return false;
  const last = points[points.length - 1];
  return !last || last.candidate.N !== d.candidate.N || last.control.N !== d.control.N || last.verdict !== d.verdict
    || last.rule !== d.rule || last.stageIndex !== d.stageIndex;
}

function chartLegend() {
  return h('div', { class: 'legend-note small' },
    h('span', { class: 'key key-control' }), ' control failure rate p_K ',
    h('span', { class: 'key key-candidate' }), ' candidate p_T ',
    h('span', { class: 'key key-band' }), ' p_T ± h ',
    h('span', { class: 'key key-margin' }), ' p_K + margin',
    h('p', { class: 'muted' },
      'The band is the controller’s always-valid bound on the difference D = p_T − p_K, drawn around the candidate. ',
      'It rolls back when the band lies entirely above the control line, and advances only when the band lies entirely below the dashed line ',
      '(and soak, machines and runs are met). Rates are capped per machine and day; one point per evaluation with new evidence; dotted lines mark stage changes.'));
}

function decisionView(v) {
  const d = v.decision;
  const live = LIVE.has(v.state);
  const out = [h('div', { class: 'decision-head' }, verdictBadge(v), d && live ? h('code', { class: 'rule' }, d.rule) : null,
    d ? h('span', { class: 'muted small' }, `evaluated ${ago(d.at)}`) : null)];
  out.push(h('p', { class: 'reason-big' }, reasonOf(v)));
  if (d) {
    if (!live) out.push(h('h3', {}, 'Last evaluation'));
    const f = v.figures;
    out.push(h('dl', { class: 'facts' },
      fact('D = p_T − p_K', f.difference),
      fact('always-valid interval', f.interval),
      fact('margin', f.margin),
      fact('q0 (baseline)', f.q0),
      fact('levels', f.levels)));
    for (const a of d.alarms) out.push(h('p', { class: 'alarm' }, '⚠ ', a));
  }
  const seg = v.figures.segments;
  if (seg.fired || seg.suspect) {
    const l = seg.fired || seg.suspect;
    out.push(h('p', { class: seg.fired ? 'segment segment-fired' : 'segment segment-suspect', dataset: { family: l.family } },
      h('strong', {}, seg.fired ? 'Segment: ' : 'Segment nearly proven worse: '), l.sentence, h('span', { class: 'muted small' }, ` (${l.figure})`)));
  }
  const gs = v.figures.gauges;
  if (gs.length > 0) {
    out.push(h('h3', {}, 'Toward the next advance'));
    out.push(h('div', { class: 'gauges' }, gs.map((g) =>
      h('div', { class: `gauge${g.done ? ' gauge-done' : ''}`, dataset: { gauge: g.key } },
        h('div', { class: 'gauge-label' }, h('span', {}, g.label), h('span', { class: 'muted' }, g.text, g.done ? ' ✓' : '')),
        h('div', { class: 'gauge-track' }, h('div', { class: 'gauge-fill', style: { width: `${(100 * g.fraction).toFixed(1)}%` } }))))));
  }
  return out;
}

function fact(k, v) {
  return [h('dt', {}, k), h('dd', {}, v)];
}

function armsTable(v) {
  const e = v.evidence;
  const d = v.decision;
  const row = (label, f, cls) => h('tr', { class: cls }, h('th', {}, label), h('td', {}, f('candidate')), h('td', {}, f('control')));
  const rate = (arm) => {
    const r = v.figures.arms[arm];
    return [h('strong', {}, r.text), r.interval ? h('span', { class: 'ci' }, ` ${r.interval}`) : null];
  };
  return [
    h('table', { class: 'arms' },
      h('thead', {}, h('tr', {}, h('th', {}), h('th', { class: 'arm-candidate' }, `candidate ${v.candidate}`), h('th', { class: 'arm-control' }, `control ${v.stable}`))),
      h('tbody', {},
        row('failure rate (95%)', rate, 'rate-row'),
        row('runs, this stage', (a) => (LIVE.has(v.state) ? num(e.stage[a].runs) : '–')),
        row('runs, whole rollout', (a) => num(e.total[a].runs)),
        row('failures · errors', (a) => `${num(e.total[a].failures)} · ${num(e.total[a].errors)}`),
        row('distinct machines', (a) => num(e.total[a].machines)),
        row('machines with a failure', (a) => num(e.total[a].failingMachines)),
        d ? row('capped runs N · machines G', (a) => `${num(d[a].N)} · ${num(d[a].G)}`) : null)),
    h('p', { class: 'muted small' },
      `${num(e.counted)} reports counted; ${num(e.mismatched)} ran another version than their arm's. `,
      v.figures.arms.candidate.basis === 'decision'
        ? 'Rates and intervals are the controller’s (capped per machine and day, cluster-robust variance).'
        : 'Raw rates with Wilson intervals until the controller’s first evaluation.'),
  ];
}

function testsView(v) {
  const fresh = new Map(((v.decision && v.decision.newInCandidate) || []).map((t) => [t.id, t]));
  const list = (arm) => {
    const items = v.evidence.failingTests[arm];
    if (items.length === 0) return h('p', { class: 'muted small' }, 'none reported');
    const max = Math.max(...items.map((t) => t.machines));
    return h('ol', { class: 'tests' }, items.slice(0, 8).map((t) =>
      h('li', { class: fresh.has(t.id) && arm === 'candidate' ? 'test-new' : '', title: t.id },
        h('span', { class: 'test-bar', style: { width: `${(100 * t.machines) / max}%` } }),
        h('span', { class: 'test-count' }, String(t.machines)),
        h('span', { class: 'test-id' }, t.id),
        fresh.has(t.id) && arm === 'candidate' ? h('span', { class: 'badge verdict-rollback small' }, 'new in candidate') : null)));
  };
  return [
    h('h3', { class: 'arm-candidate' }, 'Candidate'), list('candidate'),
    h('h3', { class: 'arm-control' }, 'Control'), list('control'),
    h('p', { class: 'muted small' }, 'Counts are distinct machines reporting the test as failing.'),
  ];
}

/** The strongest segment evidence against the candidate (projects, Pythons, failing tests), as the server words it. */
function segmentsView(v) {
  const top = v.figures.segments.top;
  if (top.length === 0) {
    return h('p', { class: 'muted small' }, 'No project, Python or failing test is worse on the candidate so far.');
  }
  return [
    h('ol', { class: 'segments' }, top.map((l) =>
      h('li', { class: l.fired ? 'segment-fired' : l.suspect ? 'segment-suspect' : '', dataset: { family: l.family } },
        l.fired ? h('span', { class: 'badge verdict-rollback small' }, 'fired') : l.suspect ? h('span', { class: 'badge verdict-hold small' }, 'nearly') : null,
        ' ', l.sentence, h('span', { class: 'muted small' }, ` ${l.figure}`)))),
    h('p', { class: 'muted small' },
      'Each segment test compares where machines first fail (a test id, a project, a Python) with the candidate\'s share of machines; ',
      'a segment rolls back once its e-value reaches its level with at least three candidate machines.'),
  ];
}

const PROPOSAL_STATUS = {
  pending: 'being sent to Gerrit',
  sent: 'proposed in Gerrit',
  not_sent: 'not sent: Gerrit is not configured (the patch is kept below)',
  nothing_to_propose: 'nothing to propose',
  failed: 'failed',
};

/** The stable pinned for every machine after a rollback of a merged bump, until the base follows. */
function emergencyView(v) {
  const p = v.emergencyPin;
  if (!p || !p.inForce) return null;
  return h('p', { class: 'alarm emergency-pin' },
    `⚠ Emergency pin: every machine on ${p.branch} gets ${p.library} ${p.stable} until the base stops pinning ${p.candidate} (merge the revert). `,
    h('span', { class: 'muted' }, `Since ${clock(p.since)}: ${p.reason}`));
}

/** Which lines the rollout changes and for which Pythons (Requires-Python). */
function linesView(v) {
  const req = v.requiresPython ? `Requires-Python ${v.requiresPython}` : 'no Requires-Python declared';
  const src = v.requiresPythonSource === 'index' ? 'from the package index' : v.requiresPythonSource === 'request' ? 'given at start' : 'index off';
  const kept = v.keptPythons && v.keptPythons.length ? ` · Python ${v.keptPythons.join(', ')} keep ${v.stable}` : '';
  let lines = '';
  if (v.lines && v.lines.status === 'running') {
    lines = v.lines.controlLines > 0
      ? ` · the base already pins ${v.candidate}: control machines are served ${v.stable}`
      : ` · candidate machines get ${v.candidate} on ${v.lines.candidateLines} line${v.lines.candidateLines === 1 ? '' : 's'}`;
  } else if (v.lines && v.lines.status === 'diverged') lines = ` · the base pins neither ${v.stable} nor ${v.candidate}: nothing is overridden`;
  return h('div', { class: 'muted small python-support' }, `${req} (${src})${kept}${lines} · Pythons ${(v.pythons || []).join(', ')}`);
}

/** A Gerrit change a rollback (or promotion) proposed: status, link, subject, patch. */
function proposalView(p, v) {
  if (!p && v.source) return h('p', { class: 'muted' }, `No change of its own: its verdict is the vote on change #${v.source.change}.`);
  if (!p) return h('p', { class: 'muted' }, v.state === 'rolled_back' ? 'No change proposed (no Gerrit proposer is running, or it has not picked this up yet).' : 'No change proposed.');
  const link = (text) => h('a', { href: p.url, target: '_blank', rel: 'noopener noreferrer', class: 'gerrit-link' }, text);
  const closed = p.mergedAt ? `merged ${clock(p.mergedAt)}` : p.abandonedAt ? `abandoned ${clock(p.abandonedAt)}` : null;
  return [
    h('dl', { class: 'facts' },
      fact('kind', p.kind || 'rollback'),
      fact('status', h('span', { class: `proposal-${p.status}` }, PROPOSAL_STATUS[p.status] || p.status, closed ? ` · ${closed}` : '')),
      p.changeNumber !== undefined ? fact('change', p.url ? link(`#${p.changeNumber}`) : `#${p.changeNumber}`) : null,
      p.url ? fact('link', link(p.url)) : null,
      p.subject ? fact('subject', p.subject) : null,
      p.files && p.files.length ? fact('files', p.files.join(', ')) : null,
      p.reason ? fact('why', p.reason) : null,
      p.lastError ? fact('last error', h('span', { class: 'alarm' }, p.lastError)) : null,
      p.status === 'pending' && p.attempts ? fact('attempts', `${p.attempts}${p.nextAttemptAt ? `, next ${time(p.nextAttemptAt)}` : ''}`) : null),
    p.patch ? h('details', { class: 'patch' }, h('summary', {}, 'Patch'), h('pre', {}, p.patch)) : null,
  ];
}

function stageHistory(v) {
  return [h('h3', {}, 'Stage history'), h('ul', { class: 'history' }, v.history.map((e) =>
    h('li', {}, h('strong', {}, `${e.percent}%`), ` entered ${clock(e.at)}`)))];
}

function auditView(events) {
  if (events.length === 0) return h('p', { class: 'muted' }, 'No events.');
  const rows = [...events].reverse().slice(0, 60);
  return h('table', { class: 'audit' },
    h('thead', {}, h('tr', {}, h('th', {}, 'time'), h('th', {}, 'event'), h('th', {}, 'by'), h('th', {}, 'reason'))),
    h('tbody', {}, rows.map((e) =>
      h('tr', { class: `event-${e.type}${e.automatic ? ' event-auto' : ''}` },
        h('td', { class: 'nowrap', title: clock(e.at) }, time(e.at)),
        h('td', { class: 'nowrap' }, h('span', { class: `badge event-badge event-badge-${e.type}` }, e.type.replace('_', ' ')),
          e.fromStage !== e.toStage ? h('span', { class: 'muted small' }, ` stage ${e.fromStage + 1}→${e.toStage + 1}`) : null),
        h('td', { class: 'nowrap' }, e.automatic ? 'controller' : e.actor),
        h('td', {}, e.reason)))));
}
