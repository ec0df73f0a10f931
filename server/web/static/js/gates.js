import { h } from './dom.js';
import { clock } from './format.js';

/**
 * The rollout page's lines for a bump change's canary (its source change), the signoffs of
 * its stages and a freeze window (docs/release-managers.md, "Bump changes, signoffs, freezes").
 */
export function gatesView(v) {
  return [sourceView(v), signoffView(v), freezeView(v)];
}

const stageName = (v, i) => `stage ${i + 1} (${v.stages[i]}%)`;

/** "Canary of change #4711, patch set 2": a link to the change, its topic and subject. */
function sourceView(v) {
  const c = v.source;
  if (!c) return null;
  const bundle = c.bundle > 1 ? ` · one of the ${c.bundle} libraries it moves` : '';
  return h('p', { class: 'change-source small' },
    'Canary of change ', h('a', { href: c.url, target: '_blank', rel: 'noopener noreferrer', class: 'gerrit-link' }, `#${c.change}`),
    `, patch set ${c.patchSet} on ${c.branch}`, h('span', { class: 'muted' }, ` · topic ${c.topic || 'none'}${bundle} · ${c.subject}`));
}

/** What the current stage's signoff policy still needs, and every approval given. */
function signoffView(v) {
  const live = v.state === 'active' || v.state === 'paused';
  const s = v.signoff || { needed: 0, approvers: [] };
  const approvals = v.approvals || [];
  if (!(live && s.needed > 0) && approvals.length === 0) return null;
  const have = s.approvers.length;
  return h('div', { class: 'signoff small' },
    live && s.needed > 0
      ? h('p', { class: have >= s.needed ? 'signoff-met' : 'signoff-needed' },
        `${stageName(v, v.stageIndex)} needs ${s.needed} approval${s.needed === 1 ? '' : 's'} from distinct release managers before it advances: ${have} so far`,
        have ? ` (${s.approvers.join(', ')})` : '', have >= s.needed ? ' ✓' : '')
      : null,
    approvals.length
      ? h('ul', { class: 'approvals' }, approvals.map((a) => h('li', {},
        `✓ ${stageName(v, a.stageIndex)} approved by ${a.actor} `, h('span', { class: 'muted' }, `${clock(a.at)}: ${a.reason}`))))
      : null);
}

function freezeView(v) {
  if (!v.freeze) return null;
  return h('p', { class: 'freeze small' }, `❄ Freeze window: no automatic advance until ${clock(v.freeze.until)}: ${v.freeze.reason}`);
}
