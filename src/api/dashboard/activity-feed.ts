import type { Logger } from 'pino';
import { activityHead, activitySince, matchesActivity, type ActivityEvent, type ActivityFilter } from '../../store/activity.js';
import type { Db } from '../../store/db.js';

/** One browser watching the activity stream. */
export interface ActivitySubscriber {
  filter: ActivityFilter;
  send(events: ActivityEvent[]): void;
}

const POLL_MS = 1000;
const PAGE = 500;
/** How far back each poll looks again: a transaction may commit a little after the time it stamped. */
const OVERLAP_MS = 5000;
const INBOX_OVERLAP = 64;

/**
 * The live activity feed of one hub process. One poll of the database per
 * second serves every connected browser (each filters in memory), and it
 * reads what every hub process wrote — so on PostgreSQL with several
 * processes the stream shows all of their work, not only this one's. The
 * poll runs only while someone watches.
 */
export class ActivityFeed {
  private readonly subscribers = new Set<ActivitySubscriber>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Where the stream starts, being read; polls wait for it. */
  private head: Promise<void> | undefined;
  private inboxAfter = 0;
  private deliveriesSince = 0;
  /** What was already sent, within the overlap: ref|status|at. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  async subscribe(s: ActivitySubscriber): Promise<() => void> {
    this.subscribers.add(s);
    if (!this.timer) {
      // The first watcher starts the poll (synchronously, so two arriving together start one), from the newest rows.
      this.timer = setInterval(() => void this.poll(), POLL_MS);
      this.timer.unref();
      this.head = activityHead(this.db).then((head) => {
        this.inboxAfter = head.inboxId;
        this.deliveriesSince = head.deliveryAt + 1;
        this.seen.clear();
      });
    }
    const leave = () => {
      this.subscribers.delete(s);
      if (this.subscribers.size === 0) this.stop();
    };
    try {
      await this.head;
    } catch (e) {
      leave();
      throw e;
    }
    return leave;
  }

  get watching(): number {
    return this.subscribers.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.head = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.head) return;
    this.polling = true;
    try {
      await this.head;
      const events = await activitySince(this.db, Math.max(0, this.inboxAfter - INBOX_OVERLAP), Math.max(0, this.deliveriesSince - OVERLAP_MS), PAGE);
      const fresh: ActivityEvent[] = [];
      let maxInbox = this.inboxAfter;
      let maxAt = this.deliveriesSince;
      let deliveries = 0;
      for (const e of events) {
        const key = `${e.ref}|${e.status}|${e.at}`;
        if (e.kind === 'inbound') maxInbox = Math.max(maxInbox, e.position.id);
        else {
          maxAt = Math.max(maxAt, e.at);
          deliveries++;
        }
        if (this.seen.has(key)) continue;
        this.seen.set(key, e.at);
        fresh.push(e);
      }
      this.inboxAfter = maxInbox;
      // A full page: move on past it without overlap, or the next poll would read the same page again.
      this.deliveriesSince = deliveries >= PAGE ? maxAt + OVERLAP_MS : maxAt;
      const forget = Date.now() - 4 * OVERLAP_MS;
      for (const [k, at] of this.seen) if (at < forget && !k.startsWith('inbox:')) this.seen.delete(k);
      if (this.seen.size > 20_000) this.seen.clear();
      if (fresh.length === 0) return;
      for (const s of this.subscribers) {
        const mine = fresh.filter((e) => matchesActivity(e, s.filter));
        if (mine.length) s.send(mine);
      }
    } catch (err) {
      this.log.warn({ err }, 'activity feed poll failed');
    } finally {
      this.polling = false;
    }
  }
}
