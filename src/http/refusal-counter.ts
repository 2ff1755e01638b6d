/**
 * Refusals of requests nobody is known behind (bad tokens, addresses outside the allowed
 * networks) are recorded at most once a window per address and kind, with how many more there
 * were since the last entry: a client spraying requests is in the audit log without being able
 * to fill it. Refusals of a known principal are all recorded.
 */
export class RefusalCounter {
  private readonly windows = new Map<string, { since: number; unrecorded: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxAddresses: number,
  ) {}

  /** The refusals not yet recorded when this one is to be recorded; null when it is only counted. */
  count(key: string, now: number): number | null {
    const window = this.windows.get(key);
    if (window && now - window.since < this.windowMs) {
      window.unrecorded += 1;
      return null;
    }
    if (this.windows.size >= this.maxAddresses) this.windows.clear();
    this.windows.set(key, { since: now, unrecorded: 0 });
    return window?.unrecorded ?? 0;
  }
}
