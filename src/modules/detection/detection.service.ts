import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import type { Executor } from '../../db/database.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import type { AlertSeverity, ResponseKind } from '../../detection/model.js';
import { RULES, isRuleKey, isSeverity, ruleDefinition, validatePlan, validateSettings, type ActiveRule, type RuleDefinition, type RuleKey, type RuleSettings, type SettingSpec } from '../../detection/rules.js';
import { auditHead, selectAlertById, selectBaseline, selectProgress, selectRuleRow, selectRuleRows, upsertBaselines, writeRuleRow, type BaselineRow, type RuleRow } from './detection.repo.js';

/**
 * Detection as administrators see it: the rules with their settings (validated against each
 * rule's schema, versioned, audited), the tuning a false positive teaches, and how far the
 * engine has read. The engine itself runs in detection.runner.ts.
 */

/** A rule as listed and edited: what runs now, and what shipped. */
export interface RuleView {
  key: RuleKey;
  description: string;
  enabled: boolean;
  severity: AlertSeverity;
  settings: RuleSettings;
  automatic: ResponseKind[];
  suggested: ResponseKind[];
  /** 0 while the rule runs on its shipped defaults (no change stored yet). */
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
  defaults: { enabled: boolean; severity: AlertSeverity; settings: RuleSettings; automatic: ResponseKind[]; suggested: ResponseKind[] };
  /** What each setting means and its bounds. */
  schema: Record<string, SettingSpec>;
}

/** A rule's new settings: all of it, as PUT replaces it. Settings left out take their shipped default. */
export interface RuleInput {
  enabled: boolean;
  severity: AlertSeverity;
  settings: Record<string, unknown>;
  automatic: ResponseKind[];
  suggested: ResponseKind[];
  /** The version read (0 for a rule never changed). */
  version: number;
}

export interface DetectionStatus {
  /** The process running the engine now, or null when none holds a live lease. */
  leaseHolder: string | null;
  leaseUntil: string | null;
  /** The last audit entry the engine has read, and the newest there is. */
  auditSeq: number;
  auditHead: number;
  lagEntries: number;
  /** When the engine last moved on (its cursor or lease). */
  lastRunAt: string | null;
}

async function requireDetectionAdmin(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'alerts.handle', 'Detection settings need the alerts.handle permission');
}

/** Every rule with its settings, shipped order. */
export async function listRules(deps: DataDeps, ctx: ActorContext): Promise<RuleView[]> {
  await requireDetectionAdmin(deps, ctx);
  const rows = new Map((await selectRuleRows(deps.db)).map((r) => [r.key, r]));
  return RULES.map((def) => presentRule(def, rows.get(def.key)));
}

export async function getRule(deps: DataDeps, ctx: ActorContext, key: string): Promise<RuleView> {
  await requireDetectionAdmin(deps, ctx);
  const def = definitionOf(key);
  return presentRule(def, await selectRuleRow(deps.db, def.key));
}

/**
 * Replaces a rule's settings, if `version` is the one stored. Every field is checked first; a
 * refused change writes nothing. The engine picks the change up from the audit entry.
 */
export async function updateRule(deps: DataDeps, ctx: ActorContext, key: string, input: RuleInput): Promise<RuleView> {
  await requireDetectionAdmin(deps, ctx);
  const def = definitionOf(key);
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Partial<Record<keyof RuleInput, unknown>>;
  const problems: FieldProblem[] = [];
  if (typeof raw.enabled !== 'boolean') problems.push({ field: 'enabled', message: 'must be true or false' });
  if (!isSeverity(raw.severity)) problems.push({ field: 'severity', message: 'must be low, medium, high or critical' });
  const { settings, problems: settingProblems } = validateSettings(def, raw.settings);
  problems.push(...settingProblems);
  problems.push(...validatePlan(raw.automatic, raw.suggested));
  if (!Number.isInteger(raw.version) || (raw.version as number) < 0) problems.push({ field: 'version', message: 'must be the version read, a whole number' });
  if (problems.length > 0) throw new AppError('detection.invalid_rule', `The settings of ${def.key} are not valid`, problems);
  const version = raw.version as number;
  return inTransaction(deps, async (tx) => {
    const before = await selectRuleRow(tx.db, def.key);
    if ((before ? Number(before.version) : 0) !== version) throw staleRule();
    const now = tx.clock.now().toISOString();
    const automatic = raw.automatic as ResponseKind[];
    const suggested = raw.suggested as ResponseKind[];
    const row = {
      key: def.key,
      enabled: raw.enabled ? 1 : 0,
      severity: raw.severity as AlertSeverity,
      settings: JSON.stringify(settings),
      responses: JSON.stringify({ automatic, suggested }),
      updated_by: actorName(ctx),
      updated_at: now,
    };
    if (!(await writeRuleRow(tx.db, row, version))) throw staleRule();
    const previous = presentRule(def, before);
    const changed = (['enabled', 'severity', 'settings', 'automatic', 'suggested'] as const).filter((f) => JSON.stringify(previous[f]) !== JSON.stringify(f === 'enabled' ? raw.enabled : f === 'severity' ? raw.severity : f === 'settings' ? settings : f === 'automatic' ? automatic : suggested));
    await recordAudit(tx, ctx, {
      action: 'detection.rule_updated',
      recordType: 'detection_rules',
      recordIds: [def.key],
      fields: changed,
      details: { rule: def.key, enabled: raw.enabled as boolean, severity: raw.severity as string, settings, automatic, suggested, version: version + 1 },
    });
    return presentRule(def, { ...row, version: version + 1 });
  });
}

function staleRule(): AppError {
  return new AppError('record.version_conflict', 'The rule was changed by someone else; reload it and try again');
}

function actorName(ctx: ActorContext): string {
  const p = ctx.principal;
  return p.kind === 'system' ? `system:${p.job}` : p.kind === 'cli' ? (p.userId ?? `cli:${p.operator}`) : p.userId;
}

function definitionOf(key: string): RuleDefinition {
  const def = isRuleKey(key) ? ruleDefinition(key) : undefined;
  if (!def) throw new AppError('detection.rule_not_found', 'No such detection rule');
  return def;
}

function presentRule(def: RuleDefinition, row: Pick<RuleRow, 'enabled' | 'severity' | 'settings' | 'responses' | 'version' | 'updated_at' | 'updated_by'> | undefined): RuleView {
  const active = activeRuleOf(def, row);
  return {
    key: def.key,
    description: def.description,
    enabled: active.enabled,
    severity: active.severity,
    settings: active.settings,
    automatic: [...active.automatic],
    suggested: [...active.suggested],
    version: row ? Number(row.version) : 0,
    updatedAt: row?.updated_at ?? null,
    updatedBy: row?.updated_by ?? null,
    defaults: { enabled: true, severity: def.severity, settings: def.settings, automatic: [...def.automatic], suggested: [...def.suggested] },
    schema: { ...def.schema },
  };
}

/**
 * A rule as it runs, from its stored row. A row that no longer validates (a setting this version
 * bounds more tightly) runs on the shipped value of what is wrong, never on the bad value.
 */
function activeRuleOf(def: RuleDefinition, row: Pick<RuleRow, 'enabled' | 'severity' | 'settings' | 'responses'> | undefined): ActiveRule {
  if (!row) return { key: def.key, enabled: true, severity: def.severity, settings: def.settings, automatic: def.automatic, suggested: def.suggested };
  let stored: Record<string, unknown> = {};
  try {
    stored = JSON.parse(row.settings) as Record<string, unknown>;
  } catch {
    stored = {};
  }
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(typeof stored === 'object' && stored !== null ? stored : {})) {
    if (validateSettings(def, { [name]: value }).problems.length === 0) settings[name] = value;
  }
  let responses: { automatic?: unknown; suggested?: unknown } = {};
  try {
    responses = JSON.parse(row.responses) as typeof responses;
  } catch {
    responses = {};
  }
  const planOk = validatePlan(responses.automatic, responses.suggested).length === 0;
  return {
    key: def.key,
    enabled: Boolean(row.enabled),
    severity: isSeverity(row.severity) ? row.severity : def.severity,
    settings: validateSettings(def, settings).settings,
    automatic: planOk ? (responses.automatic as ResponseKind[]) : def.automatic,
    suggested: planOk ? (responses.suggested as ResponseKind[]) : def.suggested,
  };
}

/** Every rule as it runs now, for the engine. */
export async function activeRules(db: Executor): Promise<ActiveRule[]> {
  const rows = new Map((await selectRuleRows(db)).map((r) => [r.key, r]));
  return RULES.map((def) => activeRuleOf(def, rows.get(def.key)));
}

// ---- False positives -----------------------------------------------------------------------------

/** The most a false positive can lift a subject's bar: fifty times the rule's. */
const MAX_TOLERANCE = 50;
export const TOLERANCE_METRIC = 'tolerance:';

/** `auth.brute_force:user:<id>` → the rule, and the subject as stored in detection_baselines. */
export function splitSubjectKey(subjectKey: string): { rule: string; kind: string; id: string } {
  const at = subjectKey.indexOf(':');
  const rule = at < 0 ? subjectKey : subjectKey.slice(0, at);
  const subject = at < 0 ? '' : subjectKey.slice(at + 1);
  const kindEnd = subject.indexOf(':');
  return kindEnd < 0 ? { rule, kind: subject, id: '' } : { rule, kind: subject.slice(0, kindEnd), id: subject.slice(kindEnd + 1) };
}

/**
 * Teaches the engine that an alert was ordinary work: the bar of that rule for that subject (a
 * user, an address) rises above what was seen, by at least half again each time, up to fifty
 * times the rule's. Runs in the caller's transaction (marking the alert); the engine, in whatever
 * process holds it, reloads tolerances when it reads the alert's `alert.false_positive` entry.
 */
export async function tuneForFalsePositive(deps: DataDeps, alertId: string): Promise<{ tolerance: number } | null> {
  const alert = await selectAlertById(deps.db, alertId);
  if (!alert) return null;
  const { rule, kind, id } = splitSubjectKey(alert.subject_key);
  const metric = `${TOLERANCE_METRIC}${rule}`;
  const stored = await selectBaseline(deps.db, kind, id, metric);
  let current = 1;
  if (stored) {
    const factor = Number((JSON.parse(stored.data) as { factor?: unknown }).factor);
    if (Number.isFinite(factor) && factor >= 1) current = factor;
  }
  let figures: Record<string, unknown> = {};
  try {
    figures = ((JSON.parse(alert.evidence) as { figures?: Record<string, unknown> }).figures ?? {}) as Record<string, unknown>;
  } catch {
    figures = {};
  }
  const observed = Number(figures.observed);
  const threshold = Number(figures.threshold);
  const needed = Number.isFinite(observed) && Number.isFinite(threshold) && threshold > 0 ? (current * observed * 1.25) / threshold : 0;
  const tolerance = Math.min(MAX_TOLERANCE, Math.max(current * 1.5, needed));
  const now = deps.clock.now().toISOString();
  await upsertBaselines(deps.db, [
    {
      subject_kind: kind as BaselineRow['subject_kind'],
      subject_id: id,
      metric,
      data: JSON.stringify({ factor: Math.round(tolerance * 100) / 100, falsePositives: (stored ? Number((JSON.parse(stored.data) as { falsePositives?: unknown }).falsePositives) || 0 : 0) + 1, lastAlertId: alert.id }),
      updated_at: now,
    },
  ]);
  return { tolerance };
}

/** Every tolerance, by the subject key of the alerts it applies to. */
export async function loadTolerances(db: Executor): Promise<Map<string, number>> {
  const rows = await db.selectFrom('detection_baselines').select(['subject_kind', 'subject_id', 'metric', 'data']).where('metric', 'like', `${TOLERANCE_METRIC}%`).execute();
  const map = new Map<string, number>();
  for (const row of rows) {
    let factor = Number.NaN;
    try {
      factor = Number((JSON.parse(row.data) as { factor?: unknown }).factor);
    } catch {
      continue;
    }
    if (!Number.isFinite(factor) || factor < 1) continue;
    const rule = row.metric.slice(TOLERANCE_METRIC.length);
    const subject = row.subject_id === '' ? row.subject_kind : `${row.subject_kind}:${row.subject_id}`;
    map.set(`${rule}:${subject}`, Math.min(MAX_TOLERANCE, factor));
  }
  return map;
}

// ---- Status --------------------------------------------------------------------------------------

/** How far the engine has read and who runs it. */
export async function detectionStatus(deps: DataDeps, ctx: ActorContext): Promise<DetectionStatus> {
  await requireDetectionAdmin(deps, ctx);
  const [progress, head] = await Promise.all([selectProgress(deps.db), auditHead(deps.db)]);
  const now = deps.clock.now().toISOString();
  const live = progress?.lease_holder && progress.lease_until && progress.lease_until > now;
  const auditSeq = Number(progress?.audit_seq ?? 0);
  return {
    leaseHolder: live ? progress!.lease_holder : null,
    leaseUntil: live ? progress!.lease_until : null,
    auditSeq,
    auditHead: head.seq,
    lagEntries: Math.max(0, head.seq - auditSeq),
    lastRunAt: progress?.updated_at ?? null,
  };
}

