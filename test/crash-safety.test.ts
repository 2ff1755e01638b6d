import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadAuditSigningKey } from '../src/audit/signing-key-file.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { verifyAuditLog } from '../src/data/audit-log.js';
import { loadKeyring } from '../src/data/keys.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { createToken } from '../src/modules/tokens/tokens.service.js';
import { insertUser } from '../src/modules/users/users.service.js';
import { systemClock } from '../src/shared/clock.js';
import { cliContext } from '../src/shared/principal.js';
import { runCli, spawnCli } from './support/cli.js';
import { testDialect } from './support/database.js';

/**
 * Crash safety: a real server process takes concurrent writes from several clients and is killed
 * with SIGKILL at a random moment, three times over. After each restart every write it answered
 * with 2xx must be there with exactly the values and version it answered, every write whose answer
 * never came must be either wholly there or wholly absent (a record with all its parts, custom
 * values, tags, search document, data key and audit entry, or none of them), and the audit log must
 * verify, including against the checkpoints the server signed and kept outside the database.
 */

const KILLS = 3;
const CLIENTS = 8;
/** Each kill waits for this many acknowledged writes, then up to this many more milliseconds. */
const MIN_ACKNOWLEDGED = 25;
const MAX_EXTRA_MS = 2500;

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function serve(env: Record<string, string>): Promise<Server> {
  const child = spawnCli(['serve', '--port', '0'], { env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 60_000;
  while (!/listening on (http:\/\/\S+)/.test(stdout)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start: ${stderr.slice(0, 1000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, url: /listening on (http:\/\/\S+)/.exec(stdout)![1]!, exited };
}

/** A contact as the checks compare it: what the client sent, and the version the server gave it. */
interface ContactState {
  version: number;
  lastName: string;
  jobTitle: string;
  note: string;
  tagIds: string[];
  companyId: string | null;
  deleted: boolean;
}

interface Contact {
  id: string;
  email: string;
  /** The search word of the current job title. */
  word: string;
  state: ContactState;
  /** A change sent whose answer never came: the record must hold it or `state`, nothing else. */
  pending: { state: ContactState; word: string } | null;
}

interface Lead {
  id: string;
  email: string;
  version: number;
  converted: { contactId: string; companyId: string; version: number } | null;
  /** A conversion sent whose answer never came. */
  converting: boolean;
}

/** Everything the clients were told, and what they sent without an answer. */
interface Ledger {
  contacts: Map<string, Contact>;
  companies: Map<string, { id: string; name: string }>;
  leads: Map<string, Lead>;
  /** Creations whose answer never came, found again by a unique value. */
  unansweredContacts: { email: string; word: string; state: Omit<ContactState, 'version'> }[];
  unansweredCompanies: string[];
  unansweredLeads: string[];
  /** Answers other than 2xx: none are expected. */
  refusals: string[];
}

interface Round {
  acknowledged: number;
  unanswered: number;
  committedUnanswered: number;
}

const sameTags = (a: string[], b: string[]): boolean => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

describe(`crash safety on ${testDialect}`, { timeout: 240_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let config: Config;
  let token: string;
  let pgSchema: string | null = null;
  let server: Server | null = null;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-crash-'));
    env = {
      RAMPART_DATA_DIR: path.join(dir, 'data'),
      // Checkpoints are signed often, so the kills also land while one is being signed and written.
      RAMPART_AUDIT_CHECKPOINT_ENTRIES: '40',
      RAMPART_AUDIT_CHECKPOINT_FILE: path.join(dir, 'checkpoints.txt'),
    };
    const pgUrl = process.env.RAMPART_TEST_DATABASE_URL;
    if (pgUrl) {
      // A schema of its own, reached through the URL, as the suite's other server processes do.
      pgSchema = `crash_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      await admin.query(`create schema ${pgSchema}`);
      await admin.end();
      const reach = new URL(pgUrl);
      reach.searchParams.set('options', `-c search_path=${pgSchema}`);
      env.RAMPART_DATABASE_URL = reach.toString();
    }
    config = loadConfig({ env: { ...env, RAMPART_LOG_LEVEL: 'silent' }, cwd: dir });
    // The administrator and its token, made the way `rampart user create` and `token create` do.
    const setup = await buildApp(config);
    try {
      const admin = await insertUser(setup.deps, cliContext('crash-test'), { email: 'crash.admin@example.com', name: 'Crash Admin', password: 'correct horse battery crash staple', roles: ['admin'], teamId: null });
      ({ token } = await createToken(setup.deps, cliContext('crash-test'), { userId: admin.id, name: 'crash test' }));
    } finally {
      await setup.close();
    }
  });

  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    if (pgSchema) {
      const client = new pg.Client({ connectionString: process.env.RAMPART_TEST_DATABASE_URL });
      await client.connect();
      await client.query(`drop schema if exists ${pgSchema} cascade`);
      await client.end();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write, and no write half done, through SIGKILLs under concurrent writes', async () => {
    server = await serve(env);
    const api = async (method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> => {
      const response = await fetch(`${server!.url}/api/v1${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, json: text === '' ? null : JSON.parse(text) };
    };
    const ok = async (method: string, url: string, body?: unknown): Promise<any> => {
      const answer = await api(method, url, body);
      if (answer.status >= 300) throw new Error(`${method} ${url} answered ${answer.status}: ${JSON.stringify(answer.json)}`);
      return answer.json;
    };

    const tagIds: string[] = [];
    for (const name of ['crash-a', 'crash-b', 'crash-c', 'crash-d']) tagIds.push((await ok('POST', '/tags', { name })).id);
    const noteField = await ok('POST', '/custom-fields', { recordType: 'contacts', key: 'crashNote', label: 'Crash note', type: 'text', classification: 'personal' });
    const twoTags = (): string[] => {
      const first = randomInt(tagIds.length);
      return [tagIds[first]!, tagIds[(first + 1 + randomInt(tagIds.length - 1)) % tagIds.length]!];
    };

    const ledger: Ledger = { contacts: new Map(), companies: new Map(), leads: new Map(), unansweredContacts: [], unansweredCompanies: [], unansweredLeads: [], refusals: [] };
    const rounds: Round[] = [];

    for (let round = 1; round <= KILLS; round++) {
      let stopped = false;
      let acknowledged = 0;
      let unanswered = 0;
      let serial = 0;

      /** Sends one write; answers its JSON on 2xx, null on a refusal, and throws when no answer came. */
      const write = async (method: string, url: string, body?: unknown): Promise<any> => {
        let answer: { status: number; json: any };
        try {
          answer = await api(method, url, body);
        } catch (error) {
          unanswered += 1;
          throw error;
        }
        if (answer.status >= 300) {
          ledger.refusals.push(`${method} ${url} → ${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}`);
          return null;
        }
        acknowledged += 1;
        return answer.json ?? {};
      };

      const client = async (worker: number): Promise<void> => {
        const mine = (): Contact[] => [...ledger.contacts.values()].filter((c) => c.email.includes(`-w${worker}-`) && !c.state.deleted && !c.pending);
        const myCompanies = (): string[] => [...ledger.companies.values()].filter((c) => c.name.includes(` w${worker} `)).map((c) => c.id);
        while (!stopped) {
          serial += 1;
          const word = `r${round}w${worker}n${serial}`;
          const dice = randomInt(100);
          try {
            if (dice < 10 || myCompanies().length === 0) {
              const name = `Crash Co w${worker} ${word}`;
              ledger.unansweredCompanies.push(name);
              const company = await write('POST', '/companies', { name, industry: 'crash' });
              ledger.unansweredCompanies.splice(ledger.unansweredCompanies.indexOf(name), 1);
              if (company) ledger.companies.set(company.id, { id: company.id, name });
            } else if (dice < 50 || mine().length === 0) {
              const companies = myCompanies();
              const state = { lastName: `Crash ${word}`, jobTitle: `Engineer ${word}v1z`, note: `note ${word}`, tagIds: twoTags(), companyId: randomInt(4) === 0 ? null : companies[randomInt(companies.length)]!, deleted: false };
              const email = `c-w${worker}-${word}@crash.example.com`;
              const sent = { email, word: `${word}v1z`, state };
              ledger.unansweredContacts.push(sent);
              const created = await write('POST', '/contacts', {
                firstName: 'Crash',
                lastName: state.lastName,
                email,
                jobTitle: state.jobTitle,
                source: 'crash-direct',
                companyId: state.companyId,
                customFields: { crashNote: state.note },
                tagIds: state.tagIds,
              });
              ledger.unansweredContacts.splice(ledger.unansweredContacts.indexOf(sent), 1);
              if (created) ledger.contacts.set(created.id, { id: created.id, email, word: `${word}v1z`, state: { ...state, version: created.version }, pending: null });
            } else if (dice < 80) {
              const contacts = mine();
              const contact = contacts[randomInt(contacts.length)]!;
              const companies = myCompanies();
              const version = contact.state.version + 1;
              const next: ContactState = {
                version,
                lastName: `Crash ${word} u`,
                jobTitle: `Manager ${word}v${version}z`,
                note: `note ${word} changed`,
                tagIds: twoTags(),
                companyId: randomInt(4) === 0 ? null : companies[randomInt(companies.length)]!,
                deleted: false,
              };
              contact.pending = { state: next, word: `${word}v${version}z` };
              const updated = await write('PATCH', `/contacts/${contact.id}`, {
                version: contact.state.version,
                lastName: next.lastName,
                jobTitle: next.jobTitle,
                companyId: next.companyId,
                customFields: { crashNote: next.note },
                tagIds: next.tagIds,
              });
              if (updated) {
                contact.state = { ...next, version: updated.version };
                contact.word = contact.pending.word;
              }
              contact.pending = null;
            } else if (dice < 88) {
              const contacts = mine();
              const contact = contacts[randomInt(contacts.length)]!;
              contact.pending = { state: { ...contact.state, version: contact.state.version + 1, deleted: true }, word: contact.word };
              const done = await write('DELETE', `/contacts/${contact.id}`);
              if (done) contact.state = contact.pending.state;
              contact.pending = null;
            } else {
              // Lead conversion: a company, a contact and the lead's change in one transaction.
              const email = `l-w${worker}-${word}@crash.example.com`;
              ledger.unansweredLeads.push(email);
              const lead = await write('POST', '/leads', { lastName: `Lead ${word}`, email, companyName: `Lead Co ${word}`, jobTitle: `Buyer ${word}z`, source: 'crash-lead' });
              ledger.unansweredLeads.splice(ledger.unansweredLeads.indexOf(email), 1);
              if (!lead) continue;
              const entry: Lead = { id: lead.id, email, version: lead.version, converted: null, converting: true };
              ledger.leads.set(lead.id, entry);
              const result = await write('POST', `/leads/${lead.id}/convert`, {});
              entry.converting = false;
              if (result) {
                entry.version = result.lead.version;
                entry.converted = { contactId: result.contact.id, companyId: result.company.id, version: result.lead.version };
              }
            }
          } catch {
            // No answer: the server is gone. What was sent stays recorded as unanswered.
            return;
          }
        }
      };

      const clients = Array.from({ length: CLIENTS }, (_, worker) => client(worker));
      // The kill comes at a random moment once the load is under way, however busy the machine.
      const started = Date.now();
      while (acknowledged < MIN_ACKNOWLEDGED && Date.now() - started < 30_000) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, randomInt(MAX_EXTRA_MS)));
      const loadMs = Date.now() - started;
      server.child.kill('SIGKILL');
      stopped = true;
      const ended = await server.exited;
      expect(ended.signal).toBe('SIGKILL');
      await Promise.all(clients);
      expect(ledger.refusals).toEqual([]);

      const restarting = Date.now();
      server = await serve(env);
      const restartMs = Date.now() - restarting;
      const committedUnanswered = await checkEverything(round);
      rounds.push({ acknowledged, unanswered, committedUnanswered });
      // Shown in the test output: how much each kill interrupted.
      console.log(`crash-safety ${testDialect} round ${round}: killed after ${loadMs} ms of load, up again in ${restartMs} ms; ${acknowledged} writes acknowledged, ${unanswered} unanswered (${committedUnanswered} of them found committed, whole)`);
    }

    // The load was real: every round acknowledged writes and cut some off.
    for (const r of rounds) {
      expect(r.acknowledged).toBeGreaterThanOrEqual(MIN_ACKNOWLEDGED);
      expect(r.unanswered).toBeGreaterThan(0);
    }

    // A clean stop, then the command-line check of the whole log against the checkpoints the
    // server kept outside the database.
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    const verified = await runCli(['audit', 'verify', '--checkpoint', path.join(dir, 'checkpoints.txt'), '--json'], { env });
    expect(verified.code, verified.stderr).toBe(0);
    const result = JSON.parse(verified.stdout) as { problems: unknown[]; signedUpTo: number; entries: number };
    expect(result.problems).toEqual([]);
    expect(result.signedUpTo).toBe(result.entries);

    // The table checks can fail: one tag link taken off a contact is a partial record.
    const damage = openDatabase(config.database);
    try {
      const victim = [...ledger.contacts.values()].find((c) => !c.state.deleted)!;
      await sql`delete from record_tags where record_id = ${victim.id} and tag_id = ${victim.state.tagIds[0]!}`.execute(damage.db);
    } finally {
      await damage.close();
    }
    await expect(checkTables(0, noteField.id as string)).rejects.toThrow(/missing a part/);

    /**
     * Settles what the unanswered writes did, then holds the database to everything acknowledged.
     * Answers how many unanswered writes turned out committed.
     */
    async function checkEverything(round: number): Promise<number> {
      let committed = 0;
      const list = async (type: string, trash: boolean): Promise<Map<string, any>> => {
        const found = new Map<string, any>();
        let cursor: string | null = null;
        do {
          const page: { items: any[]; nextCursor: string | null } = await ok('GET', `/${type}?limit=200&trash=${trash}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          for (const item of page.items) found.set(item.id, item);
          cursor = page.nextCursor;
        } while (cursor);
        return found;
      };
      const live = await list('contacts', false);
      const trashed = await list('contacts', true);
      const stateOf = (record: any): ContactState => ({
        version: record.version,
        lastName: record.lastName,
        jobTitle: record.jobTitle,
        note: record.customFields.crashNote,
        tagIds: record.tagIds,
        companyId: record.companyId,
        deleted: record.deletedAt !== null,
      });
      const same = (a: ContactState, b: ContactState): boolean => sameTags(a.tagIds, b.tagIds) && JSON.stringify({ ...a, tagIds: [] }) === JSON.stringify({ ...b, tagIds: [] });
      const searchChecks: { word: string; id: string | null }[] = [];

      // Creations without an answer: the contact is there whole, as sent, or not at all.
      for (const sent of ledger.unansweredContacts.splice(0)) {
        const found = (await ok('GET', `/contacts?email=${encodeURIComponent(sent.email)}`)).items as any[];
        expect(found.length).toBeLessThanOrEqual(1);
        if (found.length === 0) {
          searchChecks.push({ word: sent.word, id: null });
          continue;
        }
        committed += 1;
        expect(stateOf(found[0])).toEqual({ ...sent.state, version: 1, tagIds: expect.arrayContaining(sent.state.tagIds) });
        ledger.contacts.set(found[0].id, { id: found[0].id, email: sent.email, word: sent.word, state: stateOf(found[0]), pending: null });
        searchChecks.push({ word: sent.word, id: found[0].id });
      }
      for (const name of ledger.unansweredCompanies.splice(0)) {
        const found = (await ok('GET', `/companies?name=${encodeURIComponent(name)}`)).items as any[];
        expect(found.length).toBeLessThanOrEqual(1);
        if (found.length === 1) {
          committed += 1;
          ledger.companies.set(found[0].id, { id: found[0].id, name });
        }
      }
      for (const email of ledger.unansweredLeads.splice(0)) {
        const found = (await ok('GET', `/leads?email=${encodeURIComponent(email)}`)).items as any[];
        expect(found.length).toBeLessThanOrEqual(1);
        if (found.length === 1) {
          committed += 1;
          expect(found[0].status).not.toBe('converted');
          ledger.leads.set(found[0].id, { id: found[0].id, email, version: found[0].version, converted: null, converting: false });
        }
      }

      // Every contact acknowledged holds exactly what its last answer said; one with a change in
      // flight holds that change or the state before it, whole either way.
      for (const contact of ledger.contacts.values()) {
        const record = live.get(contact.id) ?? trashed.get(contact.id);
        expect(record, `contact ${contact.id} acknowledged in an earlier answer`).toBeDefined();
        const actual = stateOf(record);
        if (contact.pending && same(actual, contact.pending.state)) {
          committed += 1;
          searchChecks.push({ word: contact.word, id: null });
          contact.state = contact.pending.state;
          contact.word = contact.pending.word;
        } else {
          expect(actual, `contact ${contact.id}`).toEqual({ ...contact.state, tagIds: expect.arrayContaining(contact.state.tagIds) });
          if (contact.pending && contact.pending.word !== contact.word) searchChecks.push({ word: contact.pending.word, id: null });
        }
        contact.pending = null;
        expect(actual.tagIds).toHaveLength(2);
        if (!contact.state.deleted) searchChecks.push({ word: contact.word, id: contact.id });
      }

      const leads = new Map([...(await list('leads', false)), ...(await list('leads', true))]);
      for (const lead of ledger.leads.values()) {
        const record = leads.get(lead.id);
        expect(record, `lead ${lead.id}`).toBeDefined();
        if (lead.converting && record.status === 'converted') {
          committed += 1;
          lead.converted = { contactId: record.convertedContactId, companyId: record.convertedCompanyId, version: record.version };
          lead.version = record.version;
        }
        lead.converting = false;
        expect(record.version).toBe(lead.version);
        if (lead.converted) {
          expect(record.status).toBe('converted');
          expect(record.convertedContactId).toBe(lead.converted.contactId);
          expect(record.convertedCompanyId).toBe(lead.converted.companyId);
          const contact = live.get(lead.converted.contactId);
          expect(contact?.email).toBe(lead.email);
          expect(contact?.companyId).toBe(lead.converted.companyId);
        } else {
          expect(record.status).not.toBe('converted');
        }
      }
      const companies = await list('companies', false);
      for (const company of ledger.companies.values()) expect(companies.get(company.id)?.name).toBe(company.name);

      // Nothing else is there: every record is one the clients were told about or one whose
      // unanswered creation the checks above found.
      const convertedLeads = [...ledger.leads.values()].filter((l) => l.converted);
      expect(live.size + trashed.size).toBe(ledger.contacts.size + convertedLeads.length);
      expect(companies.size).toBe(ledger.companies.size + convertedLeads.length);
      expect(leads.size).toBe(ledger.leads.size);

      // Search: each live contact is found by the word of its current job title, and by no older
      // one; a creation that was not committed left no document behind.
      const sample = searchChecks.filter((c) => c.id === null);
      const withId = searchChecks.filter((c) => c.id !== null);
      for (let i = 0; i < 30 && withId.length > 0; i++) sample.push(withId.splice(randomInt(withId.length), 1)[0]!);
      for (const check of sample) {
        const found = (await ok('GET', `/contacts?q=${check.word}`)).items.map((r: any) => r.id);
        expect(found, `search for ${check.word}`).toEqual(check.id ? [check.id] : []);
      }

      await checkTables(round, noteField.id as string);
      return committed;
    }
  });

  /**
   * Straight in the tables, through the app's own database module: no record without its parts,
   * and the audit log intact with one entry for every change each record went through.
   */
  async function checkTables(round: number, noteFieldId: string): Promise<void> {
    const database: Database = openDatabase(config.database);
    try {
      const db = database.db;
      const rows = async <T,>(query: RawBuilder<T>): Promise<T[]> => (await query.execute(db)).rows;
      if (database.dialect === 'sqlite') {
        expect(await rows<{ integrity_check: string }>(sql`pragma integrity_check`)).toEqual([{ integrity_check: 'ok' }]);
        // The connection settings the server opens with: a commit is synced before it is answered
        // (2 is FULL), which a killed process does not need but a power cut does.
        expect(await rows<{ synchronous: number }>(sql`pragma synchronous`)).toEqual([{ synchronous: 2 }]);
      }
      const documents = database.dialect === 'sqlite' ? sql.raw('search_rows') : sql.raw('search_documents');

      // Each contact made directly: its custom value, its two tags, its search document, its data key.
      const contactParts = await rows<{ id: string; notes: number; tags: number; docs: number; keys: number }>(sql`
        select c.id,
          (select count(*) from custom_values v where v.record_id = c.id and v.field_id = ${noteFieldId}) as notes,
          (select count(*) from record_tags t where t.record_type = 'contacts' and t.record_id = c.id) as tags,
          (select count(*) from ${documents} d where d.record_id = c.id) as docs,
          (select count(*) from data_keys k where k.subject_id = c.subject_id) as keys
        from contacts c where c.source = 'crash-direct'`);
      expect(contactParts.length).toBeGreaterThan(0);
      const incomplete = contactParts.filter((r) => Number(r.notes) !== 1 || Number(r.tags) !== 2 || Number(r.docs) !== 1 || Number(r.keys) < 1);
      expect(incomplete, `round ${round}: contacts missing a part`).toEqual([]);

      // Every record of every type written has its search document, and conversions are whole.
      for (const table of ['companies', 'leads', 'contacts']) {
        const missing = await rows<{ n: number }>(sql`select count(*) as n from ${sql.table(table)} r where not exists (select 1 from ${documents} d where d.record_id = r.id)`);
        expect(Number(missing[0]!.n), `round ${round}: ${table} without a search document`).toBe(0);
      }
      const halfConverted = await rows<{ id: string }>(sql`
        select l.id from leads l
        where (l.status = 'converted') <> (l.converted_contact_id is not null)
           or (l.converted_contact_id is not null and not exists (select 1 from contacts c where c.id = l.converted_contact_id))
           or (l.converted_company_id is not null and not exists (select 1 from companies c where c.id = l.converted_company_id))`);
      expect(halfConverted).toEqual([]);
      const orphans = await rows<{ id: string }>(sql`
        select c.id from contacts c where c.source = 'crash-lead'
          and not exists (select 1 from leads l where l.converted_contact_id = c.id and l.status = 'converted')`);
      expect(orphans, `round ${round}: contacts of a conversion that did not happen`).toEqual([]);

      // One creation entry per record, and one entry per change since: the version counts them.
      const entries = await rows<{ action: string; record_ids: string }>(sql`
        select action, record_ids from audit_entries
        where action in ('record.create', 'record.update', 'record.delete', 'record.restore') and record_type in ('contacts', 'companies', 'leads')`);
      const created = new Map<string, number>();
      const changed = new Map<string, number>();
      for (const entry of entries) {
        const into = entry.action === 'record.create' ? created : changed;
        for (const id of JSON.parse(entry.record_ids) as string[]) into.set(id, (into.get(id) ?? 0) + 1);
      }
      const unaudited: string[] = [];
      for (const table of ['contacts', 'companies', 'leads']) {
        for (const row of await rows<{ id: string; version: number }>(sql`select id, version from ${sql.table(table)}`)) {
          if (created.get(row.id) !== 1 || (changed.get(row.id) ?? 0) !== Number(row.version) - 1) {
            unaudited.push(`${table} ${row.id} v${row.version}: ${created.get(row.id) ?? 0} creation, ${changed.get(row.id) ?? 0} change entries`);
          }
        }
      }
      expect(unaudited, `round ${round}: records whose audit entries do not match their versions`).toEqual([]);

      const key = loadAuditSigningKey(config.audit.keyFile, '', { create: false });
      const deps = { db, dialect: database.dialect, clock: systemClock, keyring: await loadKeyring(db, config) };
      const verified = await verifyAuditLog(deps, { verifierKey: key.verifierKey });
      expect(verified.problems, `round ${round}: audit log`).toEqual([]);
      const head = await rows<{ seq: number }>(sql`select seq from audit_head where id = 1`);
      expect(verified.entries).toBe(Number(head[0]!.seq));
    } finally {
      await database.close();
    }
  }
});
