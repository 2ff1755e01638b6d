import type { NewAuditEntry } from '../../src/data/audit-log.js';

/** An audit entry for tests of the log itself: a read by one of three users, numbered `i`. */
export function auditEntry(i: number, extra: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    actorKind: 'user',
    actorId: `user-${i % 3}`,
    sessionId: `session-${i % 2}`,
    sourceAddress: '192.0.2.1',
    userAgent: 'test',
    channel: 'api',
    action: 'record.read',
    recordType: 'contacts',
    recordIds: [`0190f000-0000-7000-8000-${String(i).padStart(12, '0')}`],
    fields: ['email', 'lastName'],
    outcome: 'success',
    requestId: `req-${i}`,
    details: { z: i, a: 'first' },
    ...extra,
  };
}
