import type { FastifyInstance } from 'fastify';
import type { AuthDeps } from '../modules/auth/auth.service.js';
import { networkAllows } from '../policy/networks.js';
import { AppError } from '../shared/errors.js';

/**
 * The server's own network rules (RAMPART_NETWORK_ALLOW / RAMPART_NETWORK_DENY), checked before
 * anything else on every request, pages included. A refusal is answered with
 * `request.network_refused` and kept in the audit log (errors.ts). Roles' own rules are checked with authentication (authenticate.ts).
 */
export function installNetworkRules(app: FastifyInstance, deps: AuthDeps): void {
  const rule = deps.config.network;
  if (rule.allow.length === 0 && rule.deny.length === 0) return;
  app.addHook('onRequest', async (request) => {
    const address = request.ip ?? null;
    if (networkAllows(rule, address)) return;
    throw new AppError('request.network_refused', 'Requests from this network are not allowed');
  });
}
