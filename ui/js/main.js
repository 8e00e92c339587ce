// The dashboard shell: sign-in, navigation, and one view at a time (hash routes, so the hub serves one page).
import { api, ApiError, session, whenUnauthorized } from './api.js';
import { clear, field, h, message } from './dom.js';

const VIEWS = [
  { path: 'map', title: 'System map', load: () => import('./views/map.js') },
  { path: 'activity', title: 'Activity', load: () => import('./views/activity.js') },
  { path: 'records', title: 'Did this sync?', load: () => import('./views/record.js') },
  { path: 'dead-letters', title: 'Dead letters', load: () => import('./views/dead-letters.js') },
  { path: 'flows', title: 'Flows', load: () => import('./views/flows.js') },
  { path: 'reports', title: 'Reports', load: () => import('./views/reports.js') },
  { path: 'audit', title: 'Audit log', load: () => import('./views/audit.js'), admin: true },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let cleanup = null;

/** What the signed-in person may do, from their role (and its permissions when the hub lists them). */
function abilities(me) {
  const perms = Array.isArray(me.permissions) ? me.permissions : null;
  const role = me.role ?? 'admin';
  const has = (p) => (perms ? perms.includes(p) || perms.includes('*') : null);
  return {
    ...me,
    role,
    canReplay: has('deliveries.replay') ?? (role === 'admin' || role === 'operator'),
    isAdmin: has('audit.read') ?? role === 'admin',
  };
}

async function identify(token) {
  try {
    return await api('/v1/me', { token });
  } catch (e) {
    // A hub without roles: any token it accepts is its admin token.
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      await api('/v1/stats/systems', { token });
      return { name: 'admin token', role: 'admin', permissions: null };
    }
    throw e;
  }
}

function signIn(problem) {
  nav.hidden = true;
  clear(who);
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const form = h(
    'form',
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const button = form.querySelector('button');
        button.disabled = true;
        try {
          const me = await identify(token.value.trim());
          session.set({ token: token.value.trim(), me });
          start();
        } catch (e) {
          button.disabled = false;
          form.querySelector('.message')?.remove();
          form.append(message(e instanceof ApiError && e.status === 401 ? 'The hub does not accept this token.' : `Could not sign in: ${e.message}`, 'error'));
          token.focus();
        }
      },
    },
    field('API token', token),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    problem ? message(problem, 'error') : null,
  );
  clear(main).append(h('section', { class: 'signin card' }, h('h1', null, 'Sign in to Causeway'), h('p', { class: 'muted' }, 'Use a token an administrator gave you (causeway tokens create).'), form));
  token.focus();
}

function renderChrome(me) {
  clear(nav).append(
    ...VIEWS.filter((v) => !v.admin || me.isAdmin).map((v) => h('a', { href: `#/${v.path}`, 'data-view': v.path }, v.title)),
  );
  nav.hidden = false;
  clear(who).append(
    h('span', null, me.name ?? 'signed in', ' · ', h('strong', { 'data-role': me.role }, me.role)),
    h('button', { type: 'button', onclick: () => { session.clear(); location.hash = ''; signIn(); } }, 'Sign out'),
  );
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  return { path: path || 'map', params: new URLSearchParams(query ?? '') };
}

async function route() {
  const s = session.get();
  if (!s) return signIn();
  const me = abilities(s.me);
  const { path, params } = parseHash();
  const view = VIEWS.find((v) => v.path === path.split('/')[0] && (!v.admin || me.isAdmin)) ?? VIEWS[0];
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.view === view.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (cleanup) cleanup();
  cleanup = null;
  clear(main);
  document.title = `${view.title} · Causeway`;
  try {
    const mod = await view.load();
    const root = h('section', { 'aria-labelledby': 'view-title' });
    main.append(root);
    cleanup = (await mod.render(root, { me, params, path, navigate })) ?? null;
  } catch (e) {
    main.append(message(`This view failed: ${e.message}`, 'error'));
  }
}

/** Changes the view's query without a history entry per keystroke. */
function navigate(path, params, { replace = false } = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  const hash = `#/${path}${q ? `?${q}` : ''}`;
  if (replace) history.replaceState(null, '', hash);
  else location.hash = hash;
}

function start() {
  const s = session.get();
  if (!s) return signIn();
  renderChrome(abilities(s.me));
  route();
}

whenUnauthorized(() => {
  session.clear();
  signIn('Your session ended: the hub no longer accepts the token.');
});
window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});
start();
