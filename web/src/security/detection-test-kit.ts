/** Answers of the alerts and detection API as the component tests give them. */

import type { DetectionRule } from './detection-rules';

export const ALERT_ID = '0190f000-0000-7000-8000-0000000000a1';
export const ACTOR_ID = '0190f000-0000-7000-8000-000000000005';

export const openAlert = {
  id: ALERT_ID,
  rule: 'data.read_spike',
  severity: 'high',
  status: 'open',
  summary: '1,240 records read in one hour; own baseline 40, role peers 55',
  actorKind: 'user',
  actorId: ACTOR_ID,
  sourceAddress: '203.0.113.7',
  eventCount: 12,
  firstSeenAt: '2026-11-30T08:00:00.000Z',
  lastSeenAt: '2026-11-30T08:59:00.000Z',
  createdAt: '2026-11-30T08:01:00.000Z',
  updatedAt: '2026-11-30T08:59:00.000Z',
  handledBy: null,
  handledAt: null,
  note: null,
  incidentId: null,
  version: 3,
};

export const probeAlert = {
  ...openAlert,
  id: '0190f000-0000-7000-8000-0000000000a2',
  rule: 'request.probe',
  severity: 'critical',
  status: 'acknowledged',
  summary: '38 probe requests from one address in 60 s',
  actorKind: 'anonymous',
  actorId: null,
  sourceAddress: '198.51.100.23',
  eventCount: 38,
};

export const responses = [
  { id: 'r-notify', kind: 'notify', target: null, state: 'done', details: {}, createdAt: '2026-11-30T08:01:00.000Z', executedAt: '2026-11-30T08:01:00.000Z', reversedAt: null, reversedBy: null },
  { id: 'r-step', kind: 'step_up', target: ACTOR_ID, state: 'done', details: {}, createdAt: '2026-11-30T08:01:00.000Z', executedAt: '2026-11-30T08:01:00.000Z', reversedAt: null, reversedBy: null },
  { id: 'r-lock', kind: 'lock_account', target: ACTOR_ID, state: 'suggested', details: {}, createdAt: '2026-11-30T08:01:00.000Z', executedAt: null, reversedAt: null, reversedBy: null },
];

export const alertDetail = {
  ...openAlert,
  evidence: { auditSeqs: [118, 119, 121], requestEventIds: [], figures: { recordsRead: 1240, baseline: 40, peers: 55 } },
  responses,
};

export const ACCESS_HANDLER = { records: {}, permissions: ['alerts.handle', 'audit.read'], stepUpUntil: null, lockdown: false };
export const ACCESS_HANDLER_NO_AUDIT = { ...ACCESS_HANDLER, permissions: ['alerts.handle'] };
export const ACCESS_AUDITOR = { records: {}, permissions: ['audit.read'], stepUpUntil: null, lockdown: false };

const integer = (min: number, max: number, description: string) => ({ kind: 'integer' as const, min, max, description });

const readSpikeDefaults: DetectionRule['defaults'] = { enabled: true, severity: 'high', settings: { floor: 300, factor: 3, windowMinutes: 60 }, automatic: ['notify', 'step_up'], suggested: ['end_sessions', 'lock_account'] };

export const rules: { items: DetectionRule[]; nextCursor: null } = {
  nextCursor: null,
  items: [
    {
      key: 'data.read_spike',
      description: 'Records read within an hour far above the baselines.',
      version: 2,
      updatedAt: '2026-11-29T08:00:00.000Z',
      updatedBy: ACTOR_ID,
      ...readSpikeDefaults,
      settings: { floor: 400, factor: 3, windowMinutes: 60 },
      defaults: readSpikeDefaults,
      schema: {
        floor: integer(10, 10_000_000, 'Distinct records within the window below which it never fires'),
        factor: { kind: 'number', min: 1, max: 100, description: 'How many times the higher of the own and the peer baseline' },
        windowMinutes: integer(1, 1440, 'Window in minutes'),
      },
    },
    {
      key: 'data.off_hours',
      description: 'Personal data read off hours.',
      version: 0,
      updatedAt: null,
      updatedBy: null,
      enabled: true,
      severity: 'medium',
      settings: { timeZone: 'UTC', workDays: [1, 2, 3, 4, 5], roleDailyCaps: { sales: 5000 } },
      automatic: ['notify'],
      suggested: ['step_up'],
      defaults: { enabled: true, severity: 'medium', settings: { timeZone: 'UTC', workDays: [1, 2, 3, 4, 5], roleDailyCaps: {} }, automatic: ['notify'], suggested: ['step_up'] },
      schema: {
        timeZone: { kind: 'timeZone', description: "The organisation's time zone (IANA name)" },
        workDays: { kind: 'weekdays', description: 'Working days, 0 = Sunday … 6 = Saturday' },
        roleDailyCaps: { kind: 'roleCaps', min: 0, max: 100_000_000, description: 'Rows a day per role id' },
      },
    },
    {
      key: 'request.probe',
      description: 'Injection and scanning probes from one address.',
      version: 1,
      updatedAt: null,
      updatedBy: null,
      enabled: false,
      severity: 'high',
      settings: { probes: 3 },
      automatic: ['notify', 'block_address'],
      suggested: [],
      defaults: { enabled: true, severity: 'high', settings: { probes: 3 }, automatic: ['notify', 'block_address'], suggested: [] },
      schema: { probes: integer(1, 1_000_000, 'Probe requests from the address within the window') },
    },
  ],
};

export const engineStatus = { leaseHolder: 'host-1:4242', auditSeq: 1200, auditHead: 1210, lagEntries: 10, lastRunAt: new Date().toISOString(), lockdown: null };

export const lockdown = { id: '0190f000-0000-7000-8000-0000000000d1', reason: 'Investigating a read spike', alertId: null, startedBy: ACTOR_ID, startedAt: '2026-11-30T09:00:00.000Z' };

export const blocks = {
  items: [{ id: '0190f000-0000-7000-8000-0000000000b1', address: '198.51.100.23', reason: 'request.probe', alertId: probeAlert.id, createdBy: 'detection', createdAt: '2026-11-30T08:01:00.000Z', until: '2026-11-30T09:01:00.000Z', liftedAt: null, liftedBy: null }],
};

export const lockedAccounts = {
  items: [{ userId: ACTOR_ID, name: 'Sam Seller', email: 'sam@example.com', lockedAt: '2026-11-30T08:01:00.000Z', lockedReason: 'honeytoken.touched' }],
};

export const honeytokens = {
  items: [{ recordId: '0190f000-0000-7000-8000-0000000000c1', recordType: 'contacts', label: 'Lena Fischer', inTrash: false, plantedBy: ACTOR_ID, plantedAt: '2026-11-29T08:00:00.000Z' }],
};
