import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { IndexKeyVersion } from '../../data/keys.js';
import { searchTerms, type SchemaLike } from '../../data/record-sealing.js';
import type { RecordType } from '../../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';

/**
 * The search terms of restored records, worked out on a second thread while the restoring one
 * reads the next records and writes the index: at a million contacts the keyed tokens of personal
 * words cost as much processor time as everything else in rebuilding the index. The worker is
 * handed records whose searchable values were already opened (keys never leave the restoring
 * thread except the one token key of each record type) and answers each record's terms, made by
 * the same searchTerms as every other write. When no worker can be started (an environment
 * without threads, or one that cannot load this file), the terms are made on the calling thread.
 */
export interface TermsJob {
  readonly type: RecordType;
  readonly rows: readonly Record<string, unknown>[];
}

/** Only what a search document is made of: the searchable fields that have a column. */
export function searchSchema(type: RecordType): SchemaLike {
  const def = RECORD_TYPE_DEFS[type];
  return { def, fields: def.fields.filter((f) => f.searchable && f.column), custom: [] };
}

const WORKER_MARK = 'rampart-restore-search-terms';
/**
 * The worker's heap is kept small, since its memory counts against the restore's: it holds two
 * batches at most. A worker that runs out stops, and its work is done on the calling thread.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 4 };

interface Request {
  readonly id: number;
  readonly type: RecordType;
  /** The token key of this record type, sent with its first job. */
  readonly tokenKey?: Uint8Array;
  readonly rows: readonly Record<string, unknown>[];
}

type Reply = { readonly id: number; readonly terms: string[][] } | { readonly id: number; readonly error: string };

/** An index key version that only makes word tokens, which is all searchTerms asks of it. */
function tokenIndex(keys: Map<string, Buffer>): IndexKeyVersion {
  return {
    version: 0,
    bits: 0,
    state: 'active',
    columnKey: () => {
      throw new Error('column keys are not needed for search terms');
    },
    tokenKey: (type: string) => {
      const key = keys.get(type);
      if (!key) throw new Error(`no token key for ${type}`);
      return key;
    },
  };
}

/**
 * What the worker runs: this file. Run from TypeScript sources (development, tests, benchmarks),
 * a worker thread does not inherit the parent's loader for them, so it registers tsx first.
 */
function workerEntry(): { script: URL | string; evaluated: boolean } {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return { script: self, evaluated: false };
  const loader = import.meta.resolve('tsx/esm/api');
  return { script: `import(${JSON.stringify(loader)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(self.href)}); })`, evaluated: true };
}

/** Makes search terms, on a worker thread when one starts, else on this one. */
export class SearchTermsMaker {
  private worker: Worker | null = null;
  private readonly sentKeys = new Set<string>();
  private readonly waiting = new Map<number, { job: TermsJob; resolve: (terms: string[][]) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failed = false;

  constructor(private readonly index: IndexKeyVersion) {}

  /** Starts the worker; answers false (and the terms are made here) when it cannot run. */
  async start(): Promise<boolean> {
    let worker: Worker;
    try {
      const entry = workerEntry();
      worker = new Worker(entry.script, { eval: entry.evaluated, workerData: { mark: WORKER_MARK }, resourceLimits: WORKER_LIMITS });
    } catch {
      return false;
    }
    const ready = await new Promise<boolean>((resolve) => {
      worker.once('message', (message: unknown) => resolve(message === 'ready'));
      worker.once('error', () => resolve(false));
      worker.once('exit', () => resolve(false));
    });
    if (!ready) {
      await worker.terminate().catch(() => undefined);
      return false;
    }
    worker.on('message', (reply: Reply) => {
      const waiting = this.waiting.get(reply.id);
      if (!waiting) return;
      this.waiting.delete(reply.id);
      if ('error' in reply) waiting.reject(new Error(reply.error));
      else waiting.resolve(reply.terms);
    });
    worker.on('error', () => this.fail());
    worker.on('exit', () => this.fail());
    this.worker = worker;
    return true;
  }

  /** A worker that stopped or broke: what it still owed, and everything after, is made here. */
  private fail(): void {
    this.failed = true;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const { job, resolve, reject } of waiting) {
      try {
        resolve(this.termsHere(job));
      } catch (error) {
        reject(error as Error);
      }
    }
  }

  private termsHere(job: TermsJob): string[][] {
    const schema = searchSchema(job.type);
    return job.rows.map((row) => searchTerms(schema, row, this.index));
  }

  /**
   * The terms of each row of the job, in order. The rows must not be changed until the answer
   * is in (the worker gets a copy; the fallback reads them as they are).
   */
  terms(job: TermsJob): Promise<string[][]> {
    if (!this.worker || this.failed) {
      try {
        return Promise.resolve(this.termsHere(job));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    const id = this.nextId++;
    const request: Request = {
      id,
      type: job.type,
      rows: job.rows,
      ...(this.sentKeys.has(job.type) ? {} : { tokenKey: this.index.tokenKey(job.type) }),
    };
    this.sentKeys.add(job.type);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { job, resolve, reject });
      this.worker!.postMessage(request);
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) {
      worker.removeAllListeners('exit');
      await worker.terminate().catch(() => undefined);
    }
  }
}

/** The worker: answers each request with the terms of its rows. */
function serve(): void {
  const keys = new Map<string, Buffer>();
  const index = tokenIndex(keys);
  const schemas = new Map<RecordType, SchemaLike>();
  parentPort!.on('message', (request: Request) => {
    try {
      if (request.tokenKey) keys.set(request.type, Buffer.from(request.tokenKey));
      let schema = schemas.get(request.type);
      if (!schema) {
        schema = searchSchema(request.type);
        schemas.set(request.type, schema);
      }
      const terms = request.rows.map((row) => searchTerms(schema, row, index));
      parentPort!.postMessage({ id: request.id, terms } satisfies Reply);
    } catch (error) {
      parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies Reply);
    }
  });
  parentPort!.postMessage('ready');
}

if (!isMainThread && (workerData as { mark?: string } | null)?.mark === WORKER_MARK) serve();
