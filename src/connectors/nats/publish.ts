import { headers as natsHeaders, type NatsConnection } from 'nats';
import { encodePayload } from '../broker-message.js';
import { checker } from '../http/validate.js';
import { renderTemplate } from '../text-template.js';
import { RetryableError, type ActionContext, type ActionResult } from '../types.js';
import { describeServers, openConnection, publishError } from './connection.js';
import { NatsConfig, PublishOptions } from './manifest.js';
import type { Egress } from '../../net/egress.js';

const parseConfig = checker(NatsConfig, 'the nats system config');
const parseOptions = checker(PublishOptions, 'the publish options (do.with)');

/** A filled-in value is one subject token: it must not add tokens or wildcards. */
const oneToken = (v: string): string | undefined => (/[\s.*>]/.test(v) ? 'must not contain whitespace, ., * or > (it fills one subject token)' : undefined);

/** One connection per system, shared by its deliveries; nats.js reconnects it by itself. */
const connections = new Map<string, { key: string; nc: Promise<NatsConnection> }>();

function connectionFor(system: string, config: NatsConfig, egress: Egress): Promise<NatsConnection> {
  const key = JSON.stringify([config, egress.key]);
  const current = connections.get(system);
  if (current?.key === key) return current.nc;
  if (current) void current.nc.then((nc) => nc.drain()).catch(() => undefined);
  const entry = { key, nc: openConnection(config, `${system} publish`, egress) };
  entry.nc.then(
    (nc) =>
      void nc.closed().then(() => {
        if (connections.get(system) === entry) connections.delete(system);
      }),
    () => {
      if (connections.get(system) === entry) connections.delete(system);
    },
  );
  connections.set(system, entry);
  return entry.nc;
}

/** Resolves with the JetStream ack: the message is stored (or was a duplicate of one stored within the window). */
export async function publish(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const options = parseOptions(ctx.options);
  const subject = renderTemplate(options.subject, input, { what: 'the subject template', missing: 'error', refuse: oneToken });
  const target = `NATS JetStream publish ${describeServers(config)} subject "${subject}"`;
  let ack;
  try {
    const nc = await connectionFor(ctx.system, config, ctx.egress);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v);
    h.set('Content-Type', 'application/json');
    h.set('Causeway-Trace-Id', ctx.traceId);
    const acked = nc.jetstream().publish(subject, encodePayload(input), {
      msgID: ctx.idempotencyKey,
      headers: h,
      ...(options.stream ? { expect: { streamName: options.stream } } : {}),
    });
    ack = await new Promise<Awaited<typeof acked>>((resolve, reject) => {
      const onAbort = () => reject(new RetryableError('no JetStream ack before the flow timeout; the stream may still have stored it (a retry is de-duplicated)'));
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      void acked.then(resolve, reject).finally(() => ctx.signal.removeEventListener('abort', onAbort));
      if (ctx.signal.aborted) onAbort();
    });
  } catch (e) {
    throw publishError(target, e);
  }
  if (ack.duplicate) ctx.log.info({ system: ctx.system, stream: ack.stream, seq: ack.seq }, 'the stream already had this message (same Nats-Msg-Id): not stored again');
  return {
    output: { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate },
    summary: { request: target, response: `stored in ${ack.stream} at ${ack.seq}${ack.duplicate ? ' (duplicate)' : ''}` },
  };
}

export async function closeConnections(): Promise<void> {
  const all = [...connections.values()];
  connections.clear();
  await Promise.allSettled(all.map(async (e) => (await e.nc).close()));
}
