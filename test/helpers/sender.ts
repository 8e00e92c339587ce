import { request, type Dispatcher } from 'undici';
import { SHOP_KEY } from './project.js';

/** Customer `i` as the shop sends it; its event id is `evt-<i>`, so a repeat is stored once. */
export function customerBody(i: number): string {
  return JSON.stringify({ id: `C-${i}`, email: `c${i}@example.com`, first_name: 'Test', last_name: `N${i}`, event: { id: `evt-${i}` } });
}

/**
 * Posts customer `i` to a hub process over HTTP, once. Resolves with the
 * status; rejects only on a network error (refused, reset: the process died).
 */
export async function postCustomerHttp(hubUrl: string, i: number, dispatcher?: Dispatcher): Promise<number> {
  const res = await request(`${hubUrl}/v1/inbound/shop/customers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SHOP_KEY}` },
    body: customerBody(i),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(dispatcher ? { dispatcher } : {}),
  });
  await res.body.dump();
  return res.statusCode;
}
