import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNote, parseCheckpoint } from '../src/audit/checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../src/audit/merkle.js';
import { loadAuditSigningKey } from '../src/audit/signing-key-file.js';
import { sealCheckpoint } from '../src/data/audit-log.js';
import { auditVisibility, blastRadius, findEntries } from '../src/data/audit-query.js';
import type { RecordType } from '../src/data/field-registry.js';
import { iterateRecords } from '../src/data/record-store.js';
import { generateDemoData } from '../src/modules/demo/demo.service.js';
import { plantHoneytokens } from '../src/modules/honeytokens/honeytokens.service.js';
import { writeExport } from '../src/modules/transfer/transfer.export.js';
import { createToken } from '../src/modules/tokens/tokens.service.js';
import { findUserByEmail } from '../src/modules/users/users.service.js';
import { newId } from '../src/shared/ids.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

let exportNo = 0;
/** A CSV export of every record of a type, as its own export (a fresh id and number). */
const csvExport = (type: RecordType) => ({ type, format: 'csv' as const, exportId: newId(), exportNo: ++exportNo });

describe(`querying the audit log (${testDialect})`, () => {
  let t: TestApp;
  let auditor: string;
  let manager: { id: string; token: string; ctx: ActorContext };
  let colleague: string;
  const start = new Date(Date.now() - 1000).toISOString();

  beforeAll(async () => {
    t = await createTestApp();
    const none = { companies: 0, contacts: 0, deals: 0, activities: 0, tickets: 0 };
    await generateDemoData(t.deps, cliContext('demo'), { sizes: { ...none, companies: 8, contacts: 60, tickets: 20, activities: 80 }, seed: 7 });
    auditor = (await t.makeUser({ roles: ['auditor'] })).token;
    const wang = (await findUserByEmail(t.deps, 'wang.fang@demo.example.com'))!;
    const li = (await findUserByEmail(t.deps, 'li.qiang@demo.example.com'))!;
    const operator = cliContext('operator');
    manager = {
      id: wang.id,
      token: (await createToken(t.deps, operator, { userId: wang.id, name: 'script' })).token,
      ctx: { principal: { kind: 'user', userId: wang.id, email: wang.email, roles: wang.roles, teamId: wang.teamId, sessionId: 'session-of-wang' }, channel: 'web', requestId: null, sourceAddress: '203.0.113.9', userAgent: 'test' },
    };
    colleague = (await createToken(t.deps, operator, { userId: li.id, name: 'script' })).token;
  }, 120_000);
  afterAll(async () => t.close());

  it("gives the blast radius of one user's reads and exports on the demo data: exactly the people touched, per field", async () => {
    // The scripted session: a list, two records opened, a contact's notes, an export of activities.
    const listed = (await t.call('GET', '/api/v1/contacts?limit=5', { token: manager.token })).json().items as { id: string }[];
    expect(listed).toHaveLength(5);
    for (const c of listed.slice(0, 2)) expect((await t.call('GET', `/api/v1/contacts/${c.id}`, { token: manager.token })).statusCode).toBe(200);
    let withNotes: string | null = null;
    for await (const a of iterateRecords(t.deps, manager.ctx, 'activities', { filters: { relatedType: 'contacts' } }, { audited: false })) {
      withNotes = String(a.relatedId);
      break;
    }
    expect(withNotes).not.toBeNull();
    const notes = await t.call('GET', `/api/v1/activities?relatedType=contacts&relatedId=${withNotes}`, { token: manager.token });
    expect(notes.statusCode, notes.body).toBe(200);
    const sink = new PassThrough();
    sink.resume();
    const exported = await writeExport(t.deps, manager.ctx, csvExport('activities'), sink);
    const exportedPeople = new Set<string>();
    for await (const a of iterateRecords(t.deps, manager.ctx, 'activities', {}, { audited: false })) if (a.relatedType === 'contacts') exportedPeople.add(String(a.relatedId));
    expect(exportedPeople.size).toBeGreaterThan(0);
    expect(exported.rows).toBeGreaterThan(exportedPeople.size);

    // Someone else's reads are not in it.
    const others = (await t.call('GET', '/api/v1/contacts?limit=50&sort=-createdAt', { token: colleague })).json().items as { id: string }[];

    const expected = new Set([...listed.map((c) => c.id), withNotes!, ...exportedPeople]);
    const response = await t.call('GET', `/api/v1/audit/blast-radius?actor=${manager.id}&from=${start}`, { token: auditor });
    expect(response.statusCode, response.body).toBe(200);
    const radius = response.json();
    expect(radius.subjects.map((s: { subject: string }) => s.subject).sort()).toEqual([...expected].sort());
    expect(others.some((c) => !expected.has(c.id))).toBe(true);
    const opened = radius.subjects.find((s: { subject: string }) => s.subject === listed[0]!.id);
    expect(opened.subjectType).toBe('contacts');
    expect(opened.fields.email).toEqual({ read: 2, changed: 0, exported: 0, revealed: 0 });
    const noted = radius.subjects.find((s: { subject: string }) => s.subject === withNotes);
    expect(Object.values(noted.fields as Record<string, { read: number }>).some((c) => c.read > 0)).toBe(true);
    expect(radius.exports).toEqual([expect.objectContaining({ recordType: 'activities', rows: exported.rows, sha256: exported.sha256 })]);
    for (const person of exportedPeople) {
      const exposure = radius.subjects.find((s: { subject: string }) => s.subject === person);
      expect(Object.values(exposure.fields as Record<string, { exported: number }>).some((c) => c.exported > 0)).toBe(true);
    }

    const csv = await t.call('GET', `/api/v1/audit/blast-radius?actor=${manager.id}&from=${start}&format=csv`, { token: auditor });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('subject,subject_type,field,read,changed,exported,revealed,first,last');
    expect(lines.length - 1).toBe(radius.subjects.reduce((n: number, s: { fields: object }) => n + Object.keys(s.fields).length, 0));
    expect(lines).toContain(`${listed[0]!.id},contacts,email,2,0,0,0,${opened.first},${opened.last}`);

    // By session and by address reach the same reads made in the browser session.
    const bySession = (await t.call('GET', `/api/v1/audit/blast-radius?session=session-of-wang&from=${start}`, { token: auditor })).json();
    expect(bySession.subjects.map((s: { subject: string }) => s.subject).sort()).toEqual([...exportedPeople].sort());
    const byAddress = (await t.call('GET', `/api/v1/audit/blast-radius?address=203.0.113.9&from=${start}`, { token: auditor })).json();
    expect(byAddress.subjects.length).toBe(bySession.subjects.length);
  });

  it('searches by actor, action family, record, subject, outcome and window, newest first, a page at a time', async () => {
    const contact = (await t.call('POST', '/api/v1/contacts', { token: manager.token, body: { lastName: 'Searched', email: 'searched@example.com' } })).json();
    await t.call('GET', `/api/v1/contacts/${contact.id}`, { token: manager.token });
    await t.call('GET', '/api/v1/users', { token: colleague });

    const byRecord = (await t.call('GET', `/api/v1/audit/entries?record=${contact.id}`, { token: auditor })).json();
    expect(byRecord.items.map((e: { action: string }) => e.action)).toEqual(['record.read', 'record.create']);
    expect(byRecord.items[0]).toMatchObject({ actorKind: 'token', actorId: manager.id, recordType: 'contacts', outcome: 'success' });
    const bySubject = (await t.call('GET', `/api/v1/audit/entries?subject=${contact.id}&action=record.*`, { token: auditor })).json();
    expect(bySubject.items).toHaveLength(2);
    const denied = (await t.call('GET', `/api/v1/audit/entries?outcome=denied&from=${start}`, { token: auditor })).json();
    expect(denied.items[0]).toMatchObject({ action: 'access.denied', details: { route: 'GET /api/v1/users' } });
    const future = (await t.call('GET', '/api/v1/audit/entries?from=2999-01-01', { token: auditor })).json();
    expect(future.items).toEqual([]);

    const first = (await t.call('GET', `/api/v1/audit/entries?actor=${manager.id}&limit=3`, { token: auditor })).json();
    expect(first.items).toHaveLength(3);
    const second = (await t.call('GET', `/api/v1/audit/entries?actor=${manager.id}&limit=3&before=${first.nextBefore}`, { token: auditor })).json();
    expect(second.items[0].seq).toBeLessThan(first.items[2].seq);

    // Reading the log is in the log.
    const reads = (await t.call('GET', '/api/v1/audit/entries?action=audit.*&limit=500', { token: auditor })).json();
    expect(reads.items.length).toBeGreaterThanOrEqual(8);
    expect(reads.items.every((e: { action: string }) => e.action.startsWith('audit.'))).toBe(true);
  });

  it('answers only to audit.read, and refuses malformed filters with the fields named', async () => {
    expect((await t.call('GET', '/api/v1/audit/entries', { token: colleague })).json().error.code).toBe('auth.forbidden');
    const bad = await t.call('GET', "/api/v1/audit/entries?record=x'%20or%201=1&address=999.1.1.1&from=yesterday&action=drop", { token: auditor });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.fields.map((f: { field: string }) => f.field).sort()).toEqual(['action', 'address', 'from', 'record']);
    const open = await t.call('GET', '/api/v1/audit/blast-radius', { token: auditor });
    expect(open.statusCode).toBe(400);
    expect(open.json().error.fields.map((f: { field: string }) => f.field).sort()).toEqual(['actor', 'from']);
  });

  it('records how each read reached the records: opened, a list or search page, a duplicate check, an export', async () => {
    const contact = (await t.call('POST', '/api/v1/contacts', { token: manager.token, body: { lastName: 'Moded', email: 'moded.reads@example.com' } })).json();
    const modes = async (work: () => Promise<unknown>) => {
      const head = Number((await t.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
      await work();
      const rows = await t.database.db.selectFrom('audit_entries').select(['action', 'details']).where('seq', '>', head).where('action', 'in', ['record.read', 'record.export']).where('record_type', '=', 'contacts').execute();
      return rows.map((r) => [r.action, JSON.parse(r.details).mode]);
    };
    expect(await modes(() => t.call('GET', `/api/v1/contacts/${contact.id}`, { token: manager.token }))).toEqual([['record.read', 'open']]);
    expect(await modes(() => t.call('GET', '/api/v1/contacts?limit=5', { token: manager.token }))).toEqual([['record.read', 'list']]);
    expect(await modes(() => t.call('GET', '/api/v1/contacts?q=Moded', { token: manager.token }))).toEqual([['record.read', 'list']]);
    expect(await modes(() => t.call('POST', '/api/v1/contacts/duplicates', { token: manager.token, body: { email: 'moded.reads@example.com' } }))).toEqual([['record.read', 'duplicates']]);
    const sink = new PassThrough();
    sink.resume();
    const exported = await modes(() => writeExport(t.deps, manager.ctx, csvExport('contacts'), sink));
    expect(exported.length).toBeGreaterThan(0);
    expect(exported.every(([action, mode]) => action === 'record.export' && mode === 'export')).toBe(true);
  });

  it('shows the entries about decoys only to those who handle alerts', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const planted = await plantHoneytokens(t.deps, cliContext('officer'), { recordType: 'contacts', count: 3 });
    const decoy = planted[0]!.recordId;
    // A real contact made at the same time stays in view, as a control.
    const real = (await t.call('POST', '/api/v1/contacts', { token: manager.token, body: { lastName: 'Control', email: 'control@example.com' } })).json();
    const search = async (query: string) => {
      const res = await t.call('GET', `/api/v1/audit/entries?${query}&limit=500`, { token: auditor });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().items as { action: string; actorId: string | null; recordIds: string[] }[];
    };
    expect(await search(`record=${decoy}`)).toEqual([]);
    expect(await search('actor=honeytokens')).toEqual([]);
    expect((await search('action=detection.*')).filter((e) => e.action.startsWith('detection.honeytoken'))).toEqual([]);
    const everything = await search(`from=${since}`);
    expect(everything.some((e) => e.actorId === 'honeytokens' || e.action.startsWith('detection.honeytoken') || e.recordIds.some((id) => planted.some((p) => p.recordId === id)))).toBe(false);
    expect((await search(`record=${real.id}`)).map((e) => e.action)).toEqual(['record.create']);
    const radius = (await t.call('GET', `/api/v1/audit/blast-radius?actor=honeytokens&from=${since}`, { token: auditor })).json();
    expect(radius).toMatchObject({ entries: 0, subjects: [] });

    // Someone who handles alerts is shown them.
    const officer = (await t.makeUser({ roles: ['security_officer'] })).user;
    const officerCtx: ActorContext = { principal: { kind: 'user', userId: officer.id, email: officer.email, roles: officer.roles, teamId: null, sessionId: 'session-of-officer' }, channel: 'web', requestId: null, sourceAddress: null, userAgent: null };
    const auditorUser = (await t.makeUser({ roles: ['auditor'] })).user;
    const auditorCtx: ActorContext = { principal: { kind: 'user', userId: auditorUser.id, email: auditorUser.email, roles: auditorUser.roles, teamId: null, sessionId: 'session-of-auditor' }, channel: 'web', requestId: null, sourceAddress: null, userAgent: null };
    expect(await auditVisibility(t.deps, officerCtx)).toEqual({ decoys: true });
    expect(await auditVisibility(t.deps, auditorCtx)).toEqual({ decoys: false });
    const shown = await findEntries(t.deps, { record: decoy }, { limit: 10 }, await auditVisibility(t.deps, officerCtx));
    expect(shown.items.map((e) => [e.action, e.actorKind, e.actorId])).toEqual([['record.create', 'system', 'honeytokens']]);
    expect((await findEntries(t.deps, { actions: ['detection.*'], from: since }, { limit: 10 }, { decoys: true })).items.map((e) => e.action)).toContain('detection.honeytokens_planted');
    expect((await findEntries(t.deps, { record: decoy }, { limit: 10 })).items).toEqual([]);
    expect((await blastRadius(t.deps, { actors: ['honeytokens'], from: since }, { decoys: true })).entries).toBe(3);
  });

  it('proves an entry is in a signed checkpoint, and that a later checkpoint extends an earlier one', async () => {
    const key = loadAuditSigningKey(t.deps.config.audit.keyFile, 'test.example/rampart-audit', { create: true });
    const early = await sealCheckpoint(t.deps, key);
    await t.call('GET', '/api/v1/contacts?limit=3', { token: manager.token });
    const late = await sealCheckpoint(t.deps, key);
    expect(late.size).toBeGreaterThan(early.size);

    const seq = early.size - 3;
    const inclusion = (await t.call('GET', `/api/v1/audit/proofs/inclusion?seq=${seq}`, { token: auditor })).json();
    expect(inclusion.treeSize).toBe(early.size);
    const signed = parseCheckpoint(openNote(inclusion.checkpoint, key.verifierKey));
    expect(signed.rootHash.toString('hex')).toBe(inclusion.rootHash);
    const proof = inclusion.proof.map((h: string) => Buffer.from(h, 'hex'));
    expect(verifyInclusion(seq - 1, inclusion.treeSize, leafHash(Buffer.from(inclusion.entryHash, 'hex')), proof, signed.rootHash)).toBe(true);
    expect(verifyInclusion(seq, inclusion.treeSize, leafHash(Buffer.from(inclusion.entryHash, 'hex')), proof, signed.rootHash)).toBe(false);

    const consistency = (await t.call('GET', `/api/v1/audit/proofs/consistency?from=${early.size}&to=${late.size}`, { token: auditor })).json();
    expect(consistency.fromRoot).toBe(early.rootHash);
    expect(consistency.toRoot).toBe(late.rootHash);
    expect(verifyConsistency(early.size, late.size, Buffer.from(early.rootHash, 'hex'), Buffer.from(late.rootHash, 'hex'), consistency.proof.map((h: string) => Buffer.from(h, 'hex')))).toBe(true);
    expect((await t.call('GET', `/api/v1/audit/proofs/inclusion?seq=${late.size + 1000}`, { token: auditor })).statusCode).toBe(400);
  });
});
