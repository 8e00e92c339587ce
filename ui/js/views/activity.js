// What moved just now: inbound messages and deliveries, newest first, live.
import { api, qs, stream } from '../api.js';
import { badge, clear, field, fmtTime, h, message, select, table } from '../dom.js';

const ENTITIES = ['customer', 'product', 'order', 'inventory_level', 'invoice', 'shipment'];
const STATUSES = ['received', 'processed', 'failed', 'pending', 'leased', 'retrying', 'done', 'dead', 'superseded'];

function row(e, fresh = false) {
  const what =
    e.kind === 'inbound'
      ? [`${e.system} → hub `, h('span', { class: 'mono' }, e.topic)]
      : [
          `hub → ${e.system} `,
          h('a', { href: `#/flows?flow=${encodeURIComponent(e.flow)}` }, e.flow),
          ' ',
          h('a', { href: `#/records?entity=${e.entity}&id=${encodeURIComponent(e.record_id)}`, class: 'mono' }, `${e.entity} ${e.record_id} v${e.version}`),
        ];
  return h(
    'tr',
    { class: fresh ? 'fresh' : null, 'data-ref': e.ref },
    h('td', null, fmtTime(e.at)),
    h('td', null, e.kind),
    h('td', null, what),
    h('td', null, badge(e.status), e.attempts ? h('span', { class: 'muted' }, ` attempt ${e.attempts}`) : null),
    h('td', null, e.error ? h('span', { class: 'muted' }, e.error) : ''),
    h('td', null, h('a', { href: `#/records?trace=${e.trace_id}`, class: 'mono', 'aria-label': `trace ${e.trace_id}` }, e.trace_id.slice(-8))),
  );
}

export async function render(root, { params, navigate }) {
  const filter = Object.fromEntries(['kind', 'system', 'entity', 'flow', 'status'].map((k) => [k, params.get(k) ?? '']));
  const [{ systems }, { flows }] = await Promise.all([api('/v1/stats/systems'), api('/v1/stats/flows')]);

  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter activity' },
    field('Kind', select('kind', [['', 'all'], ['inbound', 'inbound'], ['delivery', 'deliveries']], filter.kind)),
    field('System', select('system', [['', 'all'], ...systems.map((s) => [s.name, s.name])], filter.system)),
    field('Entity', select('entity', [['', 'all'], ...ENTITIES.map((e) => [e, e])], filter.entity)),
    field('Flow', select('flow', [['', 'all'], ...flows.map((f) => [f.name, f.name])], filter.flow)),
    field('Status', select('status', [['', 'all'], ...STATUSES.map((s) => [s, s])], filter.status)),
  );
  const live = h('input', { type: 'checkbox', checked: true, id: 'live' });
  const liveState = h('span', { class: 'muted', role: 'status' }, 'connecting…');
  const body = h('tbody');
  const more = h('button', { type: 'button' }, 'Older');
  root.append(
    h('h1', { id: 'view-title' }, 'Activity'),
    form,
    h('div', { class: 'toolbar' }, h('label', null, live, ' Live'), liveState),
    h('table', null, h('thead', null, h('tr', null, ['Time', 'Kind', 'What', 'Status', 'Error', 'Trace'].map((x) => h('th', { scope: 'col' }, x)))), body),
    h('p', null, more),
  );

  let cursor = null;
  async function load(reset) {
    if (reset) {
      cursor = null;
      clear(body);
    }
    const page = await api(`/v1/activity${qs({ ...filter, limit: 50, cursor })}`);
    body.append(...page.events.map((e) => row(e)));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!body.firstChild) body.append(h('tr', null, h('td', { colspan: 6 }, 'Nothing moved that matches.')));
  }
  more.addEventListener('click', () => load(false));

  let stop = null;
  function connect() {
    if (stop) stop();
    stop = null;
    if (!live.checked) {
      liveState.textContent = 'paused';
      return;
    }
    stop = stream(
      `/v1/activity/stream${qs(filter)}`,
      (name, events) => {
        if (name !== 'activity') return;
        for (const e of events) {
          body.querySelector(`tr[data-ref="${e.ref}"]`)?.remove();
          body.prepend(row(e, true));
        }
        while (body.children.length > 300) body.lastChild.remove();
      },
      (state) => (liveState.textContent = state === 'live' ? 'live: new activity appears at the top' : 'reconnecting…'),
    );
  }
  live.addEventListener('change', connect);
  form.addEventListener('change', async () => {
    for (const k of Object.keys(filter)) filter[k] = form.elements[k].value;
    navigate('activity', filter, { replace: true });
    await load(true).catch((e) => root.append(message(e.message, 'error')));
    connect();
  });
  await load(true);
  connect();
  return () => stop?.();
}
