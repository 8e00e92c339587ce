import { request } from 'undici';
import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { signStandardWebhook } from '../intake/signatures.js';
import type { Db } from '../store/db.js';
import { dueAlerts, markAlert, type Alert } from '../store/alerts.js';

const MAX_ALERT_ATTEMPTS = 10;

/**
 * Sends queued operator alerts (dead letters, circuits opening) to the
 * project's alert webhook, signed as Standard Webhooks when a secret is set.
 * Every alert is also a log line, so a project without a channel still sees
 * them. Failed sends back off exponentially and give up after ten tries.
 */
export async function sendDueAlerts(db: Db, project: Project, log: Logger, now = Date.now()): Promise<number> {
  const alerts = await dueAlerts(db, now, 50);
  const hook = project.alerts.webhook;
  for (const a of alerts) {
    log.warn({ alert_id: a.id, kind: a.kind, system: a.system, flow: a.flow, delivery_id: a.deliveryId }, `alert: ${a.message}`);
    if (!hook) {
      await markAlert(db, a.id, { sent: true, at: now });
      continue;
    }
    try {
      await post(hook, a);
      await markAlert(db, a.id, { sent: true, at: Date.now() });
    } catch (e) {
      const giveUp = a.attempts + 1 >= MAX_ALERT_ATTEMPTS;
      await markAlert(db, a.id, { sent: false, error: errorMessage(e), nextAt: now + 1000 * 2 ** Math.min(a.attempts, 12), giveUp });
      log.error({ alert_id: a.id, err: errorMessage(e), gave_up: giveUp }, 'alert could not be sent');
    }
  }
  return alerts.length;
}

async function post(hook: { url: string; secret?: string | undefined }, a: Alert): Promise<void> {
  const id = `cw_alert_${a.id}`;
  const body = Buffer.from(
    JSON.stringify({
      type: `causeway.alert.${a.kind}`,
      timestamp: new Date(a.at).toISOString(),
      data: { id: a.id, kind: a.kind, message: a.message, system: a.system, flow: a.flow, delivery_id: a.deliveryId },
    }),
  );
  const ts = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts) };
  if (hook.secret) headers['webhook-signature'] = signStandardWebhook(id, ts, body, hook.secret);
  const res = await request(hook.url, { method: 'POST', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
  await res.body.dump();
  if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`alert webhook answered ${res.statusCode}`);
}
