import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { AuthDeps } from '../modules/auth/auth.service.js';
import { networkAllows } from '../policy/networks.js';
import { AppError } from '../shared/errors.js';
import { isAddressBlocked } from '../modules/detection/containment.service.js';
import { noteBlocked } from './request-events.js';

/**
 * Address blocks (request.address_blocked), then the server's own network rules
 * (RAMPART_NETWORK_ALLOW / RAMPART_NETWORK_DENY), checked before anything else on every request,
 * pages included. A refusal is answered with
 * `request.network_refused` and kept in the audit log (errors.ts). Roles' own rules are checked with authentication (authenticate.ts).
 */
export function installNetworkRules(app: FastifyInstance, deps: AuthDeps): void {
  const rule = deps.config.network;
  const ruled = rule.allow.length > 0 || rule.deny.length > 0;
  app.addHook('onRequest', async (request) => {
    const address = request.ip ?? null;
    // Blocks that detection or an administrator put on an address come first: a blocked address
    // gets nothing else, not even a sign-in page. Read from a per-process view renewed each second.
    if (await isAddressBlocked(deps, address)) {
      noteBlocked(request);
      throw new AppError('request.address_blocked', 'Requests from this address are blocked for now');
    }
    if (!ruled || networkAllows(rule, address)) return;
    throw new AppError('request.network_refused', 'Requests from this network are not allowed');
  });
}

/**
 * RAMPART_TRUST_PROXY as Fastify takes it. A hop count becomes a function that trusts the nearest
 * hops: Fastify no longer takes a bare number, because such a count trusts the immediate peer
 * whoever it is (a client that reaches Rampart directly can then name any address).
 */
export function trustProxyOption(setting: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'number') return (_address: string, hop: number) => hop < setting;
  return typeof setting === 'boolean' ? setting : [...setting];
}

/** What the log says at start about a trust setting that lets clients choose their own address, or null. */
export function trustProxyWarning(setting: Config['trustProxy']): string | null {
  if (setting === true) {
    return 'RAMPART_TRUST_PROXY=true trusts X-Forwarded-For from anyone: every client can choose the address Rampart sees (and so dodge address blocks and rate limits, or get another address blocked). Behind a reverse proxy, set RAMPART_TRUST_PROXY to the proxy\'s address or range instead.';
  }
  if (typeof setting === 'number') {
    return `RAMPART_TRUST_PROXY=${setting} trusts the nearest ${setting} hop${setting === 1 ? '' : 's'} whoever they are: if clients can reach Rampart without going through the proxy, they can choose their own address. Prefer the proxy's address or range.`;
  }
  return null;
}
