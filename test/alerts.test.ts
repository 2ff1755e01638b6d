import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AlertSeverity, AlertStatus, ResponseKind } from '../src/db/schema.js';
import { newId } from '../src/shared/ids.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { createTestDatabase, testDialect } from './support/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { SHIPPED_ROLES } from '../src/policy/shipped-roles.js';
import { signInFully } from './support/sign-in.js';

interface AlertSeed {
  rule?: string;
  severity?: AlertSeverity;
  status?: AlertStatus;
  actorId?: string | null;
  sourceAddress?: string | null;
  createdAt?: string;
  evidence?: unknown;
  responses?: { kind: ResponseKind; state: 'done' | 'suggested' | 'failed' | 'reversed'; target?: string | null; details?: unknown }[];
}

/** Stores an alert as the engine would, with its responses; answers its id. */
async function makeAlert(t: TestApp, seed: AlertSeed = {}): Promise<string> {
  const id = newId();
  const at = seed.createdAt ?? new Date().toISOString();
  await t.database.db
    .insertInto('alerts')
    .values({
      id,
      rule: seed.rule ?? 'auth.brute_force',
      severity: seed.severity ?? 'medium',
      status: seed.status ?? 'open',
      summary: '12 failed sign-ins in 30 minutes',
      subject_key: seed.actorId ? `${seed.rule ?? 'auth.brute_force'}:user:${seed.actorId}` : `${seed.rule ?? 'auth.brute_force'}:address:${seed.sourceAddress ?? id}`,
      actor_kind: seed.actorId ? 'user' : null,
      actor_id: seed.actorId ?? null,
      source_address: seed.sourceAddress === undefined ? '198.51.100.7' : seed.sourceAddress,
      evidence: JSON.stringify(seed.evidence ?? { auditSeqs: [3, 4], requestEventIds: [], figures: { failures: 12, threshold: 8 } }),
      event_count: 12,
      first_seen_at: at,
      last_seen_at: at,
      created_at: at,
      updated_at: at,
      handled_by: null,
      handled_at: null,
      note: null,
      incident_id: null,
      version: 1,
    })
    .execute();
  for (const r of seed.responses ?? []) {
    await t.database.db
      .insertInto('alert_responses')
      .values({ id: newId(), alert_id: id, kind: r.kind, target: r.target ?? null, state: r.state, details: JSON.stringify(r.details ?? {}), created_at: at, executed_at: r.state === 'done' ? at : null, reversed_at: null, reversed_by: null })
      .execute();
  }
  return id;
}

describe(`the Security officer role on an existing database (${testDialect})`, () => {
  it('is added by its migration where it is missing, and left alone where it is there', async () => {
    const missing = await createTestDatabase({ migrateTo: '0018-detection' });
    const present = await createTestDatabase({ migrateTo: '0018-detection' });
    try {
      // A database from before the role: the access-control migration of the time wrote no such row.
      await missing.database.db.deleteFrom('roles').where('id', '=', 'security_officer').execute();
      expect(await migrateToLatest(missing.database)).toEqual(expect.arrayContaining(['0019-security-officer']));
      const row = await missing.database.db.selectFrom('roles').selectAll().where('id', '=', 'security_officer').executeTakeFirstOrThrow();
      const shipped = SHIPPED_ROLES.find((r) => r.id === 'security_officer')!;
      expect(row).toMatchObject({ name: 'Security officer', builtin: 1, version: 1 });
      expect(JSON.parse(row.definition)).toEqual(JSON.parse(JSON.stringify(shipped.definition)));

      await present.database.db.updateTable('roles').set({ description: 'Our own wording', version: 4 }).where('id', '=', 'security_officer').execute();
      await migrateToLatest(present.database);
      expect(await present.database.db.selectFrom('roles').select(['description', 'version']).where('id', '=', 'security_officer').executeTakeFirstOrThrow()).toEqual({ description: 'Our own wording', version: 4 });
    } finally {
      await missing.cleanup();
      await present.cleanup();
    }
  });

  it('writes the role as it shipped with the migration, whatever the shipped roles say later', async () => {
    const old = await createTestDatabase({ migrateTo: '0018-detection' });
    try {
      await old.database.db.deleteFrom('roles').where('id', '=', 'security_officer').execute();
      // A later release that changes the shipped role must not change what this migration writes.
      vi.resetModules();
      vi.doMock('../src/policy/shipped-roles.js', async (importOriginal) => {
        const original = await importOriginal<typeof import('../src/policy/shipped-roles.js')>();
        const changed = original.SHIPPED_ROLES.map((r) => (r.id === 'security_officer' ? { ...r, name: 'Renamed later', definition: { ...r.definition, permissions: ['alerts.handle' as const] } } : r));
        return { ...original, SHIPPED_ROLES: changed };
      });
      const migration = await import('../src/db/migrations/0019-security-officer.js');
      await migration.up(old.database.db as unknown as Kysely<any>);
      const row = await old.database.db.selectFrom('roles').selectAll().where('id', '=', 'security_officer').executeTakeFirstOrThrow();
      expect(row.name).toBe('Security officer');
      expect(JSON.parse(row.definition)).toEqual({ records: {}, permissions: ['alerts.handle', 'incidents.handle', 'audit.read', 'users.read'], mfaRequired: true });
    } finally {
      vi.doUnmock('../src/policy/shipped-roles.js');
      vi.resetModules();
      await old.cleanup();
    }
  });
});

describe(`alerts over HTTP (${testDialect})`, () => {
  let t: TestApp;
  let admin: string;
  let officer: { token: string; id: string };
  let sales: string;
  let auditor: string;

  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
    const o = await t.makeUser({ roles: ['security_officer'] });
    officer = { token: o.token, id: o.user.id };
    ({ token: sales } = await t.makeUser({ roles: ['sales'] }));
    ({ token: auditor } = await t.makeUser({ roles: ['auditor'] }));
  });
  afterAll(async () => t.close());

  const alertRow = (id: string) => t.database.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const auditActions = async (id: string) =>
    (await t.database.db.selectFrom('audit_entries').select(['action', 'record_ids', 'actor_id']).where('action', 'like', 'alert.%').orderBy('seq').execute()).filter((e) => String(e.record_ids).includes(id));

  it('ships a Security officer role that handles alerts and incidents, decides approvals, reads the audit log and users, and sees no records', async () => {
    const access = (await t.call('GET', '/api/v1/auth/access', { token: officer.token })).json();
    expect(access.permissions.sort()).toEqual(['alerts.handle', 'approvals.decide', 'audit.read', 'incidents.handle', 'users.read']);
    expect(access.records).toEqual({});
    expect(access.lockdown).toBe(false);
    const role = (await t.call('GET', '/api/v1/roles/security_officer', { token: admin })).json();
    expect(role).toMatchObject({ name: 'Security officer', builtin: true, definition: { mfaRequired: true } });
    expect((await t.call('GET', '/api/v1/contacts', { token: officer.token })).statusCode).toBe(403);
  });

  it('lists alerts newest first, pages by cursor, and filters by status, severity, rule, actor and time', async () => {
    const base = Date.parse('2031-03-01T00:00:00Z');
    const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
    const ids = {
      a: await makeAlert(t, { createdAt: at(1), severity: 'low', rule: 'auth.new_device', actorId: officer.id }),
      b: await makeAlert(t, { createdAt: at(2), severity: 'high', rule: 'data.read_spike', status: 'acknowledged' }),
      c: await makeAlert(t, { createdAt: at(3), severity: 'critical', rule: 'honeytoken.touched', actorId: officer.id }),
      d: await makeAlert(t, { createdAt: at(3), severity: 'high', rule: 'request.probe', status: 'resolved' }),
      e: await makeAlert(t, { createdAt: at(4), severity: 'medium', rule: 'auth.brute_force', status: 'false_positive' }),
    };
    const window = `since=${encodeURIComponent(at(0))}&until=${encodeURIComponent(at(10))}`;
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.call('GET', `/api/v1/alerts?${window}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: officer.token });
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json() as { items: { id: string }[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    // Newest first; two raised in the same instant come in id order, newest id first.
    expect(seen).toEqual([ids.e, [ids.c, ids.d].sort().reverse()[0], [ids.c, ids.d].sort()[0], ids.b, ids.a]);
    expect(pages).toBe(3);

    const only = async (query: string, within = window) => {
      const res = await t.call('GET', `/api/v1/alerts?${within}&${query}`, { token: admin });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json().items as { id: string }[]).map((i) => i.id).sort();
    };
    expect(await only('status=open')).toEqual([ids.a, ids.c].sort());
    expect(await only('status=open,acknowledged')).toEqual([ids.a, ids.b, ids.c].sort());
    expect(await only('severity=high')).toEqual([ids.b, ids.d].sort());
    expect(await only('rule=honeytoken.touched,auth.new_device')).toEqual([ids.a, ids.c].sort());
    expect(await only(`actorId=${officer.id}`)).toEqual([ids.a, ids.c].sort());
    expect(await only(`status=open&severity=critical`)).toEqual([ids.c]);
    expect(await only(`until=${encodeURIComponent(at(4))}`, `since=${encodeURIComponent(at(3))}`)).toEqual([ids.c, ids.d].sort());
    expect(await only('since=2031-03-01', 'until=2031-03-01T00:02:00Z')).toEqual([ids.a]);

    const item = (await t.call('GET', `/api/v1/alerts?${window}&rule=honeytoken.touched`, { token: admin })).json().items[0];
    expect(item).toEqual({
      id: ids.c,
      rule: 'honeytoken.touched',
      severity: 'critical',
      status: 'open',
      summary: '12 failed sign-ins in 30 minutes',
      actorKind: 'user',
      actorId: officer.id,
      sourceAddress: '198.51.100.7',
      eventCount: 12,
      firstSeenAt: at(3),
      lastSeenAt: at(3),
      createdAt: at(3),
      updatedAt: at(3),
      handledBy: null,
      handledAt: null,
      note: null,
      incidentId: null,
      version: 1,
    });
  });

  it('refuses bad filters and cursors with 400 and a stable code', async () => {
    for (const [query, code] of [
      ['status=closed', 'request.invalid_filter'],
      ['severity=urgent', 'request.invalid_filter'],
      ['since=yesterday', 'request.invalid_filter'],
      ['until=2031-02-30T99:00:00Z', 'request.invalid_filter'],
      ['rule=DROP%20TABLE', 'request.invalid_filter'],
      ['limit=0', 'request.invalid_filter'],
      ['limit=201', 'request.invalid_filter'],
      ['cursor=not-a-cursor', 'request.invalid_cursor'],
      ['color=red', 'request.invalid'],
    ] as const) {
      const res = await t.call('GET', `/api/v1/alerts?${query}`, { token: admin });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code, query).toBe(code);
    }
  });

  it('shows one alert with its evidence and responses; an unknown or malformed id is alert.not_found', async () => {
    const id = await makeAlert(t, { evidence: { auditSeqs: [7, 9], requestEventIds: ['0190f000-0000-7000-8000-000000000001'], figures: { reads: 900, baseline: 40 } }, responses: [{ kind: 'notify', state: 'done', details: { channels: 1 } }, { kind: 'lock_account', state: 'suggested' }] });
    const res = await t.call('GET', `/api/v1/alerts/${id}`, { token: officer.token });
    expect(res.statusCode, res.body).toBe(200);
    const alert = res.json();
    expect(alert.evidence).toEqual({ auditSeqs: [7, 9], requestEventIds: ['0190f000-0000-7000-8000-000000000001'], figures: { reads: 900, baseline: 40 } });
    expect(alert.responses.map((r: { kind: string; state: string }) => [r.kind, r.state])).toEqual([['notify', 'done'], ['lock_account', 'suggested']]);
    expect(Object.keys(alert.responses[0]).sort()).toEqual(['createdAt', 'details', 'executedAt', 'id', 'kind', 'reversedAt', 'reversedBy', 'state', 'target']);
    for (const bad of [newId(), 'nope', '1%27%20OR%201=1']) {
      const missing = await t.call('GET', `/api/v1/alerts/${bad}`, { token: admin });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe('alert.not_found');
    }
  });

  it('moves an alert from open to acknowledged to resolved, with versions, handler, note and audit entries', async () => {
    const id = await makeAlert(t);
    const ack = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { token: officer.token, body: { version: 1, note: '  Looking into it ' } });
    expect(ack.statusCode, ack.body).toBe(200);
    expect(ack.json()).toMatchObject({ id, status: 'acknowledged', version: 2, note: 'Looking into it', handledBy: officer.id });
    expect(ack.json().handledAt).toEqual(expect.any(String));

    const stale = await t.call('POST', `/api/v1/alerts/${id}/resolve`, { token: officer.token, body: { version: 1 } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('record.version_conflict');
    const again = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { token: officer.token, body: { version: 2 } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('alert.invalid_transition');

    const resolved = await t.call('POST', `/api/v1/alerts/${id}/resolve`, { token: admin, body: { version: 2 } });
    expect(resolved.statusCode, resolved.body).toBe(200);
    // Without a note, the note stays as it was.
    expect(resolved.json()).toMatchObject({ status: 'resolved', version: 3, note: 'Looking into it' });

    for (const [path, body] of [['acknowledge', { version: 3 }], ['resolve', { version: 3 }], ['false-positive', { version: 3 }]] as const) {
      const closed = await t.call('POST', `/api/v1/alerts/${id}/${path}`, { token: admin, body });
      expect(closed.statusCode, path).toBe(409);
      expect(closed.json().error.code, path).toBe('alert.invalid_transition');
    }
    expect((await alertRow(id)).status).toBe('resolved');
    const entries = await auditActions(id);
    expect(entries.map((e) => e.action)).toEqual(['alert.acknowledged', 'alert.resolved']);
    expect(entries[0]!.actor_id).toBe(officer.id);
    // The note a person typed stays out of the log.
    const details = await t.database.db.selectFrom('audit_entries').select('details').where('action', '=', 'alert.acknowledged').execute();
    expect(JSON.stringify(details)).not.toContain('Looking into it');
  });

  it('refuses a bad note or body and changes nothing', async () => {
    const id = await makeAlert(t);
    for (const body of [{ version: 1, note: 'x'.repeat(1001) }, { version: 1, note: 'bad\u0000note' }, { note: 'no version' }, { version: 0 }, { version: 1, extra: true }]) {
      const res = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { token: admin, body });
      expect(res.statusCode, JSON.stringify(body).slice(0, 60)).toBe(400);
    }
    expect(await alertRow(id)).toMatchObject({ status: 'open', version: 1, note: null });
  });

  it('links an alert to an incident and unlinks it, audited', async () => {
    const id = await makeAlert(t);
    const linked = await t.call('PUT', `/api/v1/alerts/${id}/incident`, { token: officer.token, body: { incidentId: 'INC-2031-0042' } });
    expect(linked.statusCode, linked.body).toBe(200);
    expect(linked.json()).toMatchObject({ incidentId: 'INC-2031-0042', version: 2, status: 'open' });
    const stale = await t.call('PUT', `/api/v1/alerts/${id}/incident`, { token: officer.token, body: { incidentId: null, version: 1 } });
    expect(stale.json().error.code).toBe('record.version_conflict');
    const tooLong = await t.call('PUT', `/api/v1/alerts/${id}/incident`, { token: officer.token, body: { incidentId: 'x'.repeat(101) } });
    expect(tooLong.statusCode).toBe(400);
    const blank = await t.call('PUT', `/api/v1/alerts/${id}/incident`, { token: officer.token, body: { incidentId: '  ' } });
    expect(blank.statusCode).toBe(400);
    const unlinked = await t.call('PUT', `/api/v1/alerts/${id}/incident`, { token: officer.token, body: { incidentId: null, version: 2 } });
    expect(unlinked.json()).toMatchObject({ incidentId: null, version: 3 });
    expect((await auditActions(id)).map((e) => e.action)).toEqual(['alert.incident_linked', 'alert.incident_linked']);
    // The reference is free text someone typed: the log says only whether one is linked.
    const entries = (await t.database.db.selectFrom('audit_entries').select(['record_ids', 'details']).where('action', '=', 'alert.incident_linked').orderBy('seq').execute()).filter((e) => String(e.record_ids).includes(id));
    expect(entries.map((e) => JSON.parse(e.details))).toEqual([{ linked: true }, { linked: false }]);
  });

  it('shows what a response did in counts and plain facts, never the session hashes or token ids it keeps', async () => {
    const hashes = ['a'.repeat(64), 'b'.repeat(64)];
    const tokenIds = [newId(), newId()];
    const id = await makeAlert(t, {
      responses: [
        { kind: 'step_up', state: 'done', target: officer.id, details: { mode: 'second_factor', sessions: 2, sessionIds: hashes } },
        { kind: 'end_sessions', state: 'reversed', target: officer.id, details: { sessions: 1, tokens: 2, tokenIds, revokedAt: '2031-03-01T00:00:00.000Z', reversal: { tokensRestored: 2, tokenIds } } },
        { kind: 'block_address', state: 'done', target: '198.51.100.7', details: { blockId: newId(), until: '2031-03-01T01:00:00.000Z' } },
        { kind: 'lockdown', state: 'failed', details: { error: 'request.invalid', stack: 'at execute (containment.service.ts:1)' } },
        { kind: 'notify', state: 'done', details: { handlers: 2, channels: ['email', 'webhook'], url: 'https://hooks.example.com/secret' } },
      ],
    });
    const res = await t.call('GET', `/api/v1/alerts/${id}`, { token: officer.token });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().responses.map((r: { details: unknown }) => r.details)).toEqual([
      { mode: 'second_factor', sessions: 2 },
      { sessions: 1, tokens: 2, reversal: { tokensRestored: 2 } },
      { until: '2031-03-01T01:00:00.000Z' },
      { error: 'request.invalid' },
      { handlers: 2, channels: ['email', 'webhook'] },
    ]);
    for (const secret of [...hashes, ...tokenIds, 'hooks.example.com', 'containment.service']) expect(res.body).not.toContain(secret);

    // A response taken now answers the same way: the token it revoked is counted, not named.
    const { user: target } = await t.makeUser({ roles: ['sales'] });
    const live = await makeAlert(t, { actorId: target.id, responses: [{ kind: 'end_sessions', state: 'suggested' }] });
    const responseId = (await t.database.db.selectFrom('alert_responses').select('id').where('alert_id', '=', live).executeTakeFirstOrThrow()).id;
    const executed = await t.call('POST', `/api/v1/alerts/${live}/responses/${responseId}/execute`, { token: officer.token });
    expect(executed.statusCode, executed.body).toBe(200);
    expect(executed.json().details).toEqual({ sessions: 0, tokens: 1 });
    const revoked = await t.database.db.selectFrom('api_tokens').select('id').where('user_id', '=', target.id).execute();
    expect(revoked).toHaveLength(1);
    expect(executed.body).not.toContain(revoked[0]!.id);
    expect(JSON.stringify((await t.call('GET', `/api/v1/alerts/${live}`, { token: officer.token })).json().responses)).not.toContain(revoked[0]!.id);
  });

  it('refuses a handler closing an alert about their own account', async () => {
    const id = await makeAlert(t, { rule: 'data.read_spike', actorId: officer.id });
    for (const path of ['acknowledge', 'resolve', 'false-positive']) {
      const res = await t.call('POST', `/api/v1/alerts/${id}/${path}`, { token: officer.token, body: { version: 1, note: 'just me' } });
      expect(res.statusCode, path).toBe(403);
      expect(res.json().error.code, path).toBe('auth.forbidden');
    }
    expect(await alertRow(id)).toMatchObject({ status: 'open', version: 1, note: null, handled_by: null });
    expect(await auditActions(id)).toEqual([]);
    expect(await t.database.db.selectFrom('detection_baselines').select('metric').where('subject_id', '=', officer.id).execute()).toEqual([]);
    // Another handler may.
    const other = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { token: admin, body: { version: 1 } });
    expect(other.statusCode, other.body).toBe(200);
  });

  it('asks a browser session for a recent second factor before closing an alert or taking a response', async () => {
    const { user, password } = await t.makeUser({ roles: ['security_officer'] });
    const session = await signInFully(t, user.email, password);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    const factorAt = (at: string) => t.database.db.updateTable('sessions').set({ mfa_at: at }).where('user_id', '=', user.id).where('revoked_at', 'is', null).execute();
    const { user: target } = await t.makeUser({ roles: ['sales'] });
    const id = await makeAlert(t, { actorId: target.id, responses: [{ kind: 'lock_account', state: 'suggested' }] });
    const responseId = (await t.database.db.selectFrom('alert_responses').select('id').where('alert_id', '=', id).executeTakeFirstOrThrow()).id;

    await factorAt('2000-01-01T00:00:00.000Z');
    const before = JSON.stringify([await alertRow(id), await t.database.db.selectFrom('alert_responses').selectAll().where('alert_id', '=', id).execute()]);
    for (const [url, body] of [
      [`/api/v1/alerts/${id}/acknowledge`, { version: 1 }],
      [`/api/v1/alerts/${id}/resolve`, { version: 1 }],
      [`/api/v1/alerts/${id}/false-positive`, { version: 1, note: 'fine' }],
      [`/api/v1/alerts/${id}/responses/${responseId}/execute`, undefined],
    ] as const) {
      const res = await t.call('POST', url, { headers, ...(body ? { body } : {}) });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code, url).toBe('auth.step_up_required');
    }
    expect(JSON.stringify([await alertRow(id), await t.database.db.selectFrom('alert_responses').selectAll().where('alert_id', '=', id).execute()])).toBe(before);
    expect((await t.database.db.selectFrom('users').select('locked_at').where('id', '=', target.id).executeTakeFirstOrThrow()).locked_at).toBeNull();
    // Reading needs no second factor.
    expect((await t.call('GET', `/api/v1/alerts/${id}`, { headers })).statusCode).toBe(200);

    await factorAt(new Date().toISOString());
    const ack = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { headers, body: { version: 1 } });
    expect(ack.statusCode, ack.body).toBe(200);
    const executed = await t.call('POST', `/api/v1/alerts/${id}/responses/${responseId}/execute`, { headers });
    expect(executed.statusCode, executed.body).toBe(200);
  });

  it('lets a token with alerts:read read alerts, and only one with alerts:write handle them', async () => {
    const reader = (await t.makeUser({ roles: ['security_officer'], scopes: ['alerts:read'] })).token;
    const writer = (await t.makeUser({ roles: ['security_officer'], scopes: ['alerts:write'] })).token;
    // The scope alone is not enough: the roles must handle alerts too.
    const salesReader = (await t.makeUser({ roles: ['sales'], scopes: ['alerts:read'] })).token;
    const id = await makeAlert(t, { createdAt: '2032-01-01T00:00:00.000Z' });

    const listed = await t.call('GET', '/api/v1/alerts?since=2032-01-01&until=2032-01-02', { token: reader });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().items.map((a: { id: string }) => a.id)).toEqual([id]);
    expect((await t.call('GET', `/api/v1/alerts/${id}`, { token: reader })).statusCode).toBe(200);
    for (const url of ['/api/v1/alerts', `/api/v1/alerts/${id}`]) {
      const refused = await t.call('GET', url, { token: salesReader });
      expect(refused.statusCode, url).toBe(403);
      expect(refused.json().error.code).toBe('auth.forbidden');
    }

    const ack = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { token: reader, body: { version: 1 } });
    expect(ack.statusCode).toBe(403);
    expect(ack.json().error.code).toBe('auth.forbidden');
    expect((await alertRow(id)).status).toBe('open');
    const written = await t.call('POST', `/api/v1/alerts/${id}/acknowledge`, { token: writer, body: { version: 1 } });
    expect(written.statusCode, written.body).toBe(200);
    expect(written.json().status).toBe('acknowledged');
  });

  it('executes a suggested response and reverses it; other states are refused', async () => {
    const { user: target } = await t.makeUser({ roles: ['sales'] });
    const id = await makeAlert(t, { actorId: target.id, responses: [{ kind: 'lock_account', state: 'suggested' }, { kind: 'notify', state: 'done' }] });
    const [lock, notify] = (await t.call('GET', `/api/v1/alerts/${id}`, { token: admin })).json().responses as { id: string }[];

    const executed = await t.call('POST', `/api/v1/alerts/${id}/responses/${lock!.id}/execute`, { token: officer.token });
    expect(executed.statusCode, executed.body).toBe(200);
    expect(executed.json()).toMatchObject({ id: lock!.id, kind: 'lock_account', state: 'done', target: target.id });
    expect(executed.json()).not.toHaveProperty('alertId');
    expect((await t.database.db.selectFrom('users').select('locked_at').where('id', '=', target.id).executeTakeFirstOrThrow()).locked_at).not.toBeNull();

    const twice = await t.call('POST', `/api/v1/alerts/${id}/responses/${lock!.id}/execute`, { token: officer.token });
    expect(twice.statusCode).toBe(409);

    const reversed = await t.call('POST', `/api/v1/alerts/${id}/responses/${lock!.id}/reverse`, { token: officer.token });
    expect(reversed.statusCode, reversed.body).toBe(200);
    expect(reversed.json()).toMatchObject({ state: 'reversed', reversedBy: officer.id });
    expect((await t.database.db.selectFrom('users').select('locked_at').where('id', '=', target.id).executeTakeFirstOrThrow()).locked_at).toBeNull();

    const notifyBack = await t.call('POST', `/api/v1/alerts/${id}/responses/${notify!.id}/reverse`, { token: officer.token });
    expect(notifyBack.statusCode).toBe(409);
    expect(notifyBack.json().error.code).toBe('detection.not_reversible');

    // A response of another alert is not found under this one.
    const other = await makeAlert(t);
    const wrong = await t.call('POST', `/api/v1/alerts/${other}/responses/${lock!.id}/reverse`, { token: officer.token });
    expect(wrong.statusCode).toBe(404);
    expect(wrong.json().error.code).toBe('detection.response_not_found');
  });

  it('refuses every alert route to those without alerts.handle, and changes nothing', async () => {
    const { user: target } = await t.makeUser({ roles: ['sales'] });
    const id = await makeAlert(t, { actorId: target.id, responses: [{ kind: 'lock_account', state: 'suggested' }] });
    const responseId = (await t.database.db.selectFrom('alert_responses').select('id').where('alert_id', '=', id).executeTakeFirstOrThrow()).id;
    const before = JSON.stringify([await alertRow(id), await t.database.db.selectFrom('alert_responses').selectAll().where('alert_id', '=', id).execute()]);
    // An administrator's token limited to contacts cannot handle alerts.
    const readOnlyToken = (await t.makeUser({ roles: ['admin'], scopes: ['contacts:write'] })).token;
    for (const token of [sales, auditor, readOnlyToken]) {
      for (const [method, url, body] of [
        ['GET', '/api/v1/alerts', undefined],
        ['GET', `/api/v1/alerts/${id}`, undefined],
        ['POST', `/api/v1/alerts/${id}/acknowledge`, { version: 1 }],
        ['POST', `/api/v1/alerts/${id}/resolve`, { version: 1 }],
        ['POST', `/api/v1/alerts/${id}/false-positive`, { version: 1 }],
        ['PUT', `/api/v1/alerts/${id}/incident`, { incidentId: 'INC-1' }],
        ['POST', `/api/v1/alerts/${id}/responses/${responseId}/execute`, undefined],
        ['POST', `/api/v1/alerts/${id}/responses/${responseId}/reverse`, undefined],
      ] as const) {
        const res = await t.call(method, url, { token, ...(body ? { body } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(403);
        expect(res.json().error.code).toBe('auth.forbidden');
      }
    }
    expect((await t.call('GET', '/api/v1/alerts')).statusCode).toBe(401);
    expect(JSON.stringify([await alertRow(id), await t.database.db.selectFrom('alert_responses').selectAll().where('alert_id', '=', id).execute()])).toBe(before);
    expect((await t.database.db.selectFrom('users').select('locked_at').where('id', '=', target.id).executeTakeFirstOrThrow()).locked_at).toBeNull();
    expect(await auditActions(id)).toEqual([]);
  });

  it('marks a false positive, which closes the alert and tunes detection in the same transaction', async () => {
    const id = await makeAlert(t, { rule: 'data.read_spike', actorId: officer.id });
    const res = await t.call('POST', `/api/v1/alerts/${id}/false-positive`, { token: admin, body: { version: 1, note: 'Quarterly report' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'false_positive', version: 2, note: 'Quarterly report' });
    expect((await auditActions(id)).map((e) => e.action)).toEqual(['alert.false_positive']);
    // The bar of that rule for that user is raised: the same work will not raise it again.
    const tuned = await t.database.db.selectFrom('detection_baselines').select(['subject_kind', 'subject_id', 'metric']).where('subject_id', '=', officer.id).execute();
    expect(tuned).toEqual([{ subject_kind: 'user', subject_id: officer.id, metric: 'tolerance:data.read_spike' }]);
  });

  describe('on the command line', { timeout: 180_000 }, () => {
    let dir: string;
    const cli = (args: string[]) =>
      runCli(['--data-dir', path.join(dir, 'data'), ...args], { env: { RAMPART_DATABASE_URL: t.testDb.url, RAMPART_KEY_FILE: t.testDb.keyFile } });

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-alerts-cli-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('lists, shows, acknowledges and resolves alerts, with --json and exit codes', async () => {
      const id = await makeAlert(t, { severity: 'critical', rule: 'honeytoken.touched', createdAt: '2040-01-01T00:00:00.000Z' });
      const listed = await cli(['alerts', 'list', '--severity', 'critical', '--status', 'open', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout) as { id: string }[]).map((a) => a.id)).toContain(id);
      const table = await cli(['alerts', 'list', '--severity', 'critical']);
      expect(table.stdout).toContain(id);
      expect(table.stdout).toContain('honeytoken.touched');

      const shown = await cli(['alerts', 'show', id, '--json']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ id, evidence: { auditSeqs: [3, 4] }, responses: [] });

      const acked = await cli(['alerts', 'ack', id, '--note', 'on it', '--json']);
      expect(acked.code, acked.stderr).toBe(0);
      expect(JSON.parse(acked.stdout)).toMatchObject({ status: 'acknowledged', note: 'on it', version: 2 });
      expect(JSON.parse(acked.stdout).handledBy).toMatch(/^cli:/);
      const resolved = await cli(['alerts', 'resolve', id]);
      expect(resolved.code, resolved.stderr).toBe(0);
      expect(resolved.stdout).toContain('resolved');

      const again = await cli(['alerts', 'ack', id, '--json']);
      expect(again.code).toBe(1);
      expect(JSON.parse(again.stderr).error.code).toBe('alert.invalid_transition');
      const missing = await cli(['alerts', 'show', newId(), '--json']);
      expect(missing.code).toBe(1);
      expect(JSON.parse(missing.stderr).error.code).toBe('alert.not_found');
      const badFilter = await cli(['alerts', 'list', '--status', 'closed']);
      expect(badFilter.code).toBe(1);
    });
  });
});
