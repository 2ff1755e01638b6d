import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecords, getRecord, listRecords } from '../src/data/record-store.js';
import { importCsv } from '../src/modules/transfer/transfer.import.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

const ctx = cliContext('test');

/**
 * Known values, one per personal or sensitive place, each distinctive enough that finding its
 * bytes anywhere in the stored database can only mean it was stored in plaintext.
 */
const SECRET = {
  firstName: 'Quillmorva',
  lastName: 'Kestrelvanex',
  email: 'obsidianfern@marrowgate.test',
  phone: '+86 139 7531 8642',
  mobile: '+86 137 2468 1357',
  address: '17 Thistlewick Lane',
  birthday: '1983-07-19',
  idNumber: '110105198307190417',
  leadFirst: 'Wrenhollow',
  leadLast: 'Gallimaufry',
  leadEmail: 'saltmarsh.vesper@brindlecove.test',
  leadPhone: '+86 135 0864 2097',
  leadNotes: 'Prefers calls after the harvest festival',
  note: 'Discussed the lighthouse refinancing quietly',
  ticket: 'Cannot reach the juniper portal since Tuesday',
  customText: 'Marzipanhollow',
  customEmail: 'velvetquarry@hazelmere.test',
  customPhone: '+86 131 9999 2468',
  imported: 'Brackenshadow',
  importedEmail: 'tamarisk.hollow@fennick.test',
  chinese: '龙胆草',
} as const;

describe('encryption at rest', () => {
  let t: TestApp;
  let token: string;
  let teamId: string;
  let contactId: string;

  beforeAll(async () => {
    t = await createTestApp();
    teamId = await t.makeTeam();
    ({ token } = await t.makeUser({ roles: ['admin', 'privacy_officer'], teamId }));
    const post = async (path: string, body: Record<string, unknown>) => {
      const res = await t.call('POST', path, { token, body });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    };
    await post('/api/v1/custom-fields', { recordType: 'contacts', key: 'nickname', label: 'Nickname', type: 'text', classification: 'personal' });
    await post('/api/v1/custom-fields', { recordType: 'contacts', key: 'privateEmail', label: 'Private email', type: 'email', classification: 'sensitive' });
    await post('/api/v1/custom-fields', { recordType: 'contacts', key: 'homePhone', label: 'Home phone', type: 'phone', classification: 'personal' });
    const contact = await post('/api/v1/contacts', {
      firstName: SECRET.firstName,
      lastName: `${SECRET.lastName} ${SECRET.chinese}`,
      email: SECRET.email,
      phone: SECRET.phone,
      mobile: SECRET.mobile,
      address: SECRET.address,
      birthday: SECRET.birthday,
      idNumber: SECRET.idNumber,
      customFields: { nickname: SECRET.customText, privateEmail: SECRET.customEmail, homePhone: SECRET.customPhone },
    });
    contactId = contact.id;
    await post('/api/v1/leads', { firstName: SECRET.leadFirst, lastName: SECRET.leadLast, email: SECRET.leadEmail, phone: SECRET.leadPhone, description: SECRET.leadNotes });
    await post('/api/v1/activities', { kind: 'note', subject: 'Call summary', body: SECRET.note, relatedType: 'contacts', relatedId: contactId });
    await post('/api/v1/tickets', { subject: 'Portal access', description: SECRET.ticket, contactId });
    const csv = `firstName,lastName,email\n${SECRET.imported},Import,${SECRET.importedEmail}\n`;
    const summary = await importCsv(t.deps, ctx, 'contacts', { open: () => Readable.from([csv]) });
    expect(summary.imported).toBe(1);
  });
  afterAll(async () => t.close());

  /** Every byte the database keeps: the SQLite file and its WAL, or a pg_dump of the schema. */
  function storedBytes(): Buffer {
    if (testDialect === 'sqlite') {
      const file = t.testDb.file!;
      return Buffer.concat(['', '-wal'].filter((s) => fs.existsSync(file + s)).map((s) => fs.readFileSync(file + s)));
    }
    const url = process.env.RAMPART_TEST_DATABASE_URL!;
    return execFileSync('pg_dump', ['--dbname', url, '--schema', t.testDb.schema!, '--no-owner'], { maxBuffer: 256 * 1024 * 1024 });
  }

  it('stores no personal value in plaintext anywhere in the database', async () => {
    // Readable through the data layer...
    const contact = await getRecord(t.deps, ctx, 'contacts', contactId);
    expect(contact).toMatchObject({ firstName: SECRET.firstName, email: SECRET.email, idNumber: SECRET.idNumber, birthday: SECRET.birthday });
    expect(contact.customFields).toMatchObject({ nickname: SECRET.customText, privateEmail: SECRET.customEmail });
    // ...and nowhere in what the database stores, in any of the usual encodings.
    const bytes = storedBytes();
    expect(bytes.length).toBeGreaterThan(10_000);
    const haystack = bytes.toString('latin1');
    for (const value of Object.values(SECRET)) {
      for (const form of new Set([value, value.toLowerCase(), value.replace(/\D/g, '').length > 8 ? value.replace(/\D/g, '') : value])) {
        expect(haystack.includes(Buffer.from(form, 'utf8').toString('latin1')), `found "${form}"`).toBe(false);
      }
    }
    // The stored form is the documented one.
    const raw = (await sql<{ email: string }>`select email from contacts where id = ${contactId}`.execute(t.deps.db)).rows[0]!;
    expect(raw.email).toMatch(/^e1\.1\.[A-Za-z0-9_-]+$/);
  });

  it('finds people by exact email, phone written any way, and ID number, and by whole words', async () => {
    const ids = async (query: string): Promise<string[]> => {
      const res = await t.call('GET', `/api/v1/contacts?${query}`, { token });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().items.map((c: { id: string }) => c.id);
    };
    expect(await ids(`email=${encodeURIComponent(SECRET.email.toUpperCase())}`)).toEqual([contactId]);
    expect(await ids(`phone=${encodeURIComponent('139-7531-8642')}`)).toEqual([contactId]);
    expect(await ids(`mobile=${encodeURIComponent('0086 13724681357')}`)).toEqual([contactId]);
    expect(await ids(`idNumber=${SECRET.idNumber}`)).toEqual([contactId]);
    expect(await ids('email=nobody%40marrowgate.test')).toEqual([]);
    expect(await ids(`custom.privateEmail=${encodeURIComponent(SECRET.customEmail)}`)).toEqual([contactId]);
    expect(await ids(`q=${SECRET.firstName.toLowerCase()}`)).toEqual([contactId]);
    expect(await ids(`q=${encodeURIComponent(SECRET.chinese.slice(0, 2))}`)).toEqual([contactId]);
    expect(await ids('q=marrowgate')).toEqual([contactId]);
    // Tokens match whole words, never prefixes; a phone number is found whole, not by its groups.
    expect(await ids(`q=${SECRET.firstName.slice(0, 5)}`)).toEqual([]);
    expect(await ids(`q=${encodeURIComponent('139 7531 8642')}`)).toEqual([contactId]);
    expect(await ids('q=8613975318642')).toEqual([contactId]);
    expect(await ids('q=7531')).toEqual([]);
    const leads = await t.call('GET', `/api/v1/leads?email=${encodeURIComponent(SECRET.leadEmail)}`, { token });
    expect(leads.json().items.map((l: { lastName: string }) => l.lastName)).toEqual([SECRET.leadLast]);
  });

  it('finds possible duplicates through the blind indexes, across phone fields, with only true matches', async () => {
    const { token: reader } = await t.makeUser({ roles: ['sales'], teamId, scopes: ['contacts:read'] });
    const find = async (body: Record<string, unknown>, who = reader) => t.call('POST', '/api/v1/contacts/duplicates', { token: who, body });
    const byEmail = await find({ email: SECRET.email.toUpperCase() });
    expect(byEmail.statusCode, byEmail.body).toBe(200);
    expect(byEmail.json().items.map((m: { record: { id: string }; matchedOn: string[] }) => [m.record.id, m.matchedOn])).toEqual([[contactId, ['email']]]);
    // The mobile number typed as a phone, and the phone with other grouping: both name the same person.
    const byPhones = (await find({ phone: '0086-137-2468-1357', mobile: '139 7531 8642' })).json().items;
    expect(byPhones.map((m: { record: { id: string }; matchedOn: string[] }) => [m.record.id, m.matchedOn.sort()])).toEqual([[contactId, ['mobile', 'phone']]]);
    expect((await find({ email: 'nobody@marrowgate.test' })).json().items).toEqual([]);
    const empty = await find({});
    expect(empty.statusCode).toBe(400);
    expect((await find({ email: 'not an email' })).json().error.code).toBe('record.validation_failed');
    expect((await find({ lastName: 'x' })).statusCode).toBe(400);
    const { token: noScope } = await t.makeUser({ roles: ['sales'], teamId, scopes: ['deals:read'] });
    expect((await find({ email: SECRET.email }, noScope)).statusCode).toBe(403);
  });

  it('keeps only true matches from a blind-index bucket shared by many people', async () => {
    // 8-bit indexes over 600 people: every bucket holds several.
    const small = await createTestApp({ RAMPART_EXPECTED_PEOPLE: '100' });
    try {
      const { token: admin } = await small.makeUser({ roles: ['admin'] });
      const inputs = Array.from({ length: 600 }, (_, i) => ({ lastName: `Bucket ${i}`, email: `person${i}@bucket.test`, phone: `+86 138 0000 ${String(i).padStart(4, '0')}` }));
      const results = await createRecords(small.deps, ctx, 'contacts', inputs);
      expect(results.every((r) => r.ok)).toBe(true);
      const bucket = (await sql<{ email_bidx: number; n: number }>`select email_bidx, count(*) as n from contacts group by email_bidx order by n desc limit 1`.execute(small.deps.db)).rows[0]!;
      expect(Number(bucket.n)).toBeGreaterThan(2);
      for (const i of [0, 17, 599]) {
        const res = await small.call('GET', `/api/v1/contacts?email=person${i}%40bucket.test&limit=1`, { token: admin });
        expect(res.json().items.map((c: { lastName: string }) => c.lastName)).toEqual([`Bucket ${i}`]);
        expect(res.json().nextCursor).toBeNull();
      }
      const duplicates = await small.call('POST', '/api/v1/contacts/duplicates', { token: admin, body: { email: 'person5@bucket.test', phone: '+86 138 0000 0006' } });
      expect(duplicates.json().items.map((m: { record: { lastName: string } }) => m.record.lastName).sort()).toEqual(['Bucket 5', 'Bucket 6']);
      const count = await listRecords(small.deps, ctx, 'contacts', { filters: { phone: '13800000042' } });
      expect(count.items.map((c) => c.lastName)).toEqual(['Bucket 42']);
    } finally {
      await small.close();
    }
  });

  it('sorts by a sealed field in memory, pages with a position cursor, and refuses lists too large to sort', async () => {
    const names = ['Ng', 'Abbott', 'Zhou', 'Lin', 'Baker', 'Ma', 'Young'];
    await createRecords(t.deps, ctx, 'contacts', names.map((lastName) => ({ lastName, source: 'sort-test' })));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.call('GET', `/api/v1/contacts?source=sort-test&sort=lastName&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...res.json().items.map((c: { lastName: string }) => c.lastName));
      cursor = res.json().nextCursor;
      // The cursor holds a position, never a value.
      if (cursor) expect(Buffer.from(cursor, 'base64url').toString('utf8')).not.toMatch(/Ng|Abbott|Lin|Ma/);
    } while (cursor);
    expect(seen).toEqual([...names].sort());
    const descending = await t.call('GET', '/api/v1/contacts?source=sort-test&sort=-lastName&limit=2', { token });
    expect(descending.json().items.map((c: { lastName: string }) => c.lastName)).toEqual(['Zhou', 'Young']);

    await createRecords(t.deps, ctx, 'contacts', Array.from({ length: 10_001 }, (_, i) => ({ lastName: `Many ${i}`, source: 'many' })));
    const refused = await t.call('GET', '/api/v1/contacts?source=many&sort=lastName', { token });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toMatchObject({ code: 'request.invalid_sort' });
    expect(refused.json().error.message).toMatch(/10,000/);
  });

  it('detects bit flips, truncation and values moved between rows or columns, and records the event', async () => {
    const [a, b] = (await createRecords(t.deps, ctx, 'contacts', [
      { lastName: 'Tamper A', email: 'a@tamper.test', phone: '+86 138 1111 2222' },
      { lastName: 'Tamper B', email: 'b@tamper.test' },
    ])) as { ok: true; id: string }[];
    const raw = async (id: string) => (await sql<{ email: string; phone: string | null }>`select email, phone from contacts where id = ${id}`.execute(t.deps.db)).rows[0]!;
    const original = await raw(a!.id);
    const other = await raw(b!.id);
    const body = original.email.split('.')[2]!;
    const flipped = `e1.1.${body.slice(0, 5)}${body[5] === 'A' ? 'B' : 'A'}${body.slice(6)}`;
    const cases: [string, string][] = [
      ['a flipped bit', flipped],
      ['a truncated value', original.email.slice(0, -6)],
      ["another row's value", other.email],
      ["another column's value", original.phone!],
      ['another key version', original.email.replace(/^e1\.1\./, 'e1.2.')],
      ['plaintext', 'a@tamper.test'],
    ];
    for (const [what, value] of cases) {
      await sql`update contacts set email = ${value} where id = ${a!.id}`.execute(t.deps.db);
      const res = await t.call('GET', `/api/v1/contacts/${a!.id}`, { token });
      expect(res.statusCode, what).toBe(500);
      expect(res.json().error.code, what).toBe('data.integrity_failed');
      expect(res.body, what).not.toContain('tamper.test');
    }
    const events = await sql<{ record_id: string; column_name: string }>`select record_id, column_name from integrity_events where record_id = ${a!.id}`.execute(t.deps.db);
    expect(events.rows.length).toBe(cases.length);
    expect(events.rows.every((e) => e.column_name === 'email')).toBe(true);

    // Met inside a write, the failure rolls the write back but its event is still recorded.
    await sql`update contacts set email = ${flipped} where id = ${a!.id}`.execute(t.deps.db);
    const before = (await sql<{ version: number; last_name: string }>`select version, last_name from contacts where id = ${a!.id}`.execute(t.deps.db)).rows[0]!;
    const version = before.version;
    const write = await t.call('PATCH', `/api/v1/contacts/${a!.id}`, { token, body: { version: Number(version), lastName: 'Tamper A2' } });
    expect(write.statusCode, write.body).toBe(500);
    expect(write.json().error.code).toBe('data.integrity_failed');
    expect((await raw(a!.id)).email).toBe(flipped);
    const after = await sql<{ n: number }>`select count(*) as n from integrity_events where record_id = ${a!.id}`.execute(t.deps.db);
    expect(Number(after.rows[0]!.n)).toBe(cases.length + 1);
    const name = (await sql<{ last_name: string }>`select last_name from contacts where id = ${a!.id}`.execute(t.deps.db)).rows[0]!.last_name;
    expect(name).toBe(before.last_name);
    await sql`update contacts set email = ${original.email} where id = ${a!.id}`.execute(t.deps.db);
    expect((await t.call('GET', `/api/v1/contacts/${a!.id}`, { token })).json().email).toBe('a@tamper.test');
  });

  it('seals a note again under its new person when it moves to someone else', async () => {
    const people = (await createRecords(t.deps, ctx, 'contacts', [{ lastName: 'First owner' }, { lastName: 'Second owner' }])) as { ok: true; id: string }[];
    const note = (await t.call('POST', '/api/v1/activities', { token, body: { kind: 'note', subject: 'Moving note', body: 'sealed words', relatedType: 'contacts', relatedId: people[0]!.id } })).json();
    const moved = await t.call('PATCH', `/api/v1/activities/${note.id}`, { token, body: { version: note.version, relatedId: people[1]!.id } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json().body).toBe('sealed words');
    const row = (await sql<{ subject_id: string }>`select subject_id from activities where id = ${note.id}`.execute(t.deps.db)).rows[0]!;
    expect(row.subject_id).toBe(people[1]!.id);
  });
});
