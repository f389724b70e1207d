/**
 * A resource opened on first use, shared by whoever uses it at the same time, and closed once nobody
 * has used it for a while. The compaction's DuckDB instance is one: it runs an hour apart, and an
 * instance kept open between runs holds the memory of the last one (DuckDB gives it back to the system
 * only when the instance is closed: a process at about 950 MB after a 5 M-row sort was at 100 MB once
 * it was closed).
 */
export interface IdleInstanceOptions<T> {
  open: () => Promise<T>;
  close: (resource: T) => void;
  /** Closed this many ms after its last user is done. */
  idleMs: number;
}

export class IdleInstance<T> {
  private resource: Promise<T> | undefined;
  private users = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: IdleInstanceOptions<T>) {}

  /** Runs `work` with the resource, opening it if it is closed; a failed open is tried again by the next use. */
  async use<R>(work: (resource: T) => Promise<R>): Promise<R> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.users++;
    try {
      if (!this.resource) {
        const opening = this.options.open();
        this.resource = opening;
        opening.catch(() => {
          if (this.resource === opening) this.resource = undefined;
        });
      }
      return await work(await this.resource);
    } finally {
      if (--this.users === 0) {
        this.timer = setTimeout(() => void this.close(), this.options.idleMs);
        this.timer.unref();
      }
    }
  }

  /** Whether the resource is open (or opening). */
  get isOpen(): boolean {
    return this.resource !== undefined;
  }

  /** Closes the resource now if nobody is using it; a later use opens it again. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.users > 0 || !this.resource) return;
    const resource = this.resource;
    this.resource = undefined;
    const opened = await resource.catch(() => undefined);
    if (opened !== undefined) this.options.close(opened);
  }
}
