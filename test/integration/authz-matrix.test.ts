import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { PERMISSIONS, ROLE_PERMISSIONS, isPermission, type Role } from '../../src/auth/permissions.js';
import { createApiToken } from '../../src/auth/manage.js';
import { routesOf, type RegisteredRoute } from '../../src/api/route-list.js';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Every registered route × every kind of caller × someone else's objects:
 * no 2xx that the policy does not grant, and the ones it grants are not
 * refused. Routes come from the server's own list, so a route added later
 * is covered without touching this file.
 */

const ALPHA_KEY = 'alpha-key-0123456789abcdef';
const BETA_KEY = 'beta-key-0123456789abcdef';

const PROJECT = (erpUrl: string) => `
version: 1
name: authz
systems:
  alpha:
    kind: webhook
    auth: { api_key: ${ALPHA_KEY} }
    scopes: [read:products, write:customer]
    owns: [customer]
    topics:
      customers: { mapping: mappings/customer.jsonata }
  beta:
    kind: webhook
    auth: { api_key: ${BETA_KEY} }
    owns: [product]
    topics:
      products: { mapping: mappings/product.jsonata }
  erp:
    kind: http
    personal_data: allowed
    config: { base_url: ${erpUrl} }
flows:
  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
`;

const FILES = {
  'mappings/customer.jsonata': '{ "entity": "customer", "external_id": $string(id), "data": { "email": email, "first_name": first_name } }',
  'mappings/product.jsonata': '{ "entity": "product", "external_id": $string(sku), "data": { "sku": sku, "name": name } }',
};

type Caller = 'admin' | 'operator' | 'viewer' | 'expired' | 'revoked' | 'garbage' | 'none' | 'alpha' | 'beta';
const CALLERS: readonly Caller[] = ['none', 'garbage', 'expired', 'revoked', 'beta', 'alpha', 'viewer', 'operator', 'admin'];
const ADMIN_ONLY = new Set(['tokens.manage', 'secrets.manage', 'audit.read', 'erasure.execute', 'config.write']);

interface Objects {
  productId: string;
  customerId: string;
  deliveryId: number;
  inboxId: number;
  backfillId: number;
  victimTokenId: number;
  traceId: string;
}

/** The caller's scopes in PROJECT, as the policy should apply them. */
const SYSTEM_SCOPES: Record<'alpha' | 'beta', { read: string[]; write: string[] }> = {
  alpha: { read: ['product'], write: ['customer'] },
  beta: { read: [], write: [] },
};

function access(r: RegisteredRoute) {
  return r.route.config as { public?: boolean; systemAuth?: boolean; permission?: string; systemScope?: 'read' | 'write' } | undefined;
}

/** Fills the route's parameters with real objects of the hub (someone else's, for the system callers). */
function fill(url: string, o: Objects): { path: string; entity: string | undefined } {
  let entity: string | undefined;
  const path = url.replace(/:(\w+)|\*/g, (_m, name: string | undefined) => {
    switch (name) {
      case 'entity':
        entity = url.includes(':id') ? 'product' : 'product';
        return entity;
      case 'id':
        if (url.startsWith('/v1/records/')) return o.productId;
        if (url.startsWith('/v1/deliveries/')) return String(o.deliveryId);
        if (url.startsWith('/v1/inbox/')) return String(o.inboxId);
        if (url.startsWith('/v1/backfills/')) return String(o.backfillId);
        if (url.startsWith('/v1/tokens/')) return String(o.victimTokenId);
        return '1';
      case 'traceId':
        return o.traceId;
      case 'flow':
        return 'customer-to-erp';
      case 'system':
        return 'beta';
      case undefined:
        return 'index.html';
      default:
        return 'x';
    }
  });
  return { path, entity };
}

/** What the policy grants, stated from the roles and scopes (not from the hook's code). */
function granted(caller: Caller, r: RegisteredRoute, entity: string | undefined): boolean {
  const a = access(r);
  const permission = a?.permission;
  if (permission === undefined || !isPermission(permission)) return false;
  if (caller === 'admin' || caller === 'operator' || caller === 'viewer') return ROLE_PERMISSIONS[caller as Role].has(permission);
  if (caller === 'alpha' || caller === 'beta') {
    if (permission === 'me.read') return true;
    const scopes = SYSTEM_SCOPES[caller];
    if (a?.systemScope === 'read') return entity !== undefined && scopes.read.includes(entity);
    if (a?.systemScope === 'write') return entity !== undefined && scopes.write.includes(entity);
    return false;
  }
  return false;
}

describe('authorization matrix', () => {
  let erp: Receiver;
  let t: TestHub;
  let base: string;
  const tokens = {} as Record<Caller, string | undefined>;
  const objects = {} as Objects;

  const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const headers: Record<string, string> = { 'user-agent': 'authz-matrix' };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    // Bounded, so a route that never answers fails with its name instead of stalling the file.
    const res = await request(`${base}${path}`, { method: method as 'GET', headers, body: body === undefined ? null : JSON.stringify(body), headersTimeout: 15_000, bodyTimeout: 15_000 }).catch((e: unknown) => {
      throw new Error(`${method} ${path}: ${String(e)}`);
    });
    // Only the status matters; a stream (server-sent events) would never end on its own.
    if (res.headers['content-type']?.toString().startsWith('text/event-stream')) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      return { status: res.statusCode, text: '' };
    }
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };

  before(async () => {
    erp = await startReceiver();
    t = await testHub('sqlite', PROJECT(erp.url), FILES, { deliver: false });
    base = await t.hub.listen(0, '127.0.0.1');
    tokens.admin = t.token;
    tokens.alpha = ALPHA_KEY;
    tokens.beta = BETA_KEY;
    tokens.garbage = 'cwt_not-a-token-at-all-0123456789';
    tokens.none = undefined;
    // Tokens made through the API, so their creation is audited with where it came from.
    for (const role of ['operator', 'viewer'] as const) {
      const res = await call('POST', '/v1/tokens', t.token, { name: role, role });
      assert.equal(res.status, 201, res.text);
      tokens[role] = (JSON.parse(res.text) as { token: string }).token;
    }
    const revoked = JSON.parse((await call('POST', '/v1/tokens', t.token, { name: 'soon-revoked', role: 'admin' })).text) as { id: number; token: string };
    assert.equal((await call('POST', `/v1/tokens/${revoked.id}/revoke`, t.token)).status, 200);
    tokens.revoked = revoked.token;
    const old = Date.now() - 2 * 86_400_000;
    tokens.expired = (await createApiToken(t.hub.db, { name: 'expired', role: 'admin', expiresInMs: 86_400_000, actor: 'test', now: old })).token;
    const victim = JSON.parse((await call('POST', '/v1/tokens', t.token, { name: 'victim', role: 'viewer' })).text) as { id: number };
    objects.victimTokenId = victim.id;

    // Objects: a product of beta's, a customer of alpha's delivered to the ERP, a backfill.
    const product = await call('POST', '/v1/inbound/beta/products', BETA_KEY, { sku: 'P-1', name: 'Widget' });
    assert.equal(product.status, 202, product.text);
    const customer = await call('POST', '/v1/inbound/alpha/customers', ALPHA_KEY, { id: 'C-1', email: 'c1@example.com', first_name: 'Ada' });
    assert.equal(customer.status, 202, customer.text);
    const inbound = JSON.parse(customer.text) as { id: number; trace_id: string };
    objects.inboxId = inbound.id;
    objects.traceId = inbound.trace_id;
    await normalized(t.hub);
    const admin = { authorization: `Bearer ${t.token}` };
    const find = async (entity: string, system: string, id: string) =>
      (await t.hub.app.inject({ url: `/v1/records/${entity}?system=${system}&external_id=${id}`, headers: admin })).json<{ records: Array<{ id: string }> }>().records[0]?.id;
    objects.productId = (await find('product', 'beta', 'P-1')) as string;
    objects.customerId = (await find('customer', 'alpha', 'C-1')) as string;
    assert.ok(objects.productId && objects.customerId, (await t.hub.app.inject({ url: `/v1/inbox/${JSON.parse(product.text).id}`, headers: admin })).body);
    // No worker: the delivery stays queued; made a dead letter here so it can be replayed (connectors are not under test).
    const queued = (await t.hub.app.inject({ url: '/v1/deliveries', headers: admin })).json<{ deliveries: Array<{ id: number }> }>().deliveries[0];
    assert.ok(queued, 'the customer change queued a delivery');
    objects.deliveryId = queued.id;
    await t.hub.db.run(`UPDATE deliveries SET status = 'dead', last_error = 'test' WHERE id = ?`, [queued.id]);
    const bf = await call('POST', '/v1/backfills', tokens.operator, { system: 'erp' });
    assert.ok(bf.status === 202 || bf.status === 200, bf.text);
    objects.backfillId = (JSON.parse(bf.text) as { id: number }).id;
  });

  after(async () => {
    await t?.close();
    await erp?.close();
  });

  test('every route is public, authenticated by its system, or declares a known permission', () => {
    const routes = routesOf(t.hub.app);
    assert.ok(routes.length > 20, `only ${routes.length} routes found`);
    const undeclared = routes.filter((r) => {
      const a = access(r);
      return !a?.public && !a?.systemAuth && (a?.permission === undefined || !isPermission(a.permission));
    });
    assert.deepEqual(
      undeclared.map((r) => `${r.method} ${r.url} (${String(access(r)?.permission)})`),
      [],
      `routes without a valid permission (known: ${PERMISSIONS.join(', ')})`,
    );
  });

  test('every route × every caller: no 2xx the policy does not grant; what it grants is not refused', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const caller of CALLERS) {
      for (const r of routesOf(t.hub.app)) {
        const a = access(r);
        if (a?.public) continue;
        const { path, entity } = fill(r.url, objects);
        // HEAD runs its GET's hooks and handler; a granted HEAD of a live stream never answers, so only refusals are checked.
        if (r.method === 'HEAD' && granted(caller, r, entity)) continue;
        const withBody = r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH';
        // A body that names someone else: system callers try to act as beta.
        const body = withBody ? { system: 'beta', external_id: 'X-1', data: { sku: 'X-1', name: 'mine now' } } : undefined;
        const res = await call(r.method, path, tokens[caller], body);
        checked++;
        const ok = res.status >= 200 && res.status < 300;
        const refused = res.status === 401 || res.status === 403;
        const label = `${caller} ${r.method} ${path} → ${res.status}`;
        if (a?.systemAuth) {
          // Intake: only beta's own key (or signature) may post to beta's topics.
          if (ok && caller !== 'beta') problems.push(`${label}: intake accepted someone else's credential`);
          continue;
        }
        const allow = granted(caller, r, entity);
        if (ok && !allow) problems.push(`${label}: not granted`);
        if (allow && refused) problems.push(`${label}: granted but refused (${res.text.slice(0, 120)})`);
        // Invariants that hold whatever a route declares.
        if (ok && caller === 'viewer' && r.method !== 'GET' && r.method !== 'HEAD') problems.push(`${label}: a viewer changed something`);
        if (ok && caller === 'operator' && ADMIN_ONLY.has(String(a?.permission))) problems.push(`${label}: an operator did an admin's job`);
        if (['none', 'garbage', 'expired', 'revoked'].includes(caller) && res.status !== 401) problems.push(`${label}: expected 401`);
      }
    }
    assert.ok(checked > 100, `only ${checked} calls`);
    assert.deepEqual(problems, []);
  });

  test('expired and revoked tokens are refused with the reason', async () => {
    const expired = await call('GET', '/v1/me', tokens.expired);
    assert.equal(expired.status, 401);
    assert.match(expired.text, /expired/);
    const revoked = await call('GET', '/v1/me', tokens.revoked);
    assert.equal(revoked.status, 401);
    assert.match(revoked.text, /revoked/);
    // Expiry is set at creation, as a time or in days; never in the past.
    assert.equal((await call('POST', '/v1/tokens', t.token, { name: 'past', role: 'viewer', expires_at: '2020-01-01T00:00:00Z' })).status, 400);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const soon = JSON.parse((await call('POST', '/v1/tokens', t.token, { name: 'for-an-hour', role: 'viewer', expires_at: at })).text) as { expires_at: string; status: string };
    assert.deepEqual([soon.expires_at, soon.status], [at, 'active']);
  });

  test('GET /v1/me says who the caller is', async () => {
    const viewer = JSON.parse((await call('GET', '/v1/me', tokens.viewer)).text) as { name: string; role: string; permissions: string[]; can_see_personal_data: boolean };
    assert.equal(viewer.name, 'viewer');
    assert.equal(viewer.role, 'viewer');
    assert.equal(viewer.can_see_personal_data, false);
    assert.ok(viewer.permissions.includes('records.read') && !viewer.permissions.includes('deliveries.replay'));
    const admin = JSON.parse((await call('GET', '/v1/me', t.token)).text) as { role: string; permissions: string[]; can_see_personal_data: boolean };
    assert.equal(admin.role, 'admin');
    assert.deepEqual(admin.permissions, [...PERMISSIONS]);
    assert.equal(admin.can_see_personal_data, true);
    const alpha = JSON.parse((await call('GET', '/v1/me', ALPHA_KEY)).text) as { name: string; role: string; permissions: string[] };
    assert.deepEqual(alpha, { name: 'alpha', kind: 'system', role: 'system', permissions: ['read:product', 'write:customer'], can_see_personal_data: false });
  });

  test('a system key: its own topics only, its scopes only, and it writes only as itself', async () => {
    // Intake: alpha's key on beta's topic, and beta's on alpha's.
    assert.equal((await call('POST', '/v1/inbound/beta/products', ALPHA_KEY, { sku: 'P-2', name: 'x' })).status, 401);
    assert.equal((await call('POST', '/v1/inbound/alpha/customers', BETA_KEY, { id: 'C-2', email: 'c2@example.com' })).status, 401);
    // A management token is not a system key either.
    assert.equal((await call('POST', '/v1/inbound/alpha/customers', t.token, { id: 'C-2', email: 'c2@example.com' })).status, 401);
    assert.equal((await call('POST', '/v1/inbound/alpha/customers', ALPHA_KEY, { id: 'C-2', email: 'c2@example.com' })).status, 202);
    // Reads: products (its scope), not customers; beta has no scope at all.
    assert.equal((await call('GET', `/v1/records/product/${objects.productId}`, ALPHA_KEY)).status, 200);
    assert.equal((await call('GET', '/v1/records/product', ALPHA_KEY)).status, 200);
    assert.equal((await call('GET', `/v1/records/customer/${objects.customerId}`, ALPHA_KEY)).status, 403);
    assert.equal((await call('GET', `/v1/records/product/${objects.productId}/sync`, ALPHA_KEY)).status, 403);
    assert.equal((await call('GET', `/v1/records/product/${objects.productId}`, BETA_KEY)).status, 403);
    // Writes: customers as itself; never as beta, never products.
    assert.equal((await call('PUT', '/v1/records/customer', ALPHA_KEY, { system: 'beta', external_id: 'C-9', data: { email: 'x@example.com' } })).status, 403);
    assert.equal((await call('PUT', '/v1/records/product', ALPHA_KEY, { system: 'alpha', external_id: 'P-9', data: { sku: 'P-9', name: 'x' } })).status, 403);
    const own = await call('PUT', '/v1/records/customer', ALPHA_KEY, { system: 'alpha', external_id: 'C-9', data: { email: 'c9@example.com' } });
    assert.equal(own.status, 201, own.text);
  });

  test('the audit log has token create and revoke, replay, backfill and unmasked personal-data reads, with who and from where', async () => {
    await t.hub.db.run(`UPDATE deliveries SET status = 'dead' WHERE id = ?`, [objects.deliveryId]); // the matrix replayed it already
    const replay = await call('POST', `/v1/deliveries/${objects.deliveryId}/replay`, tokens.operator);
    assert.equal(replay.status, 202, replay.text);
    assert.equal((await call('GET', `/v1/records/customer/${objects.customerId}`, tokens.operator)).status, 200);
    assert.equal((await call('GET', `/v1/records/customer/${objects.customerId}`, tokens.viewer)).status, 200);
    assert.equal((await call('GET', '/v1/audit', tokens.operator)).status, 403);

    type Entry = { actor: string; action: string; target: string | null; ip: string | null; user_agent: string | null; detail: Record<string, unknown> | null };
    const list = async (query: string) => (JSON.parse((await call('GET', `/v1/audit?${query}`, t.token)).text) as { entries: Entry[] }).entries;
    const created = await list('action=token.create');
    assert.deepEqual(
      created.filter((e) => e.actor === 'token:admin-from-env').map((e) => e.detail?.['name']).sort(),
      ['for-an-hour', 'operator', 'soon-revoked', 'victim', 'viewer'],
    );
    assert.ok(created.every((e) => !JSON.stringify(e).includes('cwt_')), 'no token value in the audit log');
    const revoked = await list('action=token.revoke');
    assert.ok(revoked.some((e) => e.detail?.['name'] === 'soon-revoked' && e.actor === 'token:admin-from-env' && e.ip === '127.0.0.1' && e.user_agent === 'authz-matrix'));
    const replays = await list('action=delivery.replay');
    assert.ok(replays.some((e) => e.actor === 'token:operator' && e.target === `delivery ${objects.deliveryId}`), JSON.stringify(replays));
    const backfills = await list('action=backfill.');
    assert.ok(backfills.some((e) => e.action === 'backfill.start' && e.actor === 'token:operator' && e.target === `backfill ${objects.backfillId}`), JSON.stringify(backfills));
    const reads = await list('action=personal_data.read');
    assert.ok(reads.some((e) => e.actor === 'token:operator' && e.target === `GET /v1/records/customer/${objects.customerId}`));
    assert.ok(!reads.some((e) => e.actor === 'token:viewer'), 'a masked read is not an unmasked one');
    // Filters and pagination.
    const page1 = JSON.parse((await call('GET', '/v1/audit?limit=2', t.token)).text) as { entries: Array<{ id: number }>; next_before_id: number | null };
    assert.equal(page1.entries.length, 2);
    assert.ok(page1.next_before_id !== null);
    const page2 = JSON.parse((await call('GET', `/v1/audit?limit=2&before_id=${page1.next_before_id}`, t.token)).text) as { entries: Array<{ id: number }> };
    assert.ok(page2.entries.every((e) => e.id < page1.next_before_id!));
    assert.ok((await list('actor=token:operator')).every((e) => e.actor === 'token:operator'));
  });
});
