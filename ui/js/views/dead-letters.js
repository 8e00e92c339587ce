// Dead letters: filter, read every attempt, replay one or many and watch them turn green.
import { api, qs } from '../api.js';
import { badge, clear, field, fmtMs, fmtTime, h, message, select, table } from '../dom.js';

function detail(d) {
  return h(
    'div',
    { class: 'card', 'data-testid': 'dead-letter-detail' },
    h('h2', null, `Delivery ${d.id}: ${d.flow} → ${d.system}`),
    h('p', null, badge(d.status), ` ${d.entity} `, h('a', { href: `#/records?entity=${d.entity}&id=${encodeURIComponent(d.record_id)}`, class: 'mono' }, d.record_id), ` v${d.version} · key `, h('span', { class: 'mono' }, d.idempotency_key), ' · ', h('a', { href: `#/records?trace=${d.trace_id}` }, 'trace')),
    d.last_error ? message(d.last_error, 'error') : null,
    ...d.attempts.map((a) =>
      h(
        'details',
        { open: a.attempt === d.attempts.length },
        h('summary', null, `Attempt ${a.attempt} · ${fmtTime(a.started_at)} · ${a.outcome}${a.status ? ` · HTTP ${a.status}` : ''} · ${fmtMs(a.duration_ms)}`),
        a.error ? h('p', null, h('strong', null, 'Error: '), a.error) : null,
        h('div', { class: 'grid2' }, h('div', null, h('h3', null, 'Request'), h('pre', null, a.request ?? '—')), h('div', null, h('h3', null, 'Response'), h('pre', null, a.response ?? '—'))),
      ),
    ),
  );
}

export async function render(root, { params, me, navigate }) {
  const filter = Object.fromEntries(['system', 'flow', 'error', 'since'].map((k) => [k, params.get(k) ?? '']));
  const [{ systems }, { flows }] = await Promise.all([api('/v1/stats/systems'), api('/v1/stats/flows')]);
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter dead letters' },
    field('System', select('system', [['', 'all'], ...systems.map((s) => [s.name, s.name])], filter.system)),
    field('Flow', select('flow', [['', 'all'], ...flows.map((f) => [f.name, f.name])], filter.flow)),
    field('Error contains', h('input', { name: 'error', value: filter.error })),
    field('Since', select('since', [['', 'any time'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days']], filter.since)),
    h('button', { type: 'submit' }, 'Apply'),
  );
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const detailBox = h('div');
  const replaySelected = h('button', { type: 'button', class: 'primary', disabled: true }, 'Replay selected');
  const replayAll = h('button', { type: 'button' }, 'Replay all matching');
  root.append(
    h('h1', { id: 'view-title' }, 'Dead letters'),
    form,
    me.canReplay ? h('div', { class: 'toolbar' }, replaySelected, replayAll) : null,
    status,
    h('table', { 'data-testid': 'dead-letters' }, h('thead', null, h('tr', null, [me.canReplay ? 'Select' : null, 'Id', 'Dead since', 'Flow → system', 'Record', 'Attempts', 'Last error', 'State', ''].filter((x) => x !== null).map((x) => h('th', { scope: 'col' }, x)))), body),
    h('p', null, more),
    detailBox,
  );

  const watching = new Map();
  const sinceIso = () => {
    const m = /^(\d+)([hd])$/.exec(filter.since);
    return m ? new Date(Date.now() - Number(m[1]) * (m[2] === 'h' ? 3600_000 : 86_400_000)).toISOString() : undefined;
  };
  const query = () => ({ system: filter.system, flow: filter.flow, error: filter.error, since: sinceIso() });

  function setState(tr, state) {
    tr.dataset.state = state;
    clear(tr.querySelector('.state')).append(badge(state));
    if (state === 'done') {
      // Went through: nothing left to select or replay here.
      tr.querySelector('.last-error').textContent = 'delivered after the replay';
      const box = tr.querySelector('input[type=checkbox]');
      if (box) box.disabled = true;
    }
  }

  function row(d) {
    const box = h('input', { type: 'checkbox', 'aria-label': `select dead letter ${d.id}`, value: d.id });
    box.addEventListener('change', () => (replaySelected.disabled = !body.querySelector('input:checked')));
    const tr = h(
      'tr',
      { 'data-id': d.id, 'data-state': d.status },
      me.canReplay ? h('td', null, box) : null,
      h('td', { class: 'mono' }, d.id),
      h('td', null, fmtTime(d.updated_at)),
      h('td', null, `${d.flow} → ${d.system}`),
      h('td', null, h('a', { href: `#/records?entity=${d.entity}&id=${encodeURIComponent(d.record_id)}`, class: 'mono' }, `${d.entity} ${d.record_id} v${d.version}`)),
      h('td', { class: 'num' }, d.attempts),
      h('td', { class: 'last-error' }, d.last_error ?? ''),
      h('td', { class: 'state' }, badge(d.status)),
      h(
        'td',
        null,
        h('button', { type: 'button', onclick: async () => clear(detailBox).append(detail(await api(`/v1/deliveries/${d.id}`))) }, 'Details'),
        me.canReplay ? [' ', h('button', { type: 'button', class: 'replay', onclick: () => replay([d.id]) }, 'Replay')] : null,
      ),
    );
    return tr;
  }

  let beforeId = null;
  async function load(reset) {
    if (reset) {
      beforeId = null;
      clear(body);
    }
    const page = await api(`/v1/deliveries${qs({ status: 'dead', ...query(), limit: 50, before_id: beforeId })}`);
    body.append(...page.deliveries.map(row));
    beforeId = page.next_before_id;
    more.hidden = !beforeId;
    if (!body.firstChild) body.append(h('tr', null, h('td', { colspan: 9 }, 'No dead letters match.')));
  }

  /** Polls replayed deliveries until each is done (green) or dead again. */
  async function watch() {
    for (const [id, tr] of watching) {
      const d = await api(`/v1/deliveries/${id}`).catch(() => null);
      if (!d) continue;
      setState(tr, d.status);
      if (d.status === 'done' || d.status === 'dead') watching.delete(id);
    }
    const done = body.querySelectorAll('tr[data-state="done"]').length;
    if (done) status.textContent = `${done} replayed delivery(ies) went through.`;
  }
  const timer = setInterval(() => void watch(), 1000);

  async function replay(ids) {
    for (const id of ids) {
      await api(`/v1/deliveries/${id}/replay`, { method: 'POST' });
      const tr = body.querySelector(`tr[data-id="${id}"]`);
      if (tr) {
        setState(tr, 'pending');
        tr.querySelector('button.replay')?.setAttribute('disabled', '');
        const box = tr.querySelector('input[type=checkbox]');
        if (box) box.checked = false;
        watching.set(String(id), tr);
      }
    }
    replaySelected.disabled = true;
    status.textContent = `${ids.length} queued again; watching them…`;
  }
  replaySelected.addEventListener('click', () => replay([...body.querySelectorAll('input:checked')].map((b) => b.value)));
  replayAll.addEventListener('click', async () => {
    if (!confirm('Queue again every dead letter that matches these filters (not only the ones shown)?')) return;
    const body = Object.fromEntries(Object.entries(query()).filter(([, v]) => v));
    const r = await api('/v1/dead-letters/replay', { method: 'POST', body });
    status.textContent = `${r.replayed} dead letter(s) queued again.`;
    for (const id of r.ids) {
      const tr = root.querySelector(`tr[data-id="${id}"]`);
      if (tr) {
        setState(tr, 'pending');
        watching.set(String(id), tr);
      }
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const k of Object.keys(filter)) filter[k] = form.elements[k].value;
    navigate('dead-letters', filter, { replace: true });
    await load(true).catch((e) => status.replaceChildren(message(e.message, 'error')));
  });
  more.addEventListener('click', () => load(false));
  await load(true);
  return () => clearInterval(timer);
}
