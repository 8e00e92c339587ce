import type { Logger } from 'pino';
import type { Project, SourceConfig, SystemConfig } from '../config/load.js';
import { getConnector } from '../connectors/registry.js';
import type { Connector, SourceContext, SourceMessage, Subscription } from '../connectors/types.js';
import { errorMessage } from '../errors.js';
import { newTraceId } from '../ids.js';
import type { Db, Queryable } from '../store/db.js';
import { countReceived, insertInbox } from '../store/inbox.js';
import type { ConnectorSecrets, OpenedSystem } from '../secrets/runtime.js';

export interface SourceRunnerOptions {
  db: Db;
  project: () => Project;
  log: Logger;
  /** Messages were committed to the inbox (wake the normalizer). */
  onCommitted: (count: number) => void;
  /** Sources wait while more inbox messages than this are waiting to be normalized (backpressure). */
  maxBacklog?: number;
  /** Resolves `${secret:…}` in system configs when a source opens (src/secrets/). */
  secrets?: ConnectorSecrets;
}

const MAX_EVENT_ID = 256;
const BACKPRESSURE_WAIT_MS = 100;

/**
 * Runs the project's poll and subscribe sources. Whatever a source receives
 * goes through the normal intake: committed to the inbox (deduplicated by
 * the source's event id) before it is acknowledged upstream, a poll cursor
 * in the same transaction as the messages it covers. While the hub is behind
 * (too many messages waiting to be normalized) sources wait rather than
 * buffer: a poll does not fetch, a subscription's `deliver` resolves later.
 */
export class SourceRunner {
  private running = false;
  private abort = new AbortController();
  private loops: Promise<void>[] = [];
  private subscriptions: Subscription[] = [];

  constructor(private readonly o: SourceRunnerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    for (const system of this.o.project().systems.values()) {
      const connector = getConnector(system.kind);
      if (!connector) continue;
      for (const source of system.sources.values()) {
        if (!source.enabled) continue;
        const mode = connector.manifest.sources?.[source.type]?.mode;
        if (mode === 'poll') this.loops.push(this.pollLoop(connector, system, source));
        if (mode === 'subscribe') this.loops.push(this.subscribeLoop(connector, system, source));
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.subscriptions.map((s) => s.close()));
    this.subscriptions = [];
    await Promise.allSettled(this.loops);
    this.loops = [];
  }

  private context(system: SystemConfig, source: SourceConfig): SourceContext {
    return {
      system: system.name,
      source: source.name,
      config: system.config,
      options: source.options,
      signal: this.abort.signal,
      log: this.o.log.child({ system: system.name, source: source.name }),
      egress: this.o.project().egress,
    };
  }

  /** Resolves when the inbox backlog is small enough to take more (or the runner stops). */
  private async room(): Promise<void> {
    const max = this.o.maxBacklog ?? 10_000;
    while (this.running && (await countReceived(this.o.db)) > max) await this.sleep(BACKPRESSURE_WAIT_MS);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async pollLoop(connector: Connector, system: SystemConfig, source: SourceConfig): Promise<void> {
    const ctx = this.context(system, source);
    let failures = 0;
    while (this.running) {
      await this.room();
      if (!this.running) break;
      let opened: OpenedSystem | undefined;
      try {
        const row = await this.o.db.get<{ cursor: string }>('SELECT cursor FROM source_cursors WHERE system = ? AND source = ?', [system.name, source.name]);
        const cursor: unknown = row ? JSON.parse(row.cursor) : undefined;
        // Secrets resolved per poll (cached briefly by the store), so a `secrets set` reaches the source.
        opened = await this.o.secrets?.open(system);
        const result = await connector.poll!(source.type, cursor, withSecrets(ctx, opened));
        const n = await this.o.db.tx(async (q) => {
          const fresh = await this.insert(q, system.name, source, result.messages);
          await q.run(
            `INSERT INTO source_cursors (system, source, cursor, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (system, source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
            [system.name, source.name, JSON.stringify(result.cursor ?? null), Date.now()],
          );
          return fresh;
        });
        if (n > 0) this.o.onCommitted(n);
        failures = 0;
        if (!result.more) await this.sleep(source.everyMs);
      } catch (e) {
        if (!this.running) break;
        failures++;
        const wait = Math.min(source.everyMs * 2 ** Math.min(failures, 6), 300_000);
        // A driver's error may quote its connection string: secret values are scrubbed first.
        ctx.log.error({ err: opened ? opened.scrub(errorMessage(e)) : errorMessage(e), retry_in_ms: wait }, 'poll failed; will retry');
        await this.sleep(wait);
      }
    }
  }

  private async subscribeLoop(connector: Connector, system: SystemConfig, source: SourceConfig): Promise<void> {
    const base = this.context(system, source);
    let failures = 0;
    while (this.running) {
      try {
        const opened = await this.o.secrets?.open(system);
        const sub = await connector.subscribe!(source.type, {
          ...withSecrets(base, opened),
          deliver: async (messages) => {
            await this.room();
            if (!this.running) throw new Error('the hub is stopping');
            const n = await this.o.db.tx((q) => this.insert(q, system.name, source, messages));
            if (n > 0) this.o.onCommitted(n);
          },
        });
        this.subscriptions.push(sub);
        base.log.info('subscribed');
        return;
      } catch (e) {
        if (!this.running) break;
        failures++;
        const wait = Math.min(1000 * 2 ** Math.min(failures, 6), 60_000);
        base.log.error({ err: errorMessage(e), retry_in_ms: wait }, 'subscribe failed; will retry');
        await this.sleep(wait);
      }
    }
  }

  /** Commits messages to the inbox; returns how many were new (repeats of an event id are dropped). */
  private async insert(q: Queryable, system: string, source: SourceConfig, messages: readonly SourceMessage[]): Promise<number> {
    let fresh = 0;
    const now = Date.now();
    for (const m of messages) {
      const eventId = m.eventId !== undefined && m.eventId.length > 0 ? m.eventId.slice(0, MAX_EVENT_ID) : undefined;
      const r = await insertInbox(q, {
        system,
        topic: m.topic ?? source.topic,
        eventId,
        contentType: 'application/json',
        body: JSON.stringify(m.body ?? null),
        traceId: newTraceId(),
        receivedAt: now,
      });
      if (!r.duplicate) fresh++;
    }
    return fresh;
  }
}

/** A source context with the system's secrets resolved (the project's config keeps the references). */
function withSecrets(ctx: SourceContext, opened: OpenedSystem | undefined): SourceContext {
  return opened ? { ...ctx, config: opened.config } : ctx;
}
