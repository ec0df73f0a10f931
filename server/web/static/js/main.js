import { api } from './api.js';
import { h, fill } from './dom.js';
import { time } from './format.js';
import { listPage } from './list-page.js';
import { rolloutPage } from './rollout-page.js';
import { clearToken, getToken, setToken } from './token.js';

/**
 * The dashboard shell: client-side routes (`/` and `/rollouts/:id`), the token form, and a
 * poll every 2 s (EventSource cannot send a bearer header) that pauses while the tab is hidden.
 */
const POLL_MS = 2000;
const app = document.getElementById('app');
const status = document.getElementById('status');
const banner = document.getElementById('banner');
const crumbs = document.getElementById('crumbs');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenClear = document.getElementById('token-clear');
let page = null;
let busy = false;
/** Whether the server answers viewer routes without a token (DEPCANARY_PUBLIC_READ); null until asked. */
let publicRead = null;

async function askPublicRead() {
  try {
    publicRead = Boolean((await api('GET', '/dashboard/settings.json')).publicRead);
  } catch {
    publicRead = false;
  }
}

function navigate(href) {
  history.pushState(null, '', href);
  route();
}

function route() {
  if (page) page.destroy();
  page = null;
  syncTokenForm();
  if (!getToken() && publicRead === null) {
    void askPublicRead().then(route);
    return;
  }
  if (!getToken() && !publicRead) {
    fill(crumbs);
    fill(app, h('section', { class: 'card signin' },
      h('h1', {}, 'Sign in with an API token'),
      h('p', {}, 'Paste a token in the box at the top right. A ', h('strong', {}, 'viewer'), ' token shows rollouts; promoting, pausing, resuming and rolling back need a ',
        h('strong', {}, 'release-manager'), ' token.'),
      h('p', { class: 'muted' }, 'The token stays in this tab’s session storage and is sent as a bearer header; closing the tab forgets it.')));
    tokenInput.focus();
    return;
  }
  const m = /^\/rollouts\/([^/]+)\/?$/.exec(location.pathname);
  page = m ? rolloutPage(app, decodeURIComponent(m[1]), { refreshNow }) : listPage(app, { navigate });
  void refreshNow();
}

async function refreshNow() {
  if (!page || busy) return;
  busy = true;
  const current = page;
  try {
    const info = await current.refresh();
    if (current !== page) return;
    showBanner(null);
    fill(status, h('span', { class: 'dot dot-ok' }), `live · updated ${time(Date.now())}`);
    fill(crumbs, (info.crumbs || []).length ? [h('a', { href: '/', 'data-link': true }, 'Rollouts'), ' / ', info.crumbs.join(' ')] : null);
    document.title = info.title ? `${info.title} — depcanary` : 'depcanary — rollouts';
  } catch (e) {
    fill(status, h('span', { class: 'dot dot-bad' }), `not updated · ${time(Date.now())}`);
    if (e.status === 401) showBanner(`The server refused the token (${e.message}). Enter another token at the top right.`);
    else if (e.status === 403) showBanner(`Forbidden: ${e.message}.`);
    else if (e.status === 404) showBanner(`Not found: ${e.message}.`, true);
    else showBanner(`Could not load (${e.status || 'no answer'}): ${e.message}. Retrying every ${POLL_MS / 1000} s.`);
  } finally {
    busy = false;
  }
}

function showBanner(text, withHome = false) {
  banner.hidden = !text;
  fill(banner, text || '', withHome ? [' ', h('a', { href: '/', 'data-link': true }, 'All rollouts')] : null);
}

function syncTokenForm() {
  const has = Boolean(getToken());
  tokenClear.hidden = !has;
  tokenInput.value = '';
  tokenInput.placeholder = has ? `token …${getToken().slice(-4)} in use` : publicRead ? 'read-only · API token to act' : 'API token';
}

tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!tokenInput.value.trim()) return;
  setToken(tokenInput.value);
  showBanner(null);
  route();
});
tokenClear.addEventListener('click', () => {
  clearToken();
  route();
});
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[data-link]');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);
setInterval(() => {
  if (!document.hidden) void refreshNow();
}, POLL_MS);
route();
