import type { Generated } from 'kysely';

/** Row types of the tables that are not CRM records. CRM record tables are described by the field registry. */
export interface TeamsTable {
  id: string;
  name: string;
  parent_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface RolesTable {
  id: string;
  name: string;
  description: string;
  builtin: number;
  created_at: string;
  /** The role's grants: a RoleDefinition (src/policy/model.ts) as JSON. */
  definition: string;
  version: number;
  updated_at: string | null;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  team_id: string | null;
  status: 'active' | 'disabled';
  locale: string;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
  /** Set while detection or an administrator has locked the account; it signs in again once lifted. */
  locked_at: string | null;
  locked_reason: string | null;
}

export interface UserRolesTable {
  user_id: string;
  role_id: string;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  source_address: string | null;
  user_agent: string | null;
  revoked_at: string | null;
  /** `mfa`: the password is checked, the second factor not yet; `enrol`: a second factor must be set up first; `active`. */
  stage: SessionStage;
  /** When the holder last proved a second factor: sign-in or step-up. */
  mfa_at: string | null;
  /** Second-factor codes tried in this session, right or wrong; at most five before it ends. */
  mfa_attempts: number;
  /** The browser family the session started in; null for sessions from before it was kept. */
  browser: string | null;
  /** Minutes without a request after which the session ends; null: the configured default. */
  idle_minutes: number | null;
  /** JSON: a single sign-on's link and roles, applied when this partial session completes. */
  sso_pending: string | null;
}

export type SessionStage = 'mfa' | 'enrol' | 'active';

export interface MfaFactorsTable {
  id: string;
  user_id: string;
  kind: 'totp';
  label: string;
  kek_id: string | null;
  /** The TOTP secret wrapped by the KEK, base64. */
  secret_wrapped: string | null;
  /** The time step of the last code accepted: a code of that step or an earlier one is refused. */
  last_step: number | string | null;
  created_at: string;
  confirmed_at: string | null;
  last_used_at: string | null;
}

export interface PasskeysTable {
  /** The credential id, base64url. */
  id: string;
  user_id: string;
  label: string;
  /** The COSE public key, base64url. */
  public_key: string;
  counter: number | string;
  /** JSON list of transports the authenticator named. */
  transports: string;
  created_at: string;
  last_used_at: string | null;
}

export interface WebauthnChallengesTable {
  id: string;
  challenge: string;
  purpose: 'register' | 'verify' | 'sign-in';
  user_id: string | null;
  session_id: string | null;
  created_at: string;
  expires_at: string;
}

export interface SignInFailuresTable {
  id: string;
  /** SHA-256 of the email as typed and normalised: the same for a known and an unknown address. */
  account_key: string;
  source_address: string | null;
  occurred_at: string;
}

export interface SignInLocksTable {
  account_key: string;
  locked_at: string;
  failures: number;
}

export interface RecoveryCodesTable {
  code_hash: string;
  user_id: string;
  created_at: string;
  used_at: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  scopes: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  last_used_address: string | null;
  revoked_at: string | null;
}

export interface TokenAddressesTable {
  token_id: string;
  address: string;
  first_seen_at: string;
}

export interface PasswordResetsTable {
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** A newer link, or a password change, ended this one before use. */
  superseded_at: string | null;
}

export type NoticeKind = 'sign_in.new_device' | 'sign_in.locked' | 'mfa.changed' | 'password.changed' | 'token.new_address' | 'security.alert' | 'approval.requested' | 'approval.decided';

export interface NoticesTable {
  id: string;
  user_id: string;
  kind: NoticeKind;
  /** JSON: what the notice says (device, address, what changed); never a secret. */
  details: string;
  created_at: string;
  read_at: string | null;
  /** The mail copy: `pending` until a server process claims it (`sending`), then `sent` or `failed`. */
  mail_state: 'pending' | 'sending' | 'sent' | 'failed';
  mail_attempts: number;
  mail_claimed_at: string | null;
  /** When the mail is due: at once, then later after each failed try. */
  mail_next_at: string;
}

export interface KnownSignInsTable {
  user_id: string;
  /** `device`: "Firefox on Linux"; `network`: an IPv4 /24 or IPv6 /48. */
  kind: 'device' | 'network';
  value: string;
  first_seen_at: string;
  last_seen_at: string;
}

export interface SetupTokensTable {
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface PipelinesTable {
  id: string;
  name: string;
  is_default: number;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface PipelineStagesTable {
  id: string;
  pipeline_id: string;
  name: string;
  position: number;
  probability: number;
  outcome: 'open' | 'won' | 'lost';
}

export interface TagsTable {
  id: string;
  name: string;
  color: string;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface RecordTagsTable {
  tag_id: string;
  record_type: string;
  record_id: string;
}

export interface CustomFieldsTable {
  id: string;
  record_type: string;
  key: string;
  label: string;
  type: string;
  classification: string;
  options: string;
  required: number;
  position: number;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface CustomValuesTable {
  record_type: string;
  record_id: string;
  field_id: string;
  /** Sealed for personal and sensitive custom fields. */
  value: string;
  /** The blind index of a personal value, for exact-match filters. */
  blind: number | null;
  /** The data key version of a sealed value. */
  key_version: number | null;
}

export interface DataKeysTable {
  subject_id: string;
  version: number;
  kek_id: string;
  /** base64 of the data key sealed under the KEK. */
  wrapped: string;
  created_at: string;
}

export interface IndexKeysTable {
  version: number;
  kek_id: string;
  wrapped: string;
  bits: number;
  state: 'active' | 'building' | 'retired';
  created_at: string;
}

export interface ErasuresTable {
  subject_id: string;
  erased_at: string;
}

export interface IntegrityEventsTable {
  id: string;
  occurred_at: string;
  table_name: string;
  column_name: string;
  record_id: string;
  reason: string;
}

export interface KeyJobsTable {
  name: string;
  state: 'pending' | 'running' | 'done';
  position: string | null;
  done: number;
  updated_at: string;
}

export interface RevealsTable {
  id: string;
  occurred_at: string;
  user_id: string | null;
  actor: string;
  channel: string;
  record_type: string;
  record_id: string;
  /** JSON list of the field keys revealed. */
  fields: string;
  reason: string;
  request_id: string | null;
  source_address: string | null;
}

/**
 * Refusals recorded before the audit log took them over (migration 0006). Nothing writes here
 * any more; the rows are kept as the evidence they are.
 */
export interface SecurityEventsTable {
  id: string;
  occurred_at: string;
  /** What happened, e.g. `network_refused`. */
  kind: string;
  user_id: string | null;
  source_address: string | null;
  /** A sentence for the administrators; never personal data or secrets. */
  detail: string;
}

export interface AuditEntriesTable {
  /** PostgreSQL answers bigint as a string. */
  seq: number | string;
  occurred_at: string;
  actor_kind: string;
  actor_id: string | null;
  session_id: string | null;
  source_address: string | null;
  user_agent: string | null;
  channel: string;
  action: string;
  record_type: string | null;
  /** JSON list. */
  record_ids: string;
  /** JSON list of field names. */
  fields: string;
  outcome: string;
  request_id: string | null;
  /** JSON object. */
  details: string;
  /** Hex. */
  prev_hash: string;
  /** Hex. */
  entry_hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number | string;
  entry_hash: string;
}

export interface AuditCheckpointsTable {
  tree_size: number | string;
  /** Hex. */
  root_hash: string;
  signed_at: string;
  /** The signed note, exactly as sent off the server. */
  note: string;
}

/** The hash of each entry moved into an archive file, so the tree still spans the whole log. */
export interface AuditArchivedTable {
  seq: number | string;
  entry_hash: string;
}

/** One archive file: the entries from_seq to through_seq, its SHA-256, the checkpoint signed at its end. */
export interface AuditArchivesTable {
  through_seq: number | string;
  from_seq: number | string;
  archived_at: string;
  file_sha256: string;
  note: string;
}

/** A single sign-on in progress: from the redirect to the provider until its answer comes back, once. */
export interface SsoSignInsTable {
  /** SHA-256 of the `state` sent to the provider. */
  state_hash: string;
  /** SHA-256 of the cookie that binds the sign-in to the browser that started it. */
  browser_hash: string;
  /** The PKCE verifier; the provider saw only its S256 challenge. */
  code_verifier: string;
  nonce: string;
  /** The session that asked to confirm itself at the provider (step-up); null for a sign-in. */
  session_id: string | null;
  created_at: string;
  expires_at: string;
}

/** A user's identity at an OpenID provider: the issuer and the subject it names them by. */
export interface SsoIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  created_at: string;
  last_used_at: string | null;
}

/** A user's saved list view; `definition` is JSON (columns, sort, filters) and only its owner reads it. */
export interface SavedViewsTable {
  id: string;
  user_id: string;
  record_type: string;
  name: string;
  definition: string;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

/** Something the HTTP layer saw go wrong or look hostile: a refusal, a missing address, a probe. */
export interface RequestEventsTable {
  /** UUIDv7: ordered by time. */
  id: string;
  occurred_at: string;
  source_address: string | null;
  user_agent: string | null;
  method: string;
  /** The matched route pattern, or the raw path without its query, cut to 200 characters. */
  path: string;
  status: number;
  kind: 'refused' | 'not_found' | 'probe' | 'rate_limited' | 'blocked';
  /** For probes: what the request tried (`sql`, `script`, `traversal`, `scanner`). */
  probe: string | null;
  actor_kind: string | null;
  actor_id: string | null;
  session_id: string | null;
  /** How many more like it from the same address were only counted, not stored. */
  repeats: number;
}

/** Where the detection engine has read up to in each stream, and which process holds it. */
export interface DetectionProgressTable {
  consumer: string;
  audit_seq: number | string;
  request_event_id: string;
  lease_holder: string | null;
  lease_until: string | null;
  updated_at: string;
}

/** An administrator's settings for one rule; a rule without a row runs on its shipped defaults. */
export interface DetectionRulesTable {
  key: string;
  enabled: number;
  severity: AlertSeverity;
  /** JSON: the rule's thresholds. */
  settings: string;
  /** JSON `{ automatic, suggested }`: the response kinds taken at once and those offered to a person. */
  responses: string;
  version: number;
  updated_by: string | null;
  updated_at: string;
}

/** What the engine learned of a user's (or a role's) ordinary behaviour, per metric. */
export interface DetectionBaselinesTable {
  /** Whose behaviour: a user's or a role's; or whom a false-positive tolerance is for (an address, a token, the audit log). */
  subject_kind: 'user' | 'role' | 'address' | 'token' | 'audit';
  subject_id: string;
  metric: string;
  /** JSON: the metric's statistics. */
  data: string;
  updated_at: string;
}

export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';
export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'false_positive';

export interface AlertsTable {
  id: string;
  rule: string;
  severity: AlertSeverity;
  status: AlertStatus;
  /** A sentence without personal data: what happened, in figures. */
  summary: string;
  /** The rule and what it fired on (an account, an address): repeats fold into one open alert. */
  subject_key: string;
  actor_kind: string | null;
  actor_id: string | null;
  source_address: string | null;
  /** JSON: `{ auditSeqs, requestEventIds, figures }`. */
  evidence: string;
  event_count: number;
  first_seen_at: string;
  last_seen_at: string;
  created_at: string;
  updated_at: string;
  handled_by: string | null;
  handled_at: string | null;
  note: string | null;
  incident_id: string | null;
  version: number;
}

export type ResponseKind = 'notify' | 'step_up' | 'end_sessions' | 'lock_account' | 'block_address' | 'lockdown';

export interface AlertResponsesTable {
  id: string;
  alert_id: string;
  kind: ResponseKind;
  /** What it acted on: a user id, an address; null for organisation-wide ones. */
  target: string | null;
  state: 'done' | 'suggested' | 'failed' | 'reversed';
  /** JSON: what it did (sessions ended, until when). */
  details: string;
  created_at: string;
  executed_at: string | null;
  reversed_at: string | null;
  reversed_by: string | null;
}

/** An alert on its way out through one channel, retried until sent. */
export interface AlertDeliveriesTable {
  id: string;
  alert_id: string;
  channel: 'webhook' | 'email' | 'syslog';
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  next_at: string;
  /** An error code, never a message that could carry an address or a secret. */
  last_error: string | null;
  created_at: string;
}

export interface AddressBlocksTable {
  id: string;
  address: string;
  reason: string;
  alert_id: string | null;
  created_by: string;
  created_at: string;
  until: string;
  lifted_at: string | null;
  lifted_by: string | null;
}

/** Organisation-wide read-only mode; the one without `lifted_at` is in force. */
export interface LockdownsTable {
  id: string;
  reason: string;
  alert_id: string | null;
  started_by: string;
  started_at: string;
  lifted_at: string | null;
  lifted_by: string | null;
}

/** A decoy customer record: it sits in ordinary lists, and nobody's real work touches it. */
export interface HoneytokensTable {
  record_id: string;
  record_type: string;
  planted_by: string;
  planted_at: string;
}

/** One backup into the backup folder, or one restore drill (counts and hashes only, never content). */
export interface BackupRunsTable {
  id: string;
  kind: string;
  status: string;
  requested_by: string | null;
  started_at: string;
  finished_at: string | null;
  file: string | null;
  bytes: number | string | null;
  backup_id: string | null;
  table_count: number | null;
  row_count: number | string | null;
  content_sha256: string | null;
  verified_at: string | null;
  drill_matched: number | null;
  drill_differs: string | null;
  error_code: string | null;
  error_message: string | null;
  tier: string | null;
  pruned_at: string | null;
  /** The copy in the S3-compatible store: 'ok', 'failed', or null (no store set up; drills). */
  offsite_status: string | null;
  offsite_at: string | null;
  /** A stable error code when the copy failed, and the store's or network's own code name. */
  offsite_error: string | null;
  offsite_reason: string | null;
  /** When retention deleted the copy from the store. */
  offsite_pruned_at: string | null;
}

/** Which process may take a backup or run a drill now (one at a time among those sharing the database). */
export interface BackupLeaseTable {
  name: string;
  lease_holder: string | null;
  lease_until: string | null;
  updated_at: string;
}

export type ApprovalKind = 'export' | 'bulk_delete' | 'bulk_update';
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'used' | 'expired';

/** Work too large for one person alone, waiting for or given a second person's decision. */
export interface ApprovalRequestsTable {
  id: string;
  kind: ApprovalKind;
  requested_by: string;
  requested_at: string;
  /** What the requester typed: shown to approvers, never copied into audit details or logs. */
  reason: string;
  /** JSON without personal data: what the request is for, in figures. */
  summary: string;
  /** SHA-256 hex of the canonical payload, so what is done is exactly what was approved. */
  payload_hash: string;
  record_count: number;
  status: ApprovalStatus;
  /** The deciding user's id, or `operator:<name>` when the command-line operator decided. */
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  /** A pending request lapses 7 days after it was made; an approved one 24 hours after approval. */
  expires_at: string;
  used_at: string | null;
  version: number;
}

/** What is stored of an export; what a caller sees is derived from it and its approval. */
export type StoredExportStatus = 'ready' | 'pending_approval' | 'downloaded' | 'cancelled';

export interface ExportsTable {
  id: string;
  /** A small serial number, embedded in the file's fingerprint. */
  export_no: number;
  /** The user; null only for the command-line operator acting as nobody. */
  requested_by: string | null;
  /** The user's email, or `operator:<name>`. */
  requested_by_label: string;
  type: string;
  format: string;
  /** The list query, sealed under the key-encryption key (it may hold personal filter values). */
  query: string;
  /** What the requester typed; never copied into audit details or logs. */
  reason: string;
  status: StoredExportStatus;
  approval_id: string | null;
  /** The rows counted when it was asked for: the most the download writes. */
  row_limit: number;
  rows_written: number | null;
  sha256: string | null;
  created_at: string;
  ready_at: string | null;
  download_expires_at: string | null;
  downloaded_at: string | null;
  version: number;
}

/** The one row handing out export numbers. */
export interface ExportCounterTable {
  id: number;
  last_no: number;
}

/** Rows a user exported, and read through list pages, on a UTC day (bigint: PostgreSQL answers strings). */
export interface ExportTalliesTable {
  user_id: string;
  day: string;
  exported_rows: number | string;
  read_rows: number | string;
}

/** Records a user changed or deleted through bulk requests without approval in a UTC hour (bigint: PostgreSQL answers strings). */
export interface BulkTalliesTable {
  user_id: string;
  /** The hour's start, e.g. 2026-12-03T20. */
  hour: string;
  records: number | string;
}

/** A mass change waiting for approval, kept so that it can be run from the approval alone (modules/bulk). */
export interface BulkRequestsTable {
  /** The approval request's id. */
  approval_id: string;
  requested_by: string;
  kind: 'bulk_delete' | 'bulk_update';
  type: string;
  /** JSON array of record ids, in the order sent. */
  ids: string;
  /** JSON array of the field keys an update sets (custom ones as customFields.<key>); [] for a delete. */
  fields: string;
  /** The changes of an update as JSON, sealed under the organisation's data key; null for a delete. */
  changes: string | null;
  record_count: number;
  created_at: string;
}

export interface DatabaseSchema {
  teams: TeamsTable;
  roles: RolesTable;
  users: UsersTable;
  user_roles: UserRolesTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  setup_tokens: SetupTokensTable;
  password_resets: PasswordResetsTable;
  notices: NoticesTable;
  known_sign_ins: KnownSignInsTable;
  pipelines: PipelinesTable;
  pipeline_stages: PipelineStagesTable;
  tags: TagsTable;
  record_tags: RecordTagsTable;
  custom_fields: CustomFieldsTable;
  custom_values: CustomValuesTable;
  data_keys: DataKeysTable;
  index_keys: IndexKeysTable;
  erasures: ErasuresTable;
  integrity_events: IntegrityEventsTable;
  key_jobs: KeyJobsTable;
  reveals: RevealsTable;
  security_events: SecurityEventsTable;
  audit_entries: AuditEntriesTable;
  audit_head: AuditHeadTable;
  mfa_factors: MfaFactorsTable;
  recovery_codes: RecoveryCodesTable;
  sign_in_failures: SignInFailuresTable;
  sign_in_locks: SignInLocksTable;
  passkeys: PasskeysTable;
  token_addresses: TokenAddressesTable;
  webauthn_challenges: WebauthnChallengesTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_archived: AuditArchivedTable;
  audit_archives: AuditArchivesTable;
  sso_sign_ins: SsoSignInsTable;
  sso_identities: SsoIdentitiesTable;
  saved_views: SavedViewsTable;
  request_events: RequestEventsTable;
  detection_progress: DetectionProgressTable;
  detection_rules: DetectionRulesTable;
  detection_baselines: DetectionBaselinesTable;
  alerts: AlertsTable;
  alert_responses: AlertResponsesTable;
  alert_deliveries: AlertDeliveriesTable;
  address_blocks: AddressBlocksTable;
  lockdowns: LockdownsTable;
  honeytokens: HoneytokensTable;
  backup_runs: BackupRunsTable;
  backup_lease: BackupLeaseTable;
  approval_requests: ApprovalRequestsTable;
  exports: ExportsTable;
  export_counter: ExportCounterTable;
  export_tallies: ExportTalliesTable;
  bulk_requests: BulkRequestsTable;
  bulk_tallies: BulkTalliesTable;
}
