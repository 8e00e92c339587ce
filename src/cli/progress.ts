/**
 * Progress of a long job: a bar with rate and ETA on a terminal, a plain
 * line every few seconds otherwise (CI logs), nothing when asked for none.
 */
export type ProgressMode = 'bar' | 'lines' | 'none';

const fmt = (n: number) => n.toLocaleString('en-US');

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  /** (time, done) samples of the last ~15 s: the rate follows the current pace, not the average since the start. */
  private samples: Array<[number, number]> = [];
  private lastLineAt = 0;
  private lastLine = '';
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly mode: ProgressMode,
    private readonly now: () => number = Date.now,
  ) {}

  /** Items per second over the recent window, or undefined before there is a measurable change. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last[0] - first[0] < 500 || last[1] <= first[1]) return undefined;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }

  update(done: number, total: number, note = ''): void {
    const t = this.now();
    this.samples.push([t, done]);
    while (this.samples.length > 2 && (this.samples[0]?.[0] ?? t) < t - 15_000) this.samples.shift();
    if (this.mode === 'none') return;
    const rate = this.rate();
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const eta = rate ? duration(((total - done) / rate) * 1000) : '?';
    const stats = `${fmt(done)}/${fmt(total)} ${String(pct).padStart(3)}%  ${rate ? `${fmt(Math.round(rate))}/s` : '-/s'}  ETA ${done >= total ? '0s' : eta}${note ? `  ${note}` : ''}`;
    if (this.mode === 'bar') {
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - stats.length - 4));
      const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : width;
      this.stream.write(`\r\u001b[2K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${stats}`);
      this.drawn = true;
      return;
    }
    // Plain lines: at most one every 2 s, and only when the count moved (the last one at once).
    const key = `${done}/${total} ${note}`;
    if (key !== this.lastLine && (t - this.lastLineAt >= 2000 || done >= total)) {
      this.stream.write(`${fmt(done)}/${fmt(total)} (${pct}%)${rate && done < total ? `, ${fmt(Math.round(rate))}/s, ETA ${eta}` : ''}${note ? `, ${note}` : ''}\n`);
      this.lastLine = key;
      this.lastLineAt = t;
    }
  }

  /** Ends the bar's line so what follows starts on its own. */
  end(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
