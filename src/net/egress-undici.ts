import { buildConnector } from 'undici';
import type { Egress } from './egress.js';

/**
 * An undici connector that opens every socket under the egress policy: the
 * host of an IP-literal URL is judged here (Node does not resolve a literal),
 * a name by the resolver hook at connect time. Redirects are never followed
 * by the hub (see http-call.ts), and any hop a caller did follow would open
 * its socket through this same connector.
 */
export function egressConnector(egress: Egress): buildConnector.connector {
  const byPort = new Map<number, buildConnector.connector>();
  return (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    try {
      egress.checkHost(opts.hostname, port);
    } catch (e) {
      callback(e as Error, null);
      return;
    }
    let connect = byPort.get(port);
    if (!connect) {
      connect = buildConnector({ lookup: egress.lookupFor(port) } as buildConnector.BuildOptions);
      byPort.set(port, connect);
    }
    connect(opts, callback);
  };
}
