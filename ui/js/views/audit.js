// The audit log (admins): who did what, when — newest first, filterable, paged.
import { api, qs } from '../api.js';
import { clear, field, fmtTime, h, message, table } from '../dom.js';

const show = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export async function render(root, { params, navigate }) {
  const actor = h('input', { name: 'actor', value: params.get('actor') ?? '' });
  const action = h('input', { name: 'action', value: params.get('action') ?? '' });
  const out = h('div');
  const more = h('button', { type: 'button', hidden: true }, 'Older');
  const form = h('form', { class: 'filters', 'aria-label': 'Filter the audit log' }, field('Actor', actor), field('Action', action), h('button', { type: 'submit' }, 'Apply'));
  root.append(h('h1', { id: 'view-title' }, 'Audit log'), form, out, h('p', null, more));
  let next = null;
  let columns = null;
  let body = null;

  async function load(reset) {
    if (reset) {
      next = null;
      columns = null;
      clear(out);
    }
    const page = await api(`/v1/audit${qs({ actor: actor.value, action: action.value, limit: 50, ...(next ?? {}) })}`);
    const rows = page.entries ?? page.events ?? page.audit ?? page.rows ?? (Array.isArray(page) ? page : []);
    if (!columns) {
      const preferred = ['at', 'actor', 'action', 'target', 'detail', 'ip'];
      columns = rows[0] ? preferred.filter((c) => c in rows[0]) : preferred;
      body = h('tbody');
      out.append(table(columns, [], { 'data-testid': 'audit' }));
      out.querySelector('table').replaceChild(body, out.querySelector('tbody'));
    }
    body.append(...rows.map((r) => h('tr', null, columns.map((c) => h('td', { class: c === 'detail' ? 'mono' : c === 'at' ? 'time' : null }, /(^|_)at$/.test(c) ? fmtTime(r[c]) : show(r[c]))))));
    if (!rows.length && reset) out.append(message('No audit entries match.'));
    // Whichever pagination the API offers: a cursor or an id to go below.
    next = page.next_cursor ? { cursor: page.next_cursor } : page.next_before_id ? { before_id: page.next_before_id } : null;
    more.hidden = !next;
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    navigate('audit', { actor: actor.value, action: action.value }, { replace: true });
    await load(true).catch((e) => clear(out).append(message(e.message, 'error')));
  });
  more.addEventListener('click', () => load(false));
  await load(true).catch((e) => clear(out).append(message(e.message, 'error')));
}
