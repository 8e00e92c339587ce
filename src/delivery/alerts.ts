import { request } from 'undici';
import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import { getConnector } from '../connectors/registry.js';
import { errorMessage } from '../errors.js';
import { newTraceId } from '../ids.js';
import { signStandardWebhook } from '../intake/signatures.js';
import type { Egress } from '../net/egress.js';
import { egressDispatcher } from '../connectors/http-call.js';
import type { Db } from '../store/db.js';
import { dueAlerts, markAlert, type Alert } from '../store/alerts.js';
import type { ConnectorSecrets } from '../secrets/runtime.js';

const MAX_ALERT_ATTEMPTS = 10;

/**
 * Sends queued operator alerts (dead letters, circuits opening) to the
 * project's alert webhook, signed as Standard Webhooks when a secret is set,
 * and/or by e-mail through the project's smtp system (alerts.email).
 * Every alert is also a log line, so a project without a channel still sees
 * them. Failed sends back off exponentially and give up after ten tries.
 */
export async function sendDueAlerts(db: Db, project: Project, log: Logger, now = Date.now(), secrets?: ConnectorSecrets): Promise<number> {
  const alerts = await dueAlerts(db, now, 50);
  const { webhook: hook, email } = project.alerts;
  for (const a of alerts) {
    log.warn({ alert_id: a.id, kind: a.kind, system: a.system, flow: a.flow, delivery_id: a.deliveryId }, `alert: ${a.message}`);
    if (!hook && !email) {
      await markAlert(db, a.id, { sent: true, at: now });
      continue;
    }
    try {
      // A retry repeats both channels; each carries the alert's id (webhook-id, Message-ID) so a receiver can tell a repeat.
      if (hook) await post(hook, a, project.egress);
      if (email) await mail(project, email, a, log, secrets);
      await markAlert(db, a.id, { sent: true, at: Date.now() });
    } catch (e) {
      const giveUp = a.attempts + 1 >= MAX_ALERT_ATTEMPTS;
      await markAlert(db, a.id, { sent: false, error: errorMessage(e), nextAt: now + 1000 * 2 ** Math.min(a.attempts, 12), giveUp });
      log.error({ alert_id: a.id, err: errorMessage(e), gave_up: giveUp }, 'alert could not be sent');
    }
  }
  return alerts.length;
}

async function post(hook: { url: string; secret?: string | undefined }, a: Alert, egress: Egress): Promise<void> {
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
  const res = await request(hook.url, { method: 'POST', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000, dispatcher: egressDispatcher(egress) });
  await res.body.dump();
  if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`alert webhook answered ${res.statusCode}`);
}

/** E-mails an alert through the smtp connector's `send` action, as a flow would (load checked the system is of kind smtp). */
async function mail(project: Project, channel: { system: string; to: string[] }, a: Alert, log: Logger, secrets: ConnectorSecrets | undefined): Promise<void> {
  const system = project.systems.get(channel.system);
  const connector = system ? getConnector(system.kind) : undefined;
  if (!system || !connector?.act) throw new Error(`alerts.email.system ${channel.system} cannot send mail`);
  const about = [a.system && `system: ${a.system}`, a.flow && `flow: ${a.flow}`, a.deliveryId !== null && `delivery: ${a.deliveryId}`].filter(Boolean);
  const input = {
    to: channel.to,
    subject: `[${project.name}] ${a.kind.replace('_', ' ')}${a.system ? ` at ${a.system}` : ''}`,
    text: [a.message, '', `kind: ${a.kind}`, `at: ${new Date(a.at).toISOString()}`, ...about].join('\n'),
  };
  const opened = secrets ? await secrets.open(system) : undefined;
  await connector.act('send', input, {
    system: system.name,
    config: opened?.config ?? system.config,
    options: {},
    idempotencyKey: `cw_alert_${a.id}`,
    traceId: newTraceId(),
    attempt: a.attempts + 1,
    signal: AbortSignal.timeout(30_000),
    log,
    egress: project.egress,
  });
}
