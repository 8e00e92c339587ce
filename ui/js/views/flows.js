// Flows: what each rule did in a window — counts, error rate, p95 latency, live rate, last error.
import { api } from '../api.js';
import { badge, clear, field, fmtMs, fmtTime, h, message, select, table } from '../dom.js';

export async function render(root, { params, navigate }) {
  const focus = params.get('flow');
  const windowSelect = select('window_hours', [['1', 'last hour'], ['24', 'last 24 hours'], ['168', 'last 7 days']], params.get('window') ?? '24');
  const out = h('div');
  root.append(h('h1', { id: 'view-title' }, 'Flows'), h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() }, field('Window', windowSelect)), out);

  async function refresh() {
    try {
      const { flows } = await api(`/v1/stats/flows?window_hours=${windowSelect.value}`);
      clear(out).append(
        table(
          ['Flow', 'When', 'To', 'State', 'Done', 'Dead', 'Retrying', 'Pending', 'Error rate', 'p95 latency', 'Rate /min', 'Last error'],
          flows.map((f) =>
            h(
              'tr',
              { 'data-flow': f.name, class: f.name === focus ? 'fresh' : null, id: `flow-${f.name}` },
              h('th', { scope: 'row' }, f.name, f.description ? h('div', { class: 'muted' }, f.description) : null),
              h('td', null, `${f.when.entity} ${f.when.on.join('/')}`),
              h('td', null, `${f.system} ${f.action}`),
              h('td', null, badge(f.enabled ? 'enabled' : 'disabled')),
              h('td', { class: 'num' }, f.counts.done),
              h('td', { class: 'num' }, f.counts.dead ? h('a', { href: `#/dead-letters?flow=${encodeURIComponent(f.name)}` }, f.counts.dead) : 0),
              h('td', { class: 'num' }, f.counts.retrying),
              h('td', { class: 'num' }, f.counts.pending),
              h('td', { class: 'num' }, `${(f.error_rate * 100).toFixed(1)} %`),
              h('td', { class: 'num' }, fmtMs(f.p95_latency_ms)),
              h('td', { class: 'num' }, f.rate_per_minute),
              h('td', null, f.last_error ? [fmtTime(f.last_error.at), ': ', f.last_error.error] : '—'),
            ),
          ),
        ),
      );
      if (focus) out.querySelector(`#flow-${CSS.escape(focus)}`)?.scrollIntoView({ block: 'center' });
    } catch (e) {
      clear(out).append(message(e.message, 'error'));
    }
  }
  windowSelect.addEventListener('change', () => {
    navigate('flows', { flow: focus, window: windowSelect.value }, { replace: true });
    refresh();
  });
  await refresh();
  // Counts over hours change slowly; the live rates are per 5 minutes.
  const timer = setInterval(refresh, 15_000);
  return () => clearInterval(timer);
}
