import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The hub's Prometheus metrics, one registry per hub instance. The delivery
 * thread (src/delivery/thread.ts) keeps its own, without the process-wide
 * defaults, and the main thread's /metrics adds it in.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'causeway_process_' });
  return {
    registry,
    inbound: new Counter({
      name: 'causeway_inbound_messages_total',
      help: 'Inbound messages by system, topic and outcome (accepted, duplicate, rejected)',
      labelNames: ['system', 'topic', 'outcome'] as const,
      registers: [registry],
    }),
    inboxBatch: new Histogram({
      name: 'causeway_inbox_commit_batch_size',
      help: 'Messages committed per inbox transaction (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    normalized: new Counter({
      name: 'causeway_normalized_messages_total',
      help: 'Inbox messages normalized, by result (processed, failed)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    recordWrites: new Counter({
      name: 'causeway_record_writes_total',
      help: 'Record writes by outcome (created, updated, unchanged, deleted, refused)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'causeway_deliveries_total',
      help: 'Delivery attempts finished, by system, flow and what the delivery became (done, retrying, dead, pending, superseded)',
      labelNames: ['system', 'flow', 'outcome'] as const,
      registers: [registry],
    }),
    handoffs: new Counter({
      name: 'causeway_delivery_handoffs_total',
      help: 'Deliveries that went straight from routing to this process\'s worker, already leased, instead of being claimed (src/delivery/handoff.ts), by system',
      labelNames: ['system'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'causeway_dead_letters_total',
      help: 'Deliveries that became dead letters, by system and flow',
      labelNames: ['system', 'flow'] as const,
      registers: [registry],
    }),
    attemptSeconds: new Histogram({
      name: 'causeway_delivery_attempt_seconds',
      help: 'Duration of one delivery attempt (mapping, call, write-back mapping)',
      labelNames: ['system'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers: [registry],
    }),
    deliveryBacklog: new Gauge({
      name: 'causeway_delivery_backlog',
      help: 'Deliveries waiting (pending or retrying) per system, counted every 10 s by the leader',
      labelNames: ['system'] as const,
      registers: [registry],
    }),
    circuitOpen: new Gauge({
      name: 'causeway_circuit_open',
      help: '1 while a system circuit is open or half-open',
      labelNames: ['system'] as const,
      registers: [registry],
    }),
    inboxBacklog: new Gauge({
      name: 'causeway_inbox_backlog',
      help: 'Inbox messages waiting to be normalized',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
