import { asObject, asString, header, short, type DemoReply, type DemoRequest } from './server.js';
import { credentialProblem, type StandIn, type StandInContext } from './stand-in.js';

/**
 * The parcel carrier: POST /labels makes a shipping label with a tracking
 * number (one label per order reference — asking twice returns the same
 * label); GET /track/{number} is the public tracking page the email links to.
 */

export interface Label {
  label_id: string;
  reference: string;
  order_ref: string | undefined;
  carrier: string;
  service: string;
  tracking_number: string;
  tracking_url: string;
  recipient: Record<string, unknown>;
  created_at: string;
}

export interface Carrier extends StandIn {
  labels: Map<string, Label>;
}

export function createCarrier(ctx: StandInContext, options: { seed: number }): Carrier {
  const labels = new Map<string, Label>();
  let next = options.seed;

  function createLabel(req: DemoRequest): DemoReply {
    const body = asObject(req.body) ?? {};
    const reference = asString(body['reference']);
    const recipient = asObject(body['recipient']);
    const missing = ['name', 'street', 'city', 'country'].filter((k) => !asString(recipient?.[k]));
    if (!reference || !recipient || missing.length > 0) {
      const why = !reference ? 'reference is missing' : `the recipient needs ${missing.join(', ') || 'an address'}`;
      return { status: 422, body: { error: why }, note: `refused: ${why}` };
    }
    const known = labels.get(reference);
    if (known) return { status: 200, body: known, note: `label ${known.label_id} already exists for ${reference}` };
    const n = next++;
    const tracking = `DP${String(n).padStart(10, '0')}`;
    const label: Label = {
      label_id: `LBL-${n}`,
      reference,
      order_ref: asString(body['order_ref']),
      carrier: 'Demo Parcel',
      service: asString(body['service']) ?? 'standard',
      tracking_number: tracking,
      tracking_url: `${ctx.selfUrl()}/track/${tracking}`,
      recipient,
      created_at: new Date().toISOString(),
    };
    labels.set(reference, label);
    const to = `${String(recipient['name'])}, ${String(recipient['city'])} ${String(recipient['country'])}`;
    return { status: 201, body: label, note: `label ${label.label_id} for ${reference}${label.order_ref ? ` (${short(label.order_ref)})` : ''} to ${to}: tracking ${tracking}` };
  }

  function track(number: string): DemoReply {
    const label = [...labels.values()].find((l) => l.tracking_number === number);
    if (!label) return { status: 404, body: { error: `no parcel ${number}` } };
    return { status: 200, body: { tracking_number: number, status: 'label_created', carrier: label.carrier, reference: label.reference, since: label.created_at } };
  }

  return {
    name: 'carrier',
    labels,
    // Tracking is public; making labels needs the API key.
    refuse: (req) => (req.method === 'GET' ? undefined : credentialProblem(header(req.headers, 'x-api-key'), ctx.settings.carrierApiKey, 'X-Api-Key')),
    routes: [
      { method: 'POST', pattern: /^\/labels$/, handle: (req) => createLabel(req) },
      { method: 'GET', pattern: /^\/track\/([^/]+)$/, handle: (_req, [n]) => track(n ?? '') },
      { method: 'GET', pattern: /^\/$/, handle: () => ({ status: 200, body: { labels: [...labels.values()] } }) },
    ],
  };
}
