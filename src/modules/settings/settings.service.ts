import { requirePermission } from '../../data/access.js';
import type { Config } from '../../config/config.js';
import type { ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PASSWORD_ONLY_MIN_LENGTH } from '../auth/passwords.js';
import { SIGN_IN_LIMITS } from '../auth/sign-in-throttle.js';

/**
 * The configuration in effect, as an administrator reads it. Settings come from `RAMPART_*`
 * variables and the config file, read once at start; nothing here changes them.
 *
 * Every value below is picked one by one from the frozen Config: a whitelist, never a copy of it.
 * Database URLs, the OIDC client secret, SMTP URLs (which carry credentials), the key passphrase
 * and the paths of key files stay out; where one of those matters, only whether it is set, or
 * its kind, is shown.
 */
export type SettingValue = string | number | boolean | string[] | null;

export interface SettingView {
  /** A stable name for the setting, unique across groups. */
  id: string;
  /** The `RAMPART_*` variable that sets it; null for a rule built into Rampart. */
  key: string | null;
  value: SettingValue;
  description: string;
}

export const SETTINGS_GROUPS = ['server', 'database', 'sessions', 'signIn', 'mail', 'sso', 'audit', 'encryption', 'detection', 'logging'] as const;
export type SettingsGroupId = (typeof SETTINGS_GROUPS)[number];

export interface SettingsGroupView {
  id: SettingsGroupId;
  settings: SettingView[];
}

export interface SettingsView {
  groups: SettingsGroupView[];
}

export async function effectiveSettings(deps: AuthDeps, ctx: ActorContext): Promise<SettingsView> {
  await requirePermission(deps, ctx, 'settings.manage', 'Your roles do not allow you to read the settings');
  return { groups: settingsGroups(deps.config, deps.keyring.kek.name) };
}

const setting = (id: string, key: string | null, value: SettingValue, description: string): SettingView => ({ id, key, value, description });

function settingsGroups(config: Config, kekAdapter: string): SettingsGroupView[] {
  const oidc = config.oidc;
  const groups: Record<SettingsGroupId, SettingView[]> = {
    server: [
      setting('publicUrl', 'RAMPART_PUBLIC_URL', withoutCredentials(config.publicUrl), 'The address users reach Rampart at; used in links sent by mail.'),
      setting('host', 'RAMPART_HOST', config.host, 'The address the server listens on.'),
      setting('port', 'RAMPART_PORT', config.port, 'The port the server listens on.'),
      setting('https', null, config.tls.mode !== 'off', 'Whether Rampart itself serves HTTPS (otherwise it is on this machine only, or behind a proxy).'),
      setting('tlsCertificate', 'RAMPART_TLS_CERT', config.tls.mode === 'files', 'Whether a certificate and key are configured as files (RAMPART_TLS_CERT and RAMPART_TLS_KEY).'),
      setting('tlsSelfSigned', 'RAMPART_TLS_SELF_SIGNED', config.tls.mode === 'self-signed', 'Whether Rampart generated its own certificate at first run.'),
      setting('trustProxy', 'RAMPART_TRUST_PROXY', config.trustProxy, 'Whether a reverse proxy in front of Rampart terminates TLS and names the client address.'),
      setting('networkAllow', 'RAMPART_NETWORK_ALLOW', [...config.network.allow], 'Address ranges every request must come from; empty for anywhere not denied.'),
      setting('networkDeny', 'RAMPART_NETWORK_DENY', [...config.network.deny], 'Address ranges no request may come from.'),
      setting('bodyLimitBytes', 'RAMPART_BODY_LIMIT_BYTES', config.bodyLimitBytes, 'The largest request body accepted, in bytes.'),
    ],
    database: [setting('databaseDialect', 'RAMPART_DATABASE_URL', config.database.dialect, 'The database Rampart stores its data in: embedded SQLite or PostgreSQL.')],
    sessions: [
      setting('sessionIdleMinutes', 'RAMPART_SESSION_IDLE_MINUTES', config.session.idleMinutes, 'Minutes without a request after which a session ends; a role can set fewer.'),
      setting('sessionAbsoluteHours', 'RAMPART_SESSION_ABSOLUTE_HOURS', config.session.absoluteHours, 'Hours after sign-in after which a session ends in any case; a role can set fewer.'),
      // The same rule the session cookie is set by: secure whenever users reach Rampart over HTTPS.
      setting('cookieSecure', null, config.publicUrl.startsWith('https://'), 'Whether the session cookie is sent over HTTPS only; follows the public URL.'),
    ],
    signIn: [
      setting('authRateLimitPerMinute', 'RAMPART_AUTH_RATE_LIMIT_PER_MINUTE', config.authRateLimitPerMinute, 'Sign-in and second-factor requests allowed per client address and minute.'),
      setting('passwordMinLength', null, PASSWORD_ONLY_MIN_LENGTH, 'Fewest characters in a password that is the only factor.'),
      setting('passwordMinLengthWithSecondFactor', null, PASSWORD_MIN_LENGTH, 'Fewest characters in a password beside a second factor.'),
      setting('passwordMaxLength', null, PASSWORD_MAX_LENGTH, 'Most characters in a password.'),
      setting('freeFailures', null, SIGN_IN_LIMITS.freeFailures, 'Failed sign-ins in a row to one account before each attempt has to wait.'),
      setting('lockAfter', null, SIGN_IN_LIMITS.lockAfter, 'Failed sign-ins in a row after which the account locks for a while after each one.'),
      setting('lockMinutes', null, SIGN_IN_LIMITS.lockMinutes, 'Minutes such a lock lasts.'),
      setting('lockForGoodAfter', null, SIGN_IN_LIMITS.lockForGoodAfter, 'Failed sign-ins in a row after which only an administrator can unlock the account.'),
    ],
    mail: [
      // The kind only: an SMTP URL carries the mail server's user name and password.
      setting('mailTransport', 'RAMPART_MAIL_TRANSPORT', config.mail.transport.kind, 'How Rampart sends mail: SMTP, files in a directory, or standard output.'),
      setting('mailFrom', 'RAMPART_MAIL_FROM', config.mail.from, 'The sender of password links and security notices.'),
    ],
    sso: [
      setting('ssoConfigured', 'RAMPART_OIDC_ISSUER', oidc !== undefined, 'Whether single sign-on with OpenID Connect is set up.'),
      setting('ssoIssuer', 'RAMPART_OIDC_ISSUER', oidc ? withoutCredentials(oidc.issuer) : null, 'The identity provider users sign in with.'),
      setting('ssoDisplayName', 'RAMPART_OIDC_DISPLAY_NAME', oidc?.displayName ?? null, 'The text of the single sign-on button.'),
      setting('ssoCreateUsers', 'RAMPART_OIDC_CREATE_USERS', oidc?.createUsers ?? null, 'Whether a provider user without an account gets one at first sign-in.'),
      setting('ssoMfa', 'RAMPART_OIDC_MFA', oidc?.mfa ?? null, "Which second factor counts: Rampart's own, or one at the provider."),
    ],
    audit: [
      setting('checkpointEntries', 'RAMPART_AUDIT_CHECKPOINT_ENTRIES', config.audit.checkpointEntries, 'A checkpoint is signed once this many entries are not covered by one.'),
      setting('checkpointSeconds', 'RAMPART_AUDIT_CHECKPOINT_SECONDS', config.audit.checkpointSeconds, 'A checkpoint is signed once the newest uncovered entry has waited this many seconds.'),
      // Whether each sink is set, never where it points: a URL can carry a token.
      setting('checkpointFile', 'RAMPART_AUDIT_CHECKPOINT_FILE', config.audit.checkpointFile !== undefined, 'Whether checkpoints are appended to a file besides the database.'),
      setting('checkpointUrl', 'RAMPART_AUDIT_CHECKPOINT_URL', config.audit.checkpointUrl !== undefined, 'Whether checkpoints are sent to a web address besides the database.'),
      setting('checkpointStdout', 'RAMPART_AUDIT_CHECKPOINT_STDOUT', config.audit.checkpointStdout, 'Whether checkpoints are written to standard output besides the database.'),
      setting('archiveDays', 'RAMPART_AUDIT_ARCHIVE_DAYS', config.audit.archiveDays ?? null, 'Age in days past which the archive command moves entries out; unset, it asks.'),
    ],
    encryption: [
      setting('kekAdapter', null, kekAdapter, 'Where the key-encryption key is kept; local is the key file on this server.'),
      setting('keyPassphrase', 'RAMPART_KEY_PASSPHRASE', config.keys.passphrase !== undefined, 'Whether the key file is protected by a passphrase.'),
      setting('keyCacheSize', 'RAMPART_KEY_CACHE_SIZE', config.keys.cacheSize, "How many people's data keys stay unwrapped in memory."),
      setting('expectedPeople', 'RAMPART_EXPECTED_PEOPLE', config.keys.expectedPeople, 'How many people the database is expected to hold; sizes new blind indexes.'),
    ],
    detection: [
      setting('detection', 'RAMPART_DETECTION', config.detection, 'Whether this server runs the breach detection engine (one process at a time evaluates).'),
      setting('detectionNeverBlock', 'RAMPART_DETECTION_NEVER_BLOCK', [...config.detectionNeverBlock], 'Addresses and ranges automatic responses never block.'),
      // Whether each channel is set, never where it points or with what secret.
      setting('alertWebhook', 'RAMPART_ALERT_WEBHOOK_URL', config.alerts.webhookUrl !== undefined, 'Whether new alerts are sent to a webhook, signed.'),
      setting('alertSyslog', 'RAMPART_ALERT_SYSLOG', config.alerts.syslog !== undefined, 'Whether new alerts are sent to a syslog collector.'),
      setting('simulatedClock', 'RAMPART_SIMULATED_CLOCK', config.simulatedClock, 'Whether the clock can be moved ahead for rehearsals; never on a production server.'),
    ],
    logging: [setting('logLevel', 'RAMPART_LOG_LEVEL', config.logLevel, 'The least severe kind of event the server log records.')],
  };
  return SETTINGS_GROUPS.map((id) => ({ id, settings: groups[id] }));
}

/** A URL as shown: any user name or password in it is dropped. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  } catch {
    return '';
  }
}
