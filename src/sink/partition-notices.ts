/**
 * Tells the catalog about lake partitions the sink has just written to, so the crawler registers
 * them without waiting for its schedule. Notices are batched and throttled (one send per interval at
 * most) to keep the crawl workflow's history short; a failed send is retried with the next batch.
 * The crawler ignores partitions it knows, so a repeated notice is harmless.
 */

export interface NoticeLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface PartitionNotifierOptions {
  /** Least time between two sends, in ms. Default 250. */
  intervalMs?: number;
  /** Most partitions in one notice; more go in the next. Default 500. */
  maxPerNotice?: number;
  log?: NoticeLogger;
}

export class PartitionNotifier {
  private readonly pending = new Set<string>();
  private readonly sent = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private lastSendAt = 0;
  private closed = false;
  private readonly intervalMs: number;
  private readonly maxPerNotice: number;

  constructor(
    private readonly send: (partitions: string[]) => Promise<void>,
    private readonly options: PartitionNotifierOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    this.maxPerNotice = options.maxPerNotice ?? 500;
  }

  /** Queues the partitions that have not been announced yet. */
  add(partitions: readonly string[]): void {
    for (const p of partitions) if (!this.sent.has(p)) this.pending.add(p);
    this.schedule();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends everything pending now (waiting for a send in flight first); for a drain. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending) await this.sending;
    while (this.pending.size > 0) {
      const before = this.pending.size;
      await this.sendBatch();
      if (this.pending.size >= before) return; // the send failed; the next run of the sink announces them
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.timer || this.sending || this.pending.size === 0) return;
    const wait = Math.max(0, this.lastSendAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sending = this.sendBatch().finally(() => {
        this.sending = undefined;
        this.schedule();
      });
    }, wait);
  }

  private async sendBatch(): Promise<void> {
    const batch = [...this.pending].slice(0, this.maxPerNotice);
    if (batch.length === 0) return;
    this.lastSendAt = Date.now();
    try {
      await this.send(batch);
      for (const p of batch) {
        this.pending.delete(p);
        this.sent.add(p);
      }
    } catch (err) {
      this.options.log?.warn('new-partition notice not delivered; retrying with the next one', {
        partitions: batch.length,
        error: String(err),
      });
    }
  }
}
