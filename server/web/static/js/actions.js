import { api, rolloutPath } from './api.js';
import { h, fill } from './dom.js';

const ACTIONS = [
  { name: 'promote', label: 'Promote', cls: 'primary', when: ['active', 'paused'], reason: 'promoted from the dashboard',
    help: 'Advance to the next stage now; the last step makes the candidate the base pin.' },
  { name: 'pause', label: 'Pause', cls: '', when: ['active'], reason: 'paused from the dashboard',
    help: 'Stop automatic advances. Automatic rollback stays armed.' },
  { name: 'resume', label: 'Resume', cls: '', when: ['paused'], reason: 'resumed from the dashboard',
    help: 'Let the controller advance again.' },
  { name: 'approve', label: 'Approve stage', cls: '', when: ['active', 'paused'], reason: '', visible: (v) => v.signoff && v.signoff.needed > 0,
    help: 'Sign off this stage: the signoff policy needs approvals from distinct release managers before it advances.' },
  { name: 'rollback', label: 'Roll back', cls: 'danger', when: ['active', 'paused'], reason: '',
    help: 'End the rollout: every machine goes back to the stable version (a Gerrit change is proposed when configured).' },
];

/**
 * Promote / pause / resume / roll back, each confirmed with a reason (kept in the audit
 * trail) and sent with the revision shown, so a change made meanwhile is a clear 409.
 */
export function actionBar(container, { onDone }) {
  let view = null;
  let open = null;
  const buttons = new Map();
  const form = h('form', { class: 'action-form', hidden: true, onsubmit: (e) => { e.preventDefault(); void submit(); } });
  const reason = h('input', { type: 'text', name: 'reason', maxlength: '1000', required: true, placeholder: 'Reason (kept in the audit trail)' });
  const confirm = h('button', { type: 'submit', class: 'primary' }, 'Confirm');
  const help = h('p', { class: 'muted small' });
  const message = h('p', { class: 'action-message', role: 'status' });
  fill(form, h('div', { class: 'action-row' }, reason, confirm, h('button', { type: 'button', class: 'quiet', onclick: close }, 'Cancel')), help);

  const row = h('div', { class: 'actions' }, ACTIONS.map((a) => {
    const b = h('button', { type: 'button', class: a.cls, dataset: { action: a.name }, title: a.help, onclick: () => openForm(a) }, a.label);
    buttons.set(a.name, b);
    return b;
  }));
  fill(container, row, form, message);

  function openForm(a) {
    open = a;
    form.hidden = false;
    reason.value = a.reason;
    confirm.textContent = `Confirm ${a.label.toLowerCase()}`;
    confirm.className = a.cls || 'primary';
    fill(help, a.help);
    fill(message);
    reason.focus();
    reason.select();
  }

  function close() {
    open = null;
    form.hidden = true;
  }

  async function submit() {
    if (!open || !view) return;
    const a = open;
    confirm.disabled = true;
    try {
      const next = await api('POST', `${rolloutPath(view.id)}/${a.name}`, { reason: reason.value.trim(), revision: view.revision });
      close();
      message.className = 'action-message ok';
      fill(message, `${a.label}: done (revision ${next.revision}).`);
      onDone(next);
    } catch (e) {
      message.className = 'action-message error';
      const hint = e.status === 401 ? ' Enter a valid token at the top right.' : e.status === 409 ? ' The page has been refreshed; check and retry.' : '';
      fill(message, `${a.label} failed (${e.status || 'no answer'}): ${e.message}.${hint}`);
      if (e.status === 409) onDone(null);
    } finally {
      confirm.disabled = false;
    }
  }

  return {
    update(v) {
      view = v;
      for (const a of ACTIONS) {
        buttons.get(a.name).disabled = !a.when.includes(v.state);
        buttons.get(a.name).hidden = a.visible ? !a.visible(v) : false;
      }
      if (open && !open.when.includes(v.state)) close();
    },
  };
}
