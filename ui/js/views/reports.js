// Reports from the canonical data, with charts and CSV: orders and revenue, stock, open invoices.
import { api, download, qs } from '../api.js';
import { clear, field, fmtMoney, fmtTime, h, message, s, table } from '../dom.js';

const COLORS = ['#1f5fbf', '#e07b00', '#1a7f37', '#8250df', '#c62828', '#0b7285', '#6e7781'];

/** A bar chart; `series` stacks per bar. Plain SVG, with a text summary for screen readers. */
function barChart(bars, series, { title, format = String }) {
  const W = 900;
  const H = 240;
  const left = 60;
  const bottom = 40;
  const max = Math.max(1, ...bars.map((b) => series.reduce((a, k) => a + (b.values[k] ?? 0), 0)));
  const bw = Math.min(80, Math.max(2, (W - left - 10) / Math.max(1, bars.length) - 4));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title });
  for (let i = 0; i <= 4; i++) {
    const y = H - bottom - ((H - bottom - 10) * i) / 4;
    svg.append(s('line', { x1: left, x2: W - 5, y1: y, y2: y, stroke: '#e3e7ed' }), s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, format((max * i) / 4)));
  }
  bars.forEach((b, i) => {
    const x = left + 4 + i * (bw + 4);
    let y = H - bottom;
    series.forEach((k, j) => {
      const v = b.values[k] ?? 0;
      const hgt = ((H - bottom - 10) * v) / max;
      y -= hgt;
      svg.append(s('rect', { x, y, width: bw, height: hgt, fill: COLORS[j % COLORS.length] }, s('title', null, `${b.label} ${k}: ${format(v)}`)));
    });
    if (bars.length <= 16 || i % Math.ceil(bars.length / 16) === 0) svg.append(s('text', { x: x + bw / 2, y: H - bottom + 14, 'text-anchor': 'middle' }, b.label));
  });
  const legend = h('div', { class: 'legend' }, series.map((k, j) => h('span', null, h('span', { class: 'swatch', style: `background:${COLORS[j % COLORS.length]}` }), k)));
  return h('figure', { style: 'margin:0' }, svg, h('figcaption', null, legend));
}

async function ordersTab(out) {
  const today = new Date().toISOString().slice(0, 10);
  const from = h('input', { type: 'date', name: 'from', value: new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10) });
  const to = h('input', { type: 'date', name: 'to', value: today });
  const channel = h('input', { name: 'channel', placeholder: 'all' });
  const result = h('div');
  const csv = h('button', { type: 'button' }, 'Download CSV');
  const form = h('form', { class: 'filters', 'aria-label': 'Orders report' }, field('From', from), field('To', to), field('Channel', channel), h('button', { type: 'submit', class: 'primary' }, 'Show'), csv);
  out.append(form, result);
  const query = () => ({ from: from.value, to: to.value, channel: channel.value });
  async function load() {
    const r = await api(`/v1/reports/orders${qs(query())}`);
    const currencies = [...new Set(r.rows.map((x) => x.currency))];
    const channels = [...new Set(r.rows.map((x) => x.channel))];
    // Every day of the range is a bar, so quiet days show as gaps, not as missing.
    const byDay = new Map();
    for (let t = Date.parse(r.from); t <= Date.parse(r.to); t += 86_400_000) {
      const day = new Date(t).toISOString().slice(0, 10);
      byDay.set(day, { label: day.slice(5), values: {} });
    }
    for (const x of r.rows) {
      const d = byDay.get(x.day) ?? { label: x.day.slice(5), values: {} };
      d.values[x.channel] = (d.values[x.channel] ?? 0) + x.revenue / 100;
      byDay.set(x.day, d);
    }
    const totals = currencies.map((c) => {
      const rows = r.rows.filter((x) => x.currency === c);
      return `${rows.reduce((a, x) => a + x.orders, 0)} orders, ${fmtMoney(rows.reduce((a, x) => a + x.revenue, 0), c)}`;
    });
    clear(result).append(
      h('p', { 'data-testid': 'orders-total' }, r.rows.length ? totals.join(' · ') : 'No orders in this range.'),
      r.rows.length ? barChart([...byDay.values()], channels, { title: `Revenue per day and channel, ${r.from} to ${r.to}`, format: (v) => Math.round(v).toLocaleString() }) : null,
      table(['Day', 'Channel', 'Currency', 'Orders', 'Cancelled', 'Revenue'], r.rows.map((x) => h('tr', null, h('td', null, x.day), h('td', null, x.channel), h('td', null, x.currency), h('td', { class: 'num' }, x.orders), h('td', { class: 'num' }, x.cancelled), h('td', { class: 'num' }, fmtMoney(x.revenue, x.currency))))),
    );
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load().catch((e) => clear(result).append(message(e.message, 'error')));
  });
  csv.addEventListener('click', () => download(`/v1/reports/orders${qs({ ...query(), format: 'csv' })}`, `orders-${from.value}-${to.value}.csv`));
  await load();
}

async function stockTab(out) {
  const sku = h('input', { name: 'sku', placeholder: 'starts with…' });
  const location = h('input', { name: 'location', placeholder: 'all' });
  const csv = h('button', { type: 'button' }, 'Download CSV');
  const chart = h('div');
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const form = h('form', { class: 'filters', 'aria-label': 'Stock report' }, field('SKU', sku), field('Location', location), h('button', { type: 'submit', class: 'primary' }, 'Show'), csv);
  out.append(form, chart, h('table', null, h('thead', null, h('tr', null, ['SKU', 'Location', 'On hand', 'Available', 'Reserved', 'Updated'].map((x) => h('th', { scope: 'col' }, x)))), body), h('p', null, more));
  let cursor = null;
  const query = () => ({ sku: sku.value, location: location.value });
  async function load(reset) {
    if (reset) {
      cursor = null;
      clear(body);
    }
    const r = await api(`/v1/reports/stock${qs({ ...query(), limit: 50, cursor })}`);
    if (r.by_location) {
      clear(chart).append(r.by_location.length ? barChart(r.by_location.map((l) => ({ label: l.location, values: { available: l.available, 'reserved or short': Math.max(0, l.on_hand - l.available) } })), ['available', 'reserved or short'], { title: 'Stock per location' }) : message('No stock levels yet.'));
    }
    body.append(...r.rows.map((x) => h('tr', null, h('td', { class: 'mono' }, x.sku), h('td', null, x.location), h('td', { class: 'num' }, x.on_hand), h('td', { class: 'num' }, x.available ?? '—'), h('td', { class: 'num' }, x.reserved ?? '—'), h('td', null, fmtTime(x.updated_at)))));
    cursor = r.next_cursor;
    more.hidden = !cursor;
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load(true).catch((e) => clear(chart).append(message(e.message, 'error')));
  });
  more.addEventListener('click', () => load(false));
  csv.addEventListener('click', () => download(`/v1/reports/stock${qs({ ...query(), format: 'csv' })}`, 'stock.csv'));
  await load(true);
}

async function invoicesTab(out) {
  const summary = h('div');
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const csv = h('button', { type: 'button' }, 'Download CSV');
  out.append(h('div', { class: 'toolbar' }, csv), summary, h('table', null, h('thead', null, h('tr', null, ['Number', 'Due', 'Amount due', 'Total', 'Issued', 'Customer', 'Order'].map((x) => h('th', { scope: 'col' }, x)))), body), h('p', null, more));
  let cursor = null;
  async function load() {
    const r = await api(`/v1/reports/invoices${qs({ status: 'open', limit: 50, cursor })}`);
    if (r.summary) {
      clear(summary).append(
        r.summary.length
          ? barChart(r.summary.map((x) => ({ label: x.currency, values: { 'amount due': x.amount_due / 100 } })), ['amount due'], { title: 'Open amount per currency' })
          : message('No open invoices.'),
        h('p', null, r.summary.map((x) => `${x.invoices} open in ${x.currency}: ${fmtMoney(x.amount_due, x.currency)} due, ${x.overdue} overdue`).join(' · ')),
      );
    }
    body.append(...r.rows.map((x) => h('tr', null, h('td', null, h('a', { href: `#/records?entity=invoice&id=${encodeURIComponent(x.record_id)}` }, x.number)), h('td', { class: x.overdue ? 'overdue' : null }, x.due_at ? `${fmtTime(x.due_at)}${x.overdue ? ' (overdue)' : ''}` : '—'), h('td', { class: 'num' }, fmtMoney(x.amount_due, x.currency)), h('td', { class: 'num' }, fmtMoney(x.total, x.currency)), h('td', null, fmtTime(x.issued_at)), h('td', { class: 'mono' }, x.customer_id ?? '—'), h('td', { class: 'mono' }, x.order_id ?? '—'))));
    cursor = r.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load());
  csv.addEventListener('click', () => download('/v1/reports/invoices?status=open&format=csv', 'open-invoices.csv'));
  await load();
}

const TABS = [
  ['orders', 'Orders & revenue', ordersTab],
  ['stock', 'Stock', stockTab],
  ['invoices', 'Open invoices', invoicesTab],
];

export async function render(root, { params }) {
  const current = TABS.find((t) => t[0] === params.get('report')) ?? TABS[0];
  const out = h('div', { id: 'report-panel' });
  root.append(
    h('h1', { id: 'view-title' }, 'Reports'),
    h('nav', { class: 'toolbar', 'aria-label': 'Reports' }, TABS.map(([key, label]) => h('a', { href: `#/reports?report=${key}`, id: `tab-${key}`, class: `button${key === current[0] ? ' primary' : ''}`, 'aria-current': key === current[0] ? 'page' : null }, label))),
    out,
  );
  await current[2](out).catch((e) => out.append(message(e.message, 'error')));
}
