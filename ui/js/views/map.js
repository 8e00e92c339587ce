// The system map: the hub in the middle, every system around it, each flow an arrow with its live rate.
import { api } from '../api.js';
import { badge, clear, h, message, s, table } from '../dom.js';

const W = 1000;
const H = 640;
const CX = W / 2;
const CY = H / 2;
const R = 235;
const BOX_W = 178;
const BOX_H = 102;

function positions(systems) {
  return new Map(
    systems.map((sys, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / systems.length;
      return [sys.name, { x: CX + Math.cos(a) * R * 1.45, y: CY + Math.sin(a) * R, a }];
    }),
  );
}

/** A point on the edge of a system's box, towards the hub. */
function edge(p) {
  const dx = CX - p.x;
  const dy = CY - p.y;
  const t = Math.min(BOX_W / 2 / Math.abs(dx || 1e-9), BOX_H / 2 / Math.abs(dy || 1e-9));
  return { x: p.x + dx * t, y: p.y + dy * t };
}

function systemNode(sys) {
  return s(
    'a',
    { href: `#/activity?system=${encodeURIComponent(sys.name)}`, class: 'node', 'aria-label': `${sys.name}: ${sys.health}, circuit ${sys.circuit}, backlog ${sys.backlog.pending + sys.backlog.retrying}, ${sys.dead_letters} dead letters. Show its activity.` },
    s('rect', { x: -BOX_W / 2, y: -BOX_H / 2, width: BOX_W, height: BOX_H, rx: 8 }),
    s('circle', { cx: -BOX_W / 2 + 14, cy: -BOX_H / 2 + 16, r: 6, class: `dot-${sys.health}` }),
    s('text', { x: -BOX_W / 2 + 26, y: -BOX_H / 2 + 21, class: 'title' }, sys.name),
    s('text', { x: -BOX_W / 2 + 10, y: -BOX_H / 2 + 40 }, `${sys.health} · circuit ${sys.circuit.replace('_', '-')}`),
    s('text', { x: -BOX_W / 2 + 10, y: -BOX_H / 2 + 59 }, `in ${sys.throughput.received_per_minute}/min · out ${sys.throughput.delivered_per_minute}/min`),
    s('text', { x: -BOX_W / 2 + 10, y: -BOX_H / 2 + 76 }, `backlog ${sys.backlog.pending + sys.backlog.in_flight} · retrying ${sys.backlog.retrying}`),
    s('text', { x: -BOX_W / 2 + 10, y: -BOX_H / 2 + 93, fill: sys.dead_letters ? '#c62828' : undefined }, `dead letters ${sys.dead_letters}`),
  );
}

/** A point on the quadratic curve, past its middle so labels clear the hub. */
const T = 0.6;
const at = (p0, p1, p2) => (1 - T) * (1 - T) * p0 + 2 * (1 - T) * T * p1 + T * T * p2;

function drawMap(systems, flows) {
  const pos = positions(systems);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': 'The hub and its systems' });
  svg.append(
    s(
      'defs',
      null,
      s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#1f5fbf' })),
      s('marker', { id: 'arrow-bad', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#c62828' })),
    ),
  );
  // Spokes: each system connects once, to the hub.
  for (const sys of systems) {
    const p = edge(pos.get(sys.name));
    svg.append(s('line', { x1: CX, y1: CY, x2: p.x, y2: p.y, class: 'spoke' }));
  }
  // Flows: the hub sends to a system; several flows to one system fan out.
  const perSystem = new Map();
  for (const f of flows) perSystem.set(f.system, [...(perSystem.get(f.system) ?? []), f]);
  for (const [system, list] of perSystem) {
    const p = pos.get(system);
    if (!p) continue;
    const end = edge(p);
    list.forEach((f, i) => {
      const bend = (i - (list.length - 1) / 2) * 60;
      const mx = (CX + end.x) / 2 - Math.sin(p.a) * bend;
      const my = (CY + end.y) / 2 + Math.cos(p.a) * bend;
      const bad = f.errors_per_minute > 0 || f.counts.dead > 0;
      const cls = `flow${!f.enabled ? ' disabled' : bad ? ' errors' : ''}`;
      const label = `${f.name}: ${f.rate_per_minute}/min${bad ? `, ${f.counts.dead} dead` : ''}`;
      svg.append(
        s(
          'a',
          { href: `#/flows?flow=${encodeURIComponent(f.name)}`, 'aria-label': `Flow ${label}${f.enabled ? '' : ' (disabled)'}. Show the flow.` },
          s('path', { d: `M${CX},${CY} Q${mx},${my} ${end.x},${end.y}`, class: cls, 'marker-end': bad ? 'url(#arrow-bad)' : 'url(#arrow)' }),
          s('text', { x: at(CX, mx, end.x), y: at(CY, my, end.y), class: 'flow-label', 'text-anchor': 'middle' }, label),
        ),
      );
    });
  }
  svg.append(s('g', { class: 'hub' }, s('circle', { cx: CX, cy: CY, r: 52 }), s('text', { x: CX, y: CY + 5, 'text-anchor': 'middle' }, 'Causeway')));
  for (const sys of systems) {
    const p = pos.get(sys.name);
    const g = s('g', { transform: `translate(${p.x},${p.y})`, 'data-system': sys.name }, systemNode(sys));
    svg.append(g);
  }
  return svg;
}

export async function render(root) {
  root.append(h('h1', { id: 'view-title' }, 'System map'));
  const links = h('p', { class: 'links', 'data-testid': 'links' });
  const figure = h('figure', { class: 'map', style: 'margin:0' });
  const details = h('div');
  root.append(links, figure, details);

  async function refresh() {
    try {
      const [{ systems }, { flows }] = await Promise.all([api('/v1/stats/systems'), api('/v1/stats/flows')]);
      const n = systems.length;
      clear(links).append(
        h('strong', null, `${n} systems`),
        `: wired point to point they would need up to n·(n−1)/2 = ${(n * (n - 1)) / 2} links; through the hub they need n = ${n}.`,
      );
      clear(figure).append(drawMap(systems, flows), h('figcaption', { class: 'legend' },
        h('span', null, h('span', { class: 'swatch', style: 'background:#1a7f37' }), 'ok'),
        h('span', null, h('span', { class: 'swatch', style: 'background:#9a6700' }), 'degraded'),
        h('span', null, h('span', { class: 'swatch', style: 'background:#c62828' }), 'down / errors'),
        h('span', null, h('span', { class: 'swatch', style: 'background:#6e7781' }), 'idle'),
        h('span', null, 'Rates are per minute over the last 5 minutes, refreshed every 10 s. Select a system or flow to drill in.'),
      ));
      clear(details).append(
        h('h2', null, 'Systems'),
        table(
          ['System', 'Kind', 'Health', 'Circuit', 'In /min', 'Out /min', 'Pending', 'Retrying', 'In flight', 'Dead letters'],
          systems.map((x) =>
            h('tr', { 'data-system': x.name },
              h('td', null, h('a', { href: `#/activity?system=${encodeURIComponent(x.name)}` }, x.name), x.description ? h('div', { class: 'muted' }, x.description) : null),
              h('td', null, x.kind),
              h('td', null, badge(x.health)),
              h('td', null, badge(x.circuit)),
              h('td', { class: 'num' }, x.throughput.received_per_minute),
              h('td', { class: 'num' }, x.throughput.delivered_per_minute),
              h('td', { class: 'num' }, x.backlog.pending),
              h('td', { class: 'num' }, x.backlog.retrying),
              h('td', { class: 'num' }, x.backlog.in_flight),
              h('td', { class: 'num' }, x.dead_letters ? h('a', { href: `#/dead-letters?system=${encodeURIComponent(x.name)}` }, x.dead_letters) : 0),
            ),
          ),
        ),
      );
    } catch (e) {
      clear(details).append(message(`Could not load the map: ${e.message}`, 'error'));
    }
  }
  await refresh();
  const timer = setInterval(refresh, 10_000);
  return () => clearInterval(timer);
}
