import { h } from './dom.js';

export function stateBadge(v) {
  const text = v.state.replace('_', ' ') + (v.frozen ? ' · frozen' : '');
  return h('span', { class: `badge state-${v.state}` }, text);
}

export function verdictBadge(v) {
  if (v.state !== 'active' && v.state !== 'paused') return h('span', { class: 'badge verdict-none' }, 'ended');
  const d = v.decision;
  if (!d) return h('span', { class: 'badge verdict-none' }, 'no decision yet');
  return h('span', { class: `badge verdict-${d.verdict}`, title: d.rule }, d.verdict, d.alert ? ' ⚠' : '');
}
