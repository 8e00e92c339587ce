// "Did this sync?": find a record by any id, and see it in every system, its history and its trace.
import { api, qs, stream } from '../api.js';
import { badge, clear, field, fmtTime, h, message, table } from '../dom.js';

const short = (v) => (v === null || v === undefined ? '∅' : typeof v === 'string' ? v : JSON.stringify(v));

function syncDetail(e) {
  switch (e.state) {
    case 'in_sync':
      return `in sync at version ${e.version}${e.at ? ` since ${fmtTime(e.at)}` : ''}`;
    case 'pending':
      return `pending: version ${e.version} is queued${e.attempt ? ` (attempt ${e.attempt})` : ''}`;
    case 'retrying':
      return `retrying version ${e.version}: attempt ${e.attempt}, next try ${fmtTime(e.next_at)}${e.error ? ` — last error: ${e.error}` : ''}`;
    case 'dead':
      return `dead at version ${e.version} after ${e.attempt} attempt(s): ${e.error ?? 'no error recorded'}`;
    case 'refused':
      return `refused: ${e.error}`;
    case 'source':
      return 'the record came from this system';
    default:
      return 'no flow sends this record here';
  }
}

function syncTable(ledger, me, onReplay) {
  return table(
    ['System', 'State', 'Detail', 'Their id', ''],
    ledger.systems.map((e) => {
      const dead = e.flows.filter((f) => f.state === 'dead' && f.delivery_id);
      return h(
        'tr',
        { 'data-system': e.system, 'data-state': e.state },
        h('th', { scope: 'row' }, e.system),
        h('td', null, badge(e.state)),
        h('td', null, syncDetail(e), e.flows.length > 1 ? h('div', { class: 'muted' }, e.flows.map((f) => `${f.flow}: ${f.state.replace('_', ' ')}${f.version ? ` v${f.version}` : ''}`).join(' · ')) : null),
        h('td', { class: 'mono' }, e.external_id ?? '—'),
        h('td', null, me.canReplay ? dead.map((f) => h('button', { type: 'button', onclick: () => onReplay(f.delivery_id) }, `Replay ${f.flow}`)) : null),
      );
    }),
    { 'data-testid': 'sync' },
  );
}

function historyList(history) {
  return h(
    'ol',
    { class: 'timeline', reversed: true },
    history.versions.map((v) =>
      h(
        'li',
        null,
        h('strong', null, `v${v.version} ${v.kind}`),
        ` by ${v.system}, ${fmtTime(v.at)} `,
        h('a', { href: `#/records?trace=${v.trace_id}`, class: 'mono' }, `trace ${v.trace_id.slice(-8)}`),
        v.changes.length === 0
          ? h('div', { class: 'muted' }, 'no field changed')
          : h('table', { class: 'diff' }, h('tbody', null, v.changes.slice(0, 60).map((c) => h('tr', null, h('td', { class: 'mono' }, c.path), h('td', null, h('del', null, short(c.before))), h('td', null, h('ins', null, short(c.after))))))),
      ),
    ),
  );
}

async function traceTimeline(traceId) {
  const t = await api(`/v1/trace/${traceId}`);
  const tone = (ev) => (/dead|failed|refused/.test(ev) ? 'bad' : /delivered|normalized|created|updated/.test(ev) ? 'good' : '');
  return h(
    'div',
    { 'data-testid': 'trace' },
    h('p', { class: 'muted' }, `Trace ${t.trace_id}: ${t.inbox.length} message(s), ${t.changes.length} change(s), ${t.deliveries.length} deliveries`),
    h('ol', { class: 'timeline' }, t.timeline.map((e) => h('li', { class: tone(e.event) }, h('span', { class: 'mono' }, fmtTime(e.at)), ' ', h('strong', null, e.event.replace(/_/g, ' ')), ' — ', e.detail))),
  );
}

async function showRecord(out, entity, id, me) {
  const [record, history] = await Promise.all([api(`/v1/records/${entity}/${encodeURIComponent(id)}`), api(`/v1/records/${entity}/${encodeURIComponent(id)}/history?limit=10`)]);
  const title = record.data?.number ? `${entity} ${record.data.number}` : `${entity} ${record.id}`;
  const syncBox = h('div', { 'aria-live': 'polite' });
  const traceBox = h('div');
  const historyBox = h('div', null, historyList(history));
  let nextVersion = history.next_before_version;
  const older = h('button', { type: 'button', hidden: !nextVersion }, 'Older versions');
  older.addEventListener('click', async () => {
    const page = await api(`/v1/records/${entity}/${encodeURIComponent(id)}/history${qs({ limit: 10, before_version: nextVersion })}`);
    historyBox.append(historyList(page));
    nextVersion = page.next_before_version;
    older.hidden = !nextVersion;
  });
  const traces = [...new Map(history.versions.map((v) => [v.trace_id, v])).values()];
  const traceSelect = h('select', { name: 'trace' }, traces.map((v) => h('option', { value: v.trace_id }, `v${v.version} ${v.kind} by ${v.system} (${v.trace_id.slice(-8)})`)));
  traceSelect.addEventListener('change', async () => clear(traceBox).append(await traceTimeline(traceSelect.value)));

  let stop = null;
  let unsubscribe = () => {};
  async function refreshSync() {
    const ledger = await api(`/v1/records/${entity}/${encodeURIComponent(id)}/sync`);
    if (ledger.version !== record.version) {
      // A new version arrived while we watched: show it whole (data, history, trace), watched by the new view.
      unsubscribe();
      stop?.();
      stop = await showRecord(out, entity, id, me);
      return;
    }
    clear(syncBox).append(
      h('p', null, `Version ${ledger.version}, updated ${fmtTime(ledger.updated_at)}.`),
      syncTable(ledger, me, async (deliveryId) => {
        await api(`/v1/deliveries/${deliveryId}/replay`, { method: 'POST' });
        await refreshSync();
      }),
    );
  }
  clear(out).append(
    h('h2', { 'data-testid': 'record-title' }, title, ' ', h('span', { class: 'muted mono' }, record.id)),
    h('div', { class: 'card' }, h('h2', null, 'In every system'), syncBox),
    h(
      'div',
      { class: 'grid2' },
      h('div', { class: 'card' }, h('h2', null, 'Canonical data'), h('pre', { 'data-testid': 'canonical' }, JSON.stringify(record.data, null, 2)),
        h('h2', null, 'Known as'), table(['System', 'Their id'], (record.xrefs ?? []).map((x) => h('tr', null, h('td', null, x.system), h('td', { class: 'mono' }, x.external_id))))),
      h('div', { class: 'card' }, h('h2', null, 'History'), historyBox, older),
    ),
    h('div', { class: 'card' }, h('h2', null, 'Trace'), traces.length ? field('Change', traceSelect) : null, traceBox),
  );
  await refreshSync();
  if (traces[0]) traceBox.append(await traceTimeline(traces[0].trace_id));
  // The sync state changes when one of the record's deliveries moves: the server pushes those, nothing polls.
  let pending = null;
  unsubscribe = stream(`/v1/activity/stream${qs({ record_id: record.id })}`, () => {
    clearTimeout(pending);
    pending = setTimeout(() => refreshSync().catch(() => undefined), 200);
  });
  return () => {
    clearTimeout(pending);
    unsubscribe();
    stop?.();
  };
}

export async function render(root, { params, me, navigate }) {
  const input = h('input', { type: 'search', name: 'q', value: params.get('q') ?? '', placeholder: 'ord_01… · 1001 · #1001 · SO-1001', size: 36 });
  const out = h('div');
  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      onsubmit: (ev) => {
        ev.preventDefault();
        navigate('records', { q: input.value.trim() });
      },
    },
    field('Canonical id, or any system’s own id or number', input),
    h('button', { type: 'submit', class: 'primary' }, 'Find'),
  );
  root.append(h('h1', { id: 'view-title' }, 'Did this sync?'), form, out);

  try {
    if (params.get('entity') && params.get('id')) return await showRecord(out, params.get('entity'), params.get('id'), me);
    if (params.get('trace')) {
      out.append(h('h2', null, 'Trace'), await traceTimeline(params.get('trace')));
      return;
    }
    const q = params.get('q');
    if (!q) {
      input.focus();
      return;
    }
    const { matches } = await api(`/v1/lookup${qs({ q })}`);
    const unique = [...new Map(matches.map((m) => [m.record_id, m])).values()];
    if (unique.length === 1) return await showRecord(out, unique[0].entity, unique[0].record_id, me);
    if (unique.length === 0) {
      out.append(message(`No record is known by “${q}”.`));
      return;
    }
    out.append(
      h('p', null, `${unique.length} records match “${q}”:`),
      table(
        ['Record', 'Matched'],
        matches.map((m) => h('tr', null, h('td', null, h('a', { href: `#/records?entity=${m.entity}&id=${encodeURIComponent(m.record_id)}` }, `${m.entity} ${m.record_id}`)), h('td', null, m.via === 'external_id' ? `${m.system}’s id ${m.external_id}` : m.via === 'number' ? `number ${m.external_id}` : 'canonical id'))),
      ),
    );
  } catch (e) {
    out.append(message(e.message, 'error'));
  }
}
