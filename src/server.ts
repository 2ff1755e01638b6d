import type { Writable } from 'node:stream';
import { buildApp, type RampartApp } from './app.js';
import { ensureDataDir, type Config } from './config/config.js';
import { AuditCheckpointer } from './data/audit-checkpointer.js';
import { NoticeCourier } from './modules/notices/notices.service.js';
import { AlertCourier } from './modules/detection/notify.js';
import { TrashRetention } from './modules/trash/trash.job.js';
import { BackupScheduler } from './modules/backup/backup-scheduler.js';
import { auditOrigin, loadAuditSigningKey } from './audit/signing-key-file.js';
import { issueSetupLink } from './modules/setup/setup.service.js';

export interface ServerOptions {
  /** Where the listening address and the setup link are printed; standard output by default. */
  out?: Writable;
  /**
   * Close cleanly and exit the process on SIGTERM or SIGINT. On by default; tests that run a
   * server inside their own process turn it off and call `close()`.
   */
  handleSignals?: boolean;
}

export interface RunningServer {
  readonly rampart: RampartApp;
  /** The address the server answers on, with the real port when port 0 was asked for. */
  readonly url: string;
  /** The one-time setup link printed at start, or null when Rampart already has users. */
  readonly setupLink: string | null;
  /** Finishes in-flight requests, refuses new ones, then closes the database. */
  close(): Promise<void>;
  /** Settles once the server has closed, whoever closed it. */
  readonly closed: Promise<void>;
}

/**
 * Starts Rampart: data directory, database (migrated), HTTP server. On the first start with no
 * users it prints a one-time link for creating the first administrator; there is no default
 * password anywhere.
 */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const out = options.out ?? process.stdout;
  ensureDataDir(config);
  const rampart = await buildApp(config);
  let address: string;
  try {
    address = await rampart.app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await rampart.close();
    throw error;
  }
  const port = rampart.app.server.address();
  const publicUrl = withRealPort(config.publicUrl, typeof port === 'object' && port ? port.port : config.port);
  out.write(`Rampart is listening on ${address}\n`);
  const checkpointer = new AuditCheckpointer(
    rampart.deps,
    loadAuditSigningKey(config.audit.keyFile, auditOrigin(config.publicUrl), { create: true }),
    {
      entries: config.audit.checkpointEntries,
      seconds: config.audit.checkpointSeconds,
      file: config.audit.checkpointFile,
      url: config.audit.checkpointUrl,
      stdout: config.audit.checkpointStdout ? out : undefined,
    },
    { warn: (message) => rampart.app.log.warn(message), error: (message) => rampart.app.log.error(message) },
  );
  checkpointer.start();
  const courier = new NoticeCourier(rampart.deps, { warn: (message) => rampart.app.log.warn(message) });
  courier.start();
  const alertCourier = new AlertCourier(rampart.deps, { warn: (message) => rampart.app.log.warn(message) });
  alertCourier.start();
  // Records that outstayed RAMPART_TRASH_RETENTION_DAYS in the trash are purged; one process at a time.
  const retention = new TrashRetention(rampart.deps, { log: { warn: (message) => rampart.app.log.warn(message) } });
  retention.start();
  // Scheduled backups into RAMPART_BACKUP_DIR; one process at a time among those sharing the database.
  const backups = new BackupScheduler(rampart.deps, { warn: (message) => rampart.app.log.warn(message) });
  backups.start();

  const setupLink = await issueSetupLink(rampart.deps, publicUrl);
  if (setupLink) {
    out.write(
      [
        '',
        '  Rampart has no users yet. Open this one-time link to create the first administrator.',
        '  It works once and expires in one hour; restart the server for a new one.',
        '',
        `    ${setupLink}`,
        '',
        '',
      ].join('\n'),
    );
  }

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    // The last entries get their checkpoint before the database closes.
    closing ??= Promise.all([courier.stop(), alertCourier.stop(), retention.stop(), backups.stop()])
      .then(() => checkpointer.stop({ flush: true }))
      .then(() => rampart.close())
      .finally(resolveClosed);
    return closing;
  };

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (closing) {
        // A second signal while draining means the operator wants out now.
        process.exit(1);
      }
      out.write(`Received ${signal}; finishing open requests and closing the database\n`);
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`Rampart did not close cleanly: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    void closed.then(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
  }

  return { rampart, url: address, setupLink, close, closed };
}

/** With `port: 0` the system picks the port, so a derived public address must name the real one. */
function withRealPort(publicUrl: string, port: number): string {
  const url = new URL(publicUrl);
  if (url.port !== '0') return publicUrl;
  url.port = String(port);
  return url.toString().replace(/\/+$/, '');
}
