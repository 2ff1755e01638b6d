/**
 * Every error a user can see has a stable code from this closed list. The HTTP status for each
 * code is decided here and nowhere else; services throw `AppError` and never import HTTP types.
 */
export const ERROR_STATUS = {
  'request.invalid': 400,
  'request.invalid_json': 400,
  'request.invalid_utf8': 400,
  'request.invalid_cursor': 400,
  'request.invalid_sort': 400,
  'request.invalid_filter': 400,
  'request.too_large': 413,
  'request.unsupported_media_type': 415,
  'request.rate_limited': 429,
  'request.not_found': 404,
  'request.method_not_allowed': 405,
  'auth.unauthenticated': 401,
  'auth.invalid_credentials': 401,
  'auth.session_expired': 401,
  'auth.csrf_failed': 403,
  'auth.forbidden': 403,
  'auth.network_refused': 403,
  'request.network_refused': 403,
  'auth.account_disabled': 401,
  'auth.weak_password': 400,
  'auth.mfa_required': 401,
  'auth.mfa_invalid': 400,
  'auth.mfa_enrolment_required': 403,
  'auth.step_up_required': 403,
  'auth.mfa_not_enrolled': 409,
  'auth.mfa_required_by_role': 409,
  'auth.throttled': 429,
  'auth.locked': 423,
  'auth.current_password_wrong': 400,
  'auth.reset_link_invalid': 400,
  'auth.password_unchanged': 400,
  'auth.sso_not_configured': 404,
  'auth.sso_unavailable': 503,
  'auth.sso_state_invalid': 400,
  'auth.sso_refused': 403,
  'auth.sso_no_account': 403,
  'setup.already_done': 409,
  'setup.invalid_token': 401,
  'record.not_found': 404,
  'record.validation_failed': 400,
  'record.version_conflict': 409,
  'record.duplicate': 409,
  'record.invalid_reference': 400,
  'record.not_deleted': 409,
  'record.in_use': 409,
  'record.erased': 410,
  'trash.invalid_request': 400,
  'bulk.invalid_request': 400,
  'bulk.approval_required': 409,
  'bulk.not_found': 404,
  'data.integrity_failed': 500,
  'keys.not_found': 404,
  'keys.in_use': 409,
  'lead.already_converted': 409,
  'deal.invalid_stage': 400,
  'custom_field.invalid': 400,
  'custom_field.duplicate': 409,
  'custom_field.not_found': 404,
  'user.not_found': 404,
  'notice.not_found': 404,
  'mail.unavailable': 503,
  'web.not_built': 503,
  'user.duplicate_email': 409,
  'user.invalid_role': 400,
  'role.not_found': 404,
  'role.invalid': 400,
  'role.duplicate': 409,
  'role.builtin': 409,
  'role.in_use': 409,
  'team.not_found': 404,
  'team.duplicate': 409,
  'token.not_found': 404,
  'token.invalid_scope': 400,
  'import.invalid_file': 400,
  'import.unknown_column': 400,
  'import.invalid_mapping': 400,
  'import.too_large': 413,
  'import.unsupported_media_type': 415,
  'export.invalid_request': 400,
  'export.not_found': 404,
  'export.too_many_rows': 422,
  'export.daily_cap_reached': 403,
  'export.not_ready': 409,
  'export.already_downloaded': 410,
  'export.download_expired': 410,
  'export.invalid_file': 400,
  'export.too_large': 413,
  'export.unsupported_media_type': 415,
  'approval.not_found': 404,
  'approval.own_request': 403,
  'approval.not_pending': 409,
  'approval.expired': 409,
  'approval.mismatch': 409,
  'approval.invalid_request': 400,
  'pipeline.not_found': 404,
  'pipeline.in_use': 409,
  'stage.not_found': 404,
  'tag.not_found': 404,
  'tag.duplicate': 409,
  'view.not_found': 404,
  'activity.invalid_related': 400,
  'alert.not_found': 404,
  'alert.invalid_transition': 409,
  'detection.rule_not_found': 404,
  'detection.invalid_rule': 400,
  'detection.response_not_found': 404,
  'detection.not_reversible': 409,
  'detection.protected_target': 409,
  'detection.block_not_found': 404,
  'honeytoken.not_found': 404,
  'request.address_blocked': 403,
  'system.lockdown': 423,
  'auth.account_locked': 423,
  'simulation.disabled': 404,
  'backup.invalid': 400,
  'backup.wrong_key': 400,
  'backup.incompatible': 409,
  'backup.target_not_empty': 409,
  'backup.already_running': 409,
  'backup.not_configured': 409,
  'backup.no_backup': 404,
  'backup.drill_mismatch': 409,
  'backup.interrupted': 500,
  'backup.offsite_unreachable': 502,
  'backup.offsite_refused': 502,
  'backup.offsite_too_large': 413,
  'internal.error': 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One problem with one field of a request, for messages shown beside form fields. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly fields: FieldProblem[] | undefined;

  /** For a refusal that lifts by itself: seconds until it does (the Retry-After header). */
  retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, fields?: FieldProblem[]) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.fields = fields;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
