/**
 * Work a request starts and does not wait for: an answer that must take the same time whether or
 * not there is anything to do (a password reset for an address nobody has), or a mail the answer
 * should not hang on. Each task is kept until it settles, so closing the app waits for them, and a
 * failure is reported by its name only: the error of a mail or a query may hold personal data.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly report: (message: string) => void) {}

  run(name: string, task: () => Promise<void>): void {
    const done: Promise<void> = task()
      .catch((error: unknown) => this.report(`${name} failed (${(error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error'})`))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Resolves once every task started so far, and any they started, has settled. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
