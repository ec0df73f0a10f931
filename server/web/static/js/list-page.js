import { api } from './api.js';
import { h, fill } from './dom.js';
import { ago, LIVE, num, reasonOf, stageLabel } from './format.js';
import { stageBars } from './stages.js';
import { stateBadge, verdictBadge } from './badges.js';

/** `/`: every rollout, live ones first, with a progress bar per stage and why it stands there. */
export function listPage(root, { navigate }) {
  let showAll = localStorage.getItem('depcanary.showAll') !== '0';
  const body = h('div', { class: 'list-body' });
  const toggle = h('label', { class: 'toggle' },
    h('input', { type: 'checkbox', checked: showAll, onchange: (e) => {
      showAll = e.target.checked;
      localStorage.setItem('depcanary.showAll', showAll ? '1' : '0');
      if (last) render(last);
    } }),
    ' show ended rollouts');
  const counts = h('span', { class: 'muted' });
  fill(root, h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h1', {}, 'Rollouts'), counts, h('span', { class: 'spacer' }), toggle),
    body));
  let last = null;

  function render(rollouts) {
    last = rollouts;
    const rank = (v) => (v.state === 'active' ? 0 : v.state === 'paused' ? 1 : 2);
    const sorted = [...rollouts].sort((a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt);
    const shown = showAll ? sorted : sorted.filter((v) => LIVE.has(v.state));
    const live = rollouts.filter((v) => LIVE.has(v.state)).length;
    fill(counts, `${live} live, ${rollouts.length - live} ended`);
    if (shown.length === 0) {
      fill(body, h('p', { class: 'empty' }, 'No rollouts yet. Start one with ', h('code', {}, 'depcanary start LIBRARY VERSION'), '.'));
      return;
    }
    fill(body, h('table', { class: 'rollouts' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Library'), h('th', {}, 'State'), h('th', { class: 'col-stages' }, 'Stages'),
        h('th', {}, 'Candidate'), h('th', {}, 'Control'), h('th', { class: 'col-decision' }, 'Decision'))),
      h('tbody', {}, shown.map((v) => row(v)))));
  }

  function row(v) {
    const href = `/rollouts/${encodeURIComponent(v.id)}`;
    const open = (e) => {
      if (e.target.closest('a') || e.metaKey || e.ctrlKey) return;
      navigate(href);
    };
    return h('tr', { class: `rollout-row state-row-${v.state}`, dataset: { id: v.id }, onclick: open },
      h('td', {},
        h('a', { href, 'data-link': true, class: 'lib' }, v.library),
        h('span', { class: 'branch-tag', title: 'constraints branch' }, v.branch || 'master'),
        v.source ? h('span', { class: 'change-tag', title: v.source.subject }, `change ${v.source.change}/${v.source.patchSet}`) : null,
        h('div', { class: 'versions' }, v.stable, h('span', { class: 'arrow' }, ' → '), h('strong', {}, v.candidate)),
        v.emergencyPin && v.emergencyPin.inForce ? h('div', { class: 'alarm small emergency-pin' }, `emergency pin: everyone on ${v.stable}`) : null,
        h('div', { class: 'muted small' }, `started ${ago(v.createdAt)}`)),
      h('td', {}, stateBadge(v)),
      h('td', { class: 'col-stages' }, stageBars(v, { compact: true }), h('div', { class: 'muted small' }, stageLabel(v))),
      h('td', {}, armCell(v, 'candidate')),
      h('td', {}, armCell(v, 'control')),
      h('td', { class: 'col-decision' }, verdictBadge(v), h('div', { class: 'reason' }, reasonOf(v))));
  }

  return {
    async refresh() {
      const { rollouts } = await api('GET', '/v1/rollouts');
      render(rollouts);
      return { crumbs: [] };
    },
    destroy() {},
  };
}

function armCell(v, arm) {
  const r = v.figures.arms[arm];
  const c = v.evidence.total[arm];
  return h('div', { class: `arm arm-${arm}` },
    h('div', { class: 'rate' }, r.text, r.interval ? h('span', { class: 'ci' }, ` ${r.interval}`) : null),
    h('div', { class: 'muted small' }, `${num(c.runs)} runs · ${num(c.machines)} machines`));
}
