import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config/config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import type { DataDeps } from './data/record-store.js';
import { loadKeyring } from './data/keys.js';
import { sealExistingRecords } from './data/sealing-job.js';
import type { Keyring } from './crypto/keyring.js';
import { installAuthentication } from './http/authenticate.js';
import { installNetworkRules, trustProxyOption, trustProxyWarning } from './http/networks.js';
import { installRequestEvents } from './http/request-events.js';
import { answerFrameworkError, installErrorHandling, installJsonParser } from './http/errors.js';
import { registerApiRoutes } from './http/routes.js';
import { registerPages } from './http/pages.js';
import { tlsMaterial } from './http/tls.js';
import { systemClock, type Clock } from './shared/clock.js';
import { SimulatedClock } from './shared/simulated-clock.js';
import { resumeSimulatedClock } from './modules/simulation/simulation.service.js';
import type { AuthDeps } from './modules/auth/auth.service.js';
import { createMailer } from './modules/mail/mailer.js';
import { BackgroundWork } from './shared/background.js';
import { DetectionRunner } from './modules/detection/detection.runner.js';

export interface AppParts {
  /** A database to use instead of opening the configured one (tests). */
  database?: Database;
  clock?: Clock;
  /** A keyring to use instead of loading the configured key file (tests, benchmarks). */
  keyring?: Keyring;
  /** Skip migrations (the caller already ran them). */
  migrated?: boolean;
  /** Where log lines go instead of standard output (tests read them). */
  logStream?: { write(line: string): void };
}

export interface RampartApp {
  readonly app: FastifyInstance;
  readonly deps: AuthDeps;
  readonly database: Database;
  close(): Promise<void>;
}

/**
 * What a log line says about a request: never the query string (`?email=` filters carry personal
 * data), never headers (cookies, tokens), only the path, method and who asked from where.
 */
function describeRequest(request: { method: string; url: string; id: string; ip?: string }): Record<string, unknown> {
  return { id: request.id, method: request.method, path: request.url.split('?')[0], sourceAddress: request.ip };
}

/** The composition root: database, clock, HTTP layer and every route, wired once. */
export async function buildApp(config: Config, parts: AppParts = {}): Promise<RampartApp> {
  const database = parts.database ?? openDatabase(config.database);
  if (!parts.migrated) await migrateToLatest(database);
  const keyring = parts.keyring ?? (await loadKeyring(database.db, config));
  let log: FastifyInstance['log'] | undefined;
  const background = new BackgroundWork((message) => log?.warn(message));
  const deps: AuthDeps = { db: database.db, dialect: database.dialect, clock: parts.clock ?? (config.simulatedClock ? new SimulatedClock() : systemClock), config, keyring, mailer: createMailer(config.mail), background };
  if (config.simulatedClock) await resumeSimulatedClock(deps);
  // Whatever an earlier version stored in plaintext is sealed before the first request.
  await sealExistingRecords(deps);

  const https = await tlsMaterial(config);
  const app = Fastify({
    ...(https ? { https } : {}),
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel, serializers: { req: describeRequest }, ...(parts.logStream ? { stream: parts.logStream } : {}) },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: trustProxyOption(config.trustProxy),
    // Request ids are random, never derived from the request.
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: true } },
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: answerFrameworkError,
  });

  log = app.log;
  const proxyWarning = trustProxyWarning(config.trustProxy);
  if (proxyWarning) app.log.warn(proxyWarning);
  if (config.simulatedClock) {
    app.log.warn('RAMPART_SIMULATED_CLOCK is on: administrators can move this server\'s clock forward through the API, which ages sessions, tokens and links and stamps audit entries with simulated time. For rehearsal instances only; never run a production server like this.');
  }
  // Closing waits for mails and deferred work, which need the database a little longer.
  app.addHook('onClose', () => background.drain());
  installJsonParser(app);
  installErrorHandling(app, deps);
  installNetworkRules(app, deps);
  installRequestEvents(app, deps);
  await app.register(cookie);
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], connectSrc: ["'self'"], frameAncestors: ["'none'"], formAction: ["'self'"], objectSrc: ["'none'"], baseUri: ["'none'"] },
    },
    strictTransportSecurity: config.publicUrl.startsWith('https://') ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Rampart CRM API', version: '1', description: 'Every route but login and setup needs a session cookie (with the x-csrf-token header on writes) or an `Authorization: Bearer` API token.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `rampart token create` or POST /api/v1/tokens.' },
          session: { type: 'apiKey', in: 'cookie', name: 'rampart_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    // The top bar's logo is an SVG carrying an inline <style>; allow exactly that stylesheet by
    // its hash rather than 'unsafe-inline'. A new Swagger UI logo shows as a CSP error in the browser test.
    transformStaticCSP: (header: string) => header.replace("style-src 'self'", "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"),
    uiConfig: { docExpansion: 'list' },
  });
  installAuthentication(app, deps);

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerApiRoutes(app, deps);
  registerPages(app);
  // Breach detection reads what every process writes; it stops (and hands its lease on) before the database closes.
  const detection = config.detection ? new DetectionRunner(deps, { log: { warn: (message) => app.log.warn(message) } }) : null;
  if (detection) app.addHook('onClose', () => detection.stop());

  await app.ready();
  detection?.start();
  return {
    app,
    deps,
    database,
    async close() {
      await app.close();
      await database.close();
    },
  };
}

export type { DataDeps };
