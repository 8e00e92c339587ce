import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test systems listen on 127.0.0.1, which egress control refuses by default:
 * a test project allows it explicitly, unless it has an `egress:` section of
 * its own (the egress tests do).
 */
export const LOOPBACK_EGRESS = '\negress:\n  allow: ["127.0.0.1"]\n';

export function withLoopbackEgress(yaml: string): string {
  return /^egress:/m.test(yaml) ? yaml : `${yaml.replace(/\n*$/, '\n')}${LOOPBACK_EGRESS}`;
}

/** A throwaway project folder: causeway.yaml (allowing loopback egress, see above) plus any mapping files. */
export function tempProject(yaml: string, files: Record<string, string> = {}): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-project-'));
  writeFileSync(join(dir, 'causeway.yaml'), withLoopbackEgress(yaml));
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const SHOP_KEY = 'shop-test-key-0123456789abcdef';

/** A small project: the shop posts customers, orders and deletions. */
export const SHOP_PROJECT = `
version: 1
name: test-shop
systems:
  shop:
    kind: webhook
    auth:
      api_key: ${SHOP_KEY}
      standard_webhooks:
        secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
      hmac:
        header: X-Shop-Hmac-Sha256
        secrets: ["hmac-secret-1"]
    owns: [customer]
    topics:
      customers:
        mapping: mappings/customer.jsonata
        event_id: event.id
  erp:
    kind: webhook
    owns: [product]
`;

export const CUSTOMER_MAPPING = `{
  "entity": "customer",
  "external_id": $string(id),
  "data": { "email": email, "first_name": first_name, "last_name": last_name }
}`;
