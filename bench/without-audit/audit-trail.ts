/** What src/data/audit-trail.ts exports, writing nothing: the baseline of the audit benchmark. */
export type { AnonymousRequest, AuditEvent } from '../../src/data/audit-trail.js';

export async function recordAudit(): Promise<void> {}

export async function recordAnonymousAudit(): Promise<void> {}
