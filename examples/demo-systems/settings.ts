/**
 * Where each stand-in listens and the credentials it shares with the hub.
 * The names and defaults are the ones in examples/causeway.yaml, so with
 * nothing set both sides agree; set STORE_URL=http://127.0.0.1:9201 (say)
 * and the stand-in listens there — give the hub the same variable.
 */
export const SYSTEMS = ['store', 'erp', 'warehouse', 'carrier', 'mailer'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** The variable that holds each system's address, read by causeway.yaml and by the stand-in. */
export const URL_VARS: Record<SystemName, string> = {
  store: 'STORE_URL',
  erp: 'ERP_URL',
  warehouse: 'WAREHOUSE_URL',
  carrier: 'CARRIER_URL',
  mailer: 'MAILER_URL',
};

const DEFAULT_URLS: Record<SystemName, string> = {
  store: 'http://127.0.0.1:9101',
  erp: 'http://127.0.0.1:9102',
  warehouse: 'http://127.0.0.1:9103',
  carrier: 'http://127.0.0.1:9104',
  mailer: 'http://127.0.0.1:9105',
};

export interface DemoSettings {
  /** Where the stand-ins send to the hub (the store's orders, the warehouse's stock). */
  hubUrl: string;
  urls: Record<SystemName, string>;
  /** store → hub: its API key and its Standard Webhooks secret. */
  storeApiKey: string;
  storeWebhookSecret: string;
  /** hub → store (X-Store-Access-Token). */
  storeAccessToken: string;
  /** hub → ERP (Bearer). */
  erpToken: string;
  /** warehouse → hub: its API key; hub → warehouse: the webhook signing secret. */
  warehouseApiKey: string;
  warehouseWebhookSecret: string;
  /** hub → carrier (X-Api-Key). */
  carrierApiKey: string;
  /** hub → mailer (Bearer). */
  mailerToken: string;
  /** The legacy warehouse's drop folder (LEGACY_DROP_DIR): the demo writes its CSV export there, the hub reads it. */
  legacyDropDir: string;
}

export function demoSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings {
  const get = (name: string, fallback: string): string => {
    const v = env[name];
    return v !== undefined && v !== '' ? v : fallback;
  };
  const urls = Object.fromEntries(SYSTEMS.map((s) => [s, get(URL_VARS[s], DEFAULT_URLS[s])])) as Record<SystemName, string>;
  return {
    hubUrl: get('HUB_URL', 'http://127.0.0.1:8080'),
    urls,
    storeApiKey: get('STORE_API_KEY', 'demo-store-key-change-me'),
    storeWebhookSecret: get('STORE_WEBHOOK_SECRET', 'whsec_ZGVtby1zdG9yZS1zZWNyZXQtY2hhbmdlLW1l'),
    storeAccessToken: get('STORE_ACCESS_TOKEN', 'demo-store-access-token'),
    erpToken: get('ERP_TOKEN', 'demo-erp-token'),
    warehouseApiKey: get('WAREHOUSE_API_KEY', 'demo-warehouse-key-change-me'),
    warehouseWebhookSecret: get('WAREHOUSE_WEBHOOK_SECRET', 'whsec_ZGVtby13YXJlaG91c2Utc2VjcmV0LWNoYW5nZS1tZQ=='),
    carrierApiKey: get('CARRIER_API_KEY', 'demo-carrier-key'),
    mailerToken: get('MAILER_TOKEN', 'demo-mailer-token'),
    legacyDropDir: get('LEGACY_DROP_DIR', '/tmp/causeway-legacy-drop'),
  };
}
