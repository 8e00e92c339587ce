import { asObject, asString, header, type DemoReply, type DemoRequest } from './server.js';
import { credentialProblem, type StandIn, type StandInContext } from './stand-in.js';

/**
 * A transactional email API (POST /messages { to, subject, text }), the way
 * shops send their "your order is on its way" mail. It keeps the messages
 * instead of sending them: GET / shows the outbox.
 */

export interface Message {
  id: string;
  to: string;
  subject: string;
  text: string;
  template: string | undefined;
  at: string;
}

export interface Mailer extends StandIn {
  outbox: Message[];
}

export function createMailer(ctx: StandInContext, options: { seed: number }): Mailer {
  const outbox: Message[] = [];

  function accept(req: DemoRequest): DemoReply {
    const body = asObject(req.body) ?? {};
    const to = asString(body['to']);
    const subject = asString(body['subject']);
    if (!to || !/^[^@\s]+@[^@\s]+$/.test(to) || !subject) {
      const why = !to ? 'to is missing' : !subject ? 'subject is missing' : `${to} is not an address`;
      return { status: 422, body: { error: why }, note: `refused: ${why}` };
    }
    const message: Message = {
      id: `msg_${options.seed + outbox.length}`,
      to,
      subject,
      text: asString(body['text']) ?? '',
      template: asString(body['template']),
      at: new Date().toISOString(),
    };
    outbox.push(message);
    const tracking = /Tracking number: (\S+)/.exec(message.text)?.[1];
    return { status: 202, body: { id: message.id, status: 'queued' }, note: `✉ to ${to}: "${subject}"${tracking ? ` (tracking ${tracking})` : ''}` };
  }

  return {
    name: 'mailer',
    outbox,
    refuse: (req) => {
      if (req.method === 'GET') return undefined;
      const auth = header(req.headers, 'authorization');
      return credentialProblem(auth?.startsWith('Bearer ') ? auth.slice(7) : undefined, ctx.settings.mailerToken, 'bearer token');
    },
    routes: [
      { method: 'POST', pattern: /^\/messages$/, handle: (req) => accept(req) },
      { method: 'GET', pattern: /^\/$/, handle: () => ({ status: 200, body: { outbox } }) },
    ],
  };
}
