import { RESPONSE_KINDS, ALERT_SEVERITIES, type AlertSeverity, type ResponseKind } from './model.js';

/**
 * The rules the engine ships with: what each looks for, how severe it is, what it does on its own
 * and what it only offers to a person, and the thresholds an administrator may change (each with
 * its bounds, so a setting cannot switch a rule off by accident: that is what `enabled` is for).
 *
 * The defaults lean towards few alerts: a rule that cries wolf daily gets switched off, and then
 * catches nothing. Thresholds that depend on the user (reading, revealing) compare with the
 * user's own baseline and their role's peers and never go below a floor.
 */
export const RULE_KEYS = [
  'auth.brute_force',
  'auth.credential_stuffing',
  'auth.password_spraying',
  'auth.success_after_failures',
  'auth.new_device',
  'session.hijack',
  'data.read_spike',
  'data.slow_exfiltration',
  'data.bulk_export',
  'data.off_hours',
  'data.reveal_spike',
  'access.privilege_escalation',
  'account.dormant_active',
  'account.disabled_activity',
  'token.new_address',
  'honeytoken.touched',
  'request.probe',
  'audit.verification_failed',
  'data.mass_delete',
] as const;
export type RuleKey = (typeof RULE_KEYS)[number];

export type SettingSpec =
  | { readonly kind: 'integer'; readonly min: number; readonly max: number; readonly description: string }
  | { readonly kind: 'number'; readonly min: number; readonly max: number; readonly description: string }
  | { readonly kind: 'boolean'; readonly description: string }
  | { readonly kind: 'choice'; readonly values: readonly string[]; readonly description: string }
  | { readonly kind: 'timeZone'; readonly description: string }
  | { readonly kind: 'weekdays'; readonly description: string }
  | { readonly kind: 'roleCaps'; readonly min: number; readonly max: number; readonly description: string };

export type SettingValue = number | boolean | string | number[] | Record<string, number>;
export type RuleSettings = Readonly<Record<string, SettingValue>>;

export interface RuleDefinition {
  readonly key: RuleKey;
  readonly description: string;
  readonly severity: AlertSeverity;
  readonly automatic: readonly ResponseKind[];
  readonly suggested: readonly ResponseKind[];
  readonly settings: RuleSettings;
  readonly schema: Readonly<Record<string, SettingSpec>>;
}

/** A rule as it runs: the shipped definition with an administrator's changes applied. */
export interface ActiveRule {
  readonly key: RuleKey;
  readonly enabled: boolean;
  readonly severity: AlertSeverity;
  readonly settings: RuleSettings;
  readonly automatic: readonly ResponseKind[];
  readonly suggested: readonly ResponseKind[];
}

const minutes = (description: string, max = 1440): SettingSpec => ({ kind: 'integer', min: 1, max, description });
const count = (description: string, min = 1, max = 1_000_000): SettingSpec => ({ kind: 'integer', min, max, description });
const factor = (description: string): SettingSpec => ({ kind: 'number', min: 1, max: 100, description });

export const RULES: readonly RuleDefinition[] = [
  {
    key: 'auth.brute_force',
    description: 'Many failed sign-ins or second-factor codes against one account.',
    severity: 'medium',
    automatic: ['notify'],
    suggested: ['block_address', 'lock_account'],
    settings: { failures: 8, windowMinutes: 30 },
    schema: { failures: count('Failures against the account within the window', 2, 10_000), windowMinutes: minutes('Window in minutes') },
  },
  {
    key: 'auth.credential_stuffing',
    description: 'Failed sign-ins against many different accounts from one address.',
    severity: 'high',
    automatic: ['notify', 'block_address'],
    suggested: [],
    settings: { failures: 10, accounts: 5, windowMinutes: 15 },
    schema: {
      failures: count('Failed sign-ins from the address within the window', 2, 100_000),
      accounts: count('Different accounts tried from the address within the window', 2, 100_000),
      windowMinutes: minutes('Window in minutes'),
    },
  },
  {
    key: 'auth.password_spraying',
    description: 'Failed sign-ins against one account from many different addresses.',
    severity: 'high',
    automatic: ['notify'],
    suggested: ['lock_account', 'step_up'],
    settings: { addresses: 5, windowMinutes: 60 },
    schema: { addresses: count('Different addresses failing against the account within the window', 2, 100_000), windowMinutes: minutes('Window in minutes') },
  },
  {
    key: 'auth.success_after_failures',
    description: 'A sign-in that succeeds after many failures on the account, or from an address that failed against many.',
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions', 'lock_account'],
    settings: { accountFailures: 5, addressFailures: 10, windowMinutes: 30 },
    schema: {
      accountFailures: count('Failures on the account within the window before the success', 1, 10_000),
      addressFailures: count('Failures from the address within the window before the success (counted when the address tried as many accounts as credential stuffing needs)', 1, 100_000),
      windowMinutes: minutes('Window in minutes'),
    },
  },
  {
    key: 'auth.new_device',
    description: 'A sign-in from a device or network the user has never completed a sign-in from.',
    severity: 'low',
    automatic: ['notify'],
    suggested: ['end_sessions'],
    settings: { require: 'both' },
    schema: { require: { kind: 'choice', values: ['both', 'either', 'device', 'network'], description: 'What must be new: both the device and the network, either, or one of them' } },
  },
  {
    key: 'session.hijack',
    description: 'A session cookie that turns up in another browser than the one it was issued to.',
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions', 'lock_account'],
    settings: {},
    schema: {},
  },
  {
    key: 'data.read_spike',
    description: "Records read within an hour far above the user's own baseline and their role peers', and above a floor.",
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions', 'lock_account'],
    settings: { floor: 500, factor: 3, windowMinutes: 60, minHistoryHours: 8 },
    schema: {
      floor: count('Distinct records within the window below which it never fires', 10, 10_000_000),
      factor: factor('How many times the higher of the own and the peer baseline'),
      windowMinutes: minutes('Window in minutes'),
      minHistoryHours: count('Active hours before a baseline counts', 1, 10_000),
    },
  },
  {
    key: 'data.slow_exfiltration',
    description: "Records read per day far above the user's own baseline and their role peers', day after day.",
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions', 'lock_account'],
    settings: { dailyFloor: 1500, factor: 3, days: 2, minHistoryDays: 3 },
    schema: {
      dailyFloor: count('Distinct records a day below which a day never counts', 10, 10_000_000),
      factor: factor('How many times the higher of the own and the peer daily baseline'),
      days: count('Days in a row above the bar', 1, 30),
      minHistoryDays: count('Active days before a baseline counts', 1, 365),
    },
  },
  {
    key: 'data.bulk_export',
    description: "A large export, exports repeated within an hour, or more exported in a day than the role's cap.",
    severity: 'high',
    automatic: ['notify'],
    suggested: ['step_up', 'end_sessions'],
    settings: { exportRows: 2000, exportsPerHour: 5, dailyCap: 10_000, roleDailyCaps: {} },
    schema: {
      exportRows: count('Rows exported within an hour', 1, 100_000_000),
      exportsPerHour: count('Exports completed within an hour', 1, 10_000),
      dailyCap: count('Rows a user may export a day (roles without their own cap)', 1, 100_000_000),
      roleDailyCaps: { kind: 'roleCaps', min: 0, max: 100_000_000, description: 'Rows a day per role id; a user gets the highest of their roles' },
    },
  },
  {
    key: 'data.off_hours',
    description: "Personal data read outside the organisation's hours and outside the hours the user usually works.",
    severity: 'medium',
    automatic: ['notify'],
    suggested: ['step_up'],
    settings: { timeZone: 'UTC', startHour: 6, endHour: 22, workDays: [1, 2, 3, 4, 5], minRecords: 100, windowMinutes: 60, minHistoryDays: 5, usualShare: 0.05 },
    schema: {
      timeZone: { kind: 'timeZone', description: "The organisation's time zone (IANA name)" },
      startHour: { kind: 'integer', min: 0, max: 23, description: 'Working hours start (hour of the day)' },
      endHour: { kind: 'integer', min: 1, max: 24, description: 'Working hours end (hour of the day, exclusive)' },
      workDays: { kind: 'weekdays', description: 'Working days, 0 = Sunday … 6 = Saturday' },
      minRecords: count('Records read outside hours within the window', 1, 1_000_000),
      windowMinutes: minutes('Window in minutes'),
      minHistoryDays: count("Active days before the user's own hours count", 1, 365),
      usualShare: { kind: 'number', min: 0, max: 1, description: "Share of the user's reading near this hour that makes it usual for them" },
    },
  },
  {
    key: 'data.reveal_spike',
    description: "Masked values revealed within an hour far above the user's own baseline and their role peers'.",
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions'],
    settings: { floor: 20, factor: 3, windowMinutes: 60, minHistoryHours: 8 },
    schema: {
      floor: count('Reveals within the window below which it never fires', 2, 1_000_000),
      factor: factor('How many times the higher of the own and the peer baseline'),
      windowMinutes: minutes('Window in minutes'),
      minHistoryHours: count('Active hours before a baseline counts', 1, 10_000),
    },
  },
  {
    key: 'access.privilege_escalation',
    description: 'Someone widens their own role, grants export or reveal, or makes a new administrator.',
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions', 'lock_account'],
    settings: { newAdmin: true, exportOrReveal: true, selfGrant: true },
    schema: {
      newAdmin: { kind: 'boolean', description: 'A user given a role that manages users or roles' },
      exportOrReveal: { kind: 'boolean', description: 'Export or reveal granted to a user or a role that lacked it' },
      selfGrant: { kind: 'boolean', description: 'A role widened by someone who holds it' },
    },
  },
  {
    key: 'account.dormant_active',
    description: 'An account unused for a long time signs in or acts again.',
    severity: 'medium',
    automatic: ['notify'],
    suggested: ['step_up', 'end_sessions'],
    settings: { dormantDays: 30 },
    schema: { dormantDays: count('Days without activity that make an account dormant', 2, 3650) },
  },
  {
    key: 'account.disabled_activity',
    description: 'A disabled account, or a revoked token, is used.',
    severity: 'high',
    automatic: ['notify'],
    suggested: ['lock_account', 'block_address'],
    settings: {},
    schema: {},
  },
  {
    key: 'token.new_address',
    description: 'An API token is used from an address it has never been seen at.',
    severity: 'low',
    automatic: ['notify'],
    suggested: ['end_sessions'],
    settings: {},
    schema: {},
  },
  {
    key: 'honeytoken.touched',
    description: 'A decoy record is opened, revealed or exported, or read among many records at once.',
    severity: 'critical',
    automatic: ['notify', 'end_sessions', 'lock_account'],
    suggested: ['lockdown'],
    settings: { bulkRecords: 500, windowMinutes: 5 },
    schema: { bulkRecords: count('Records read within the window that make a list read with a decoy in it a bulk read', 2, 1_000_000), windowMinutes: minutes('Window in minutes') },
  },
  {
    key: 'request.probe',
    description: 'Injection or path-traversal probes, scanner paths, or a burst of refused and missing pages from one address.',
    severity: 'high',
    automatic: ['notify', 'block_address'],
    suggested: [],
    settings: { probes: 3, refusals: 40, windowMinutes: 5 },
    schema: {
      probes: count('Probe requests from the address within the window', 1, 1_000_000),
      refusals: count('Answers 401, 403 or 404 to the address within the window', 2, 1_000_000),
      windowMinutes: minutes('Window in minutes'),
    },
  },
  {
    key: 'audit.verification_failed',
    description: 'Verification of the audit log, or of an encrypted value, found damage.',
    severity: 'critical',
    automatic: ['notify'],
    suggested: ['lockdown'],
    settings: {},
    schema: {},
  },
  {
    key: 'data.mass_delete',
    description: 'Many records deleted by one user within minutes.',
    severity: 'high',
    automatic: ['notify', 'step_up'],
    suggested: ['end_sessions', 'lock_account'],
    settings: { deletes: 50, windowMinutes: 10 },
    schema: { deletes: count('Records deleted within the window', 2, 1_000_000), windowMinutes: minutes('Window in minutes') },
  },
];

const BY_KEY = new Map<string, RuleDefinition>(RULES.map((r) => [r.key, r]));

export function ruleDefinition(key: string): RuleDefinition | undefined {
  return BY_KEY.get(key);
}

export function isRuleKey(key: unknown): key is RuleKey {
  return typeof key === 'string' && BY_KEY.has(key);
}

/** The shipped rules, each as it runs without an administrator's changes. */
export function defaultRules(): ActiveRule[] {
  return RULES.map((r) => ({ key: r.key, enabled: true, severity: r.severity, settings: r.settings, automatic: r.automatic, suggested: r.suggested }));
}

export interface SettingProblem {
  field: string;
  message: string;
}

/**
 * Checks settings against a rule's schema: every key known, every value in bounds. Keys left out
 * keep their shipped default. Answers the complete settings, or the problems found.
 */
export function validateSettings(def: RuleDefinition, input: unknown): { settings: RuleSettings; problems: SettingProblem[] } {
  const problems: SettingProblem[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { settings: def.settings, problems: [{ field: 'settings', message: 'must be an object' }] };
  }
  const result: Record<string, SettingValue> = { ...def.settings };
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    const spec = def.schema[name];
    const field = `settings.${name}`;
    if (!spec) {
      problems.push({ field, message: 'is not a setting of this rule' });
      continue;
    }
    const checked = checkSetting(spec, value);
    if (typeof checked === 'string') problems.push({ field, message: checked });
    else result[name] = checked.value;
  }
  if (def.key === 'data.off_hours' && problems.length === 0 && Number(result.endHour) <= Number(result.startHour)) {
    problems.push({ field: 'settings.endHour', message: 'must be after startHour' });
  }
  return { settings: result, problems };
}

function checkSetting(spec: SettingSpec, value: unknown): { value: SettingValue } | string {
  switch (spec.kind) {
    case 'integer':
      return Number.isInteger(value) && (value as number) >= spec.min && (value as number) <= spec.max ? { value: value as number } : `must be a whole number from ${spec.min} to ${spec.max}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= spec.min && value <= spec.max ? { value } : `must be a number from ${spec.min} to ${spec.max}`;
    case 'boolean':
      return typeof value === 'boolean' ? { value } : 'must be true or false';
    case 'choice':
      return typeof value === 'string' && spec.values.includes(value) ? { value } : `must be one of ${spec.values.join(', ')}`;
    case 'timeZone':
      return typeof value === 'string' && value.length <= 64 && isTimeZone(value) ? { value } : 'must be an IANA time zone such as Europe/Berlin or Asia/Shanghai';
    case 'weekdays': {
      if (!Array.isArray(value) || value.length > 7 || !value.every((d) => Number.isInteger(d) && d >= 0 && d <= 6)) return 'must be a list of days 0 (Sunday) to 6 (Saturday)';
      return { value: [...new Set(value as number[])].sort((a, b) => a - b) };
    }
    case 'roleCaps': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of role id to a whole number';
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length > 100) return 'may name at most 100 roles';
      for (const [role, cap] of entries) {
        if (!/^[a-z][a-z0-9_-]{0,62}$/.test(role)) return 'names a role id that is not valid';
        if (!Number.isInteger(cap) || (cap as number) < spec.min || (cap as number) > spec.max) return `must give each role a whole number from ${spec.min} to ${spec.max}`;
      }
      return { value: Object.fromEntries(entries) as Record<string, number> };
    }
  }
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface PlanProblem {
  field: string;
  message: string;
}

/** Response lists: known kinds, no repeats, none both automatic and suggested. */
export function validatePlan(automatic: unknown, suggested: unknown): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const check = (list: unknown, field: string): ResponseKind[] => {
    if (!Array.isArray(list) || list.length > RESPONSE_KINDS.length) {
      problems.push({ field, message: `must be a list of ${RESPONSE_KINDS.join(', ')}` });
      return [];
    }
    if (!list.every((k) => (RESPONSE_KINDS as readonly unknown[]).includes(k))) problems.push({ field, message: `may only name ${RESPONSE_KINDS.join(', ')}` });
    if (new Set(list).size !== list.length) problems.push({ field, message: 'names a response twice' });
    return list as ResponseKind[];
  };
  const a = check(automatic, 'automatic');
  const s = check(suggested, 'suggested');
  if (a.some((k) => s.includes(k))) problems.push({ field: 'suggested', message: 'names a response that is already automatic' });
  return problems;
}

export function isSeverity(value: unknown): value is AlertSeverity {
  return (ALERT_SEVERITIES as readonly unknown[]).includes(value);
}
