import pino, { type Logger } from 'pino';
import { maskLogObject, maskText } from './privacy/log-mask.js';

/**
 * JSON logs, one line per event. Every line about a message carries its
 * `trace_id`. Secrets are never logged: the redact list is a second line of
 * defence for headers that carry credentials.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
      base: { service: 'causeway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Personal data is masked in every line's fields and message (src/privacy/log-mask.ts).
      formatters: { log: maskLogObject },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a: unknown) => (typeof a === 'string' ? maskText(a) : a)) as Parameters<typeof method>);
        },
      },
      redact: {
        paths: ['headers.authorization', 'headers["x-api-key"]', 'headers["webhook-signature"]', '*.password', '*.secret', '*.api_key'],
        censor: '[redacted]',
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

export type { Logger };
