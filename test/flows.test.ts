import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSetupLink } from '../src/modules/setup/setup.service.js';
import { signInFully } from './support/sign-in.js';
import { writeExport } from '../src/modules/transfer/transfer.export.js';
import { csvFile, importCsv } from '../src/modules/transfer/transfer.import.js';
import { countRecords } from '../src/data/record-store.js';
import { writeFileAtomically } from '../src/shared/atomic-file.js';
import { newId } from '../src/shared/ids.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

/**
 * The first day with Rampart, end to end: the setup link makes the administrator, who signs in
 * with a browser session and does a sales and service team's daily work.
 */
describe(`a first day with Rampart (${testDialect})`, () => {
  let t: TestApp;
  let session: Record<string, string>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-flow-'));

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function api(method: string, url: string, body?: unknown) {
    const res = await t.call(method, url, { headers: session, ...(body !== undefined ? { body } : {}) });
    return { status: res.statusCode, json: res.body ? res.json() : undefined };
  }

  it('creates the administrator from the setup link and signs in', async () => {
    const link = await issueSetupLink(t.deps, 'http://127.0.0.1:8080');
    const token = new URL(link!).hash.replace('#token=', '');
    const setup = await t.call('POST', '/api/v1/setup', { body: { token, email: 'boss@example.com', name: 'Wang Fang', password: 'tea leaves and mountain air' } });
    expect(setup.statusCode, setup.body).toBe(201);

    // An administrator sets up an authenticator app at the first sign-in.
    const { cookie, csrf, recoveryCodes } = await signInFully(t, 'boss@example.com', 'tea leaves and mountain air');
    expect(recoveryCodes).toHaveLength(10);
    session = { cookie, 'x-csrf-token': csrf };
  });

  it('works a deal from first contact to won, with notes, tasks and a ticket', async () => {
    const company = await api('POST', '/api/v1/companies', { name: '星河贸易有限公司', domain: 'xinghe.example', industry: 'Trade', city: '上海' });
    expect(company.status).toBe(201);
    const contact = await api('POST', '/api/v1/contacts', { firstName: '小明', lastName: '李', email: 'li.xiaoming@xinghe.example', phone: '+86 138 0013 8000', companyId: company.json.id });
    expect(contact.status).toBe(201);

    const deal = await api('POST', '/api/v1/deals', { name: 'Annual supply contract', companyId: company.json.id, contactId: contact.json.id, amount: 120000.5, currency: 'CNY' });
    expect(deal.status, JSON.stringify(deal.json)).toBe(201);
    expect(deal.json.status).toBe('open');

    const pipeline = (await api('GET', `/api/v1/pipelines/${deal.json.pipelineId}`)).json;
    let current = deal.json;
    for (const stage of pipeline.stages.filter((s: { outcome: string }) => s.outcome !== 'lost')) {
      if (stage.id === current.stageId) continue;
      const moved = await api('PATCH', `/api/v1/deals/${current.id}`, { version: current.version, stageId: stage.id });
      expect(moved.status, JSON.stringify(moved.json)).toBe(200);
      current = moved.json;
    }
    expect(current.status).toBe('won');
    expect(current.closedAt).not.toBeNull();

    const note = await api('POST', '/api/v1/activities', { kind: 'note', subject: 'Call summary', body: 'Wants delivery before the spring festival.', relatedType: 'contacts', relatedId: contact.json.id });
    expect(note.status).toBe(201);
    const due = new Date(Date.now() + 86_400_000).toISOString();
    const task = await api('POST', '/api/v1/activities', { kind: 'task', subject: 'Send the signed contract', dueAt: due, relatedType: 'deals', relatedId: current.id });
    expect(task.status).toBe(201);
    const upcoming = await api('GET', '/api/v1/activities?due=upcoming');
    expect(upcoming.json.items.map((a: { id: string }) => a.id)).toContain(task.json.id);

    const ticket = await api('POST', '/api/v1/tickets', { subject: 'Invoice address wrong', description: 'Please correct the invoice address.', priority: 'high', contactId: contact.json.id, companyId: company.json.id });
    expect(ticket.status).toBe(201);
    expect(ticket.json.status).toBe('new');
    expect(ticket.json.slaDueAt).not.toBeNull();

    const timeline = await api('GET', `/api/v1/contacts/${contact.json.id}/timeline`);
    expect(timeline.status).toBe(200);
    expect(JSON.stringify(timeline.json)).toContain(note.json.id);
    const companyTickets = await api('GET', `/api/v1/companies/${company.json.id}/tickets`);
    expect(companyTickets.json.items.map((x: { id: string }) => x.id)).toEqual([ticket.json.id]);
  });

  it('lists and searches what was entered', async () => {
    expect((await api('GET', '/api/v1/contacts?q=小明')).json.items).toHaveLength(1);
    expect((await api('GET', '/api/v1/contacts?q=13800138000')).json.items).toHaveLength(1);
    expect((await api('GET', '/api/v1/contacts?email=li.xiaoming@xinghe.example')).json.items).toHaveLength(1);
    expect((await api('GET', '/api/v1/companies?q=星河')).json.items).toHaveLength(1);
    const everywhere = await api('GET', '/api/v1/search?q=xinghe');
    expect(everywhere.status).toBe(200);
    expect(everywhere.json.items.length).toBeGreaterThan(0);
  });

  it('exports contacts to CSV and imports a file with bad rows, writing only the good ones', async () => {
    const out = path.join(work, 'contacts.csv');
    const exported = await writeFileAtomically(out, 'export.invalid_request', {}, (stream) => writeExport(t.deps, cliContext('boss'), { type: 'contacts', format: 'csv', exportId: newId(), exportNo: 1 }, stream));
    expect(exported.rows).toBe(1);
    expect(fs.readFileSync(out, 'utf8')).toContain('li.xiaoming@xinghe.example');
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);

    const incoming = path.join(work, 'incoming.csv');
    fs.writeFileSync(
      incoming,
      ['First Name,Last Name,Email,Phone', 'Ada,Lovelace,ada@example.com,+44 20 7946 0000', 'Bad,Email,not-an-address,', ',,nobody@example.com,', '芳,王,wang.fang@example.cn,13900001111'].join('\n'),
    );
    const before = await countRecords(t.deps, cliContext('boss'), 'contacts');
    const summary = await importCsv(t.deps, cliContext('boss'), 'contacts', csvFile(incoming));
    expect(summary.imported).toBe(2);
    expect(summary.rejected).toBe(2);
    expect(summary.rejectedLines.map((r) => r.line)).toEqual([3, 4]);
    expect(JSON.stringify(summary.rejectedLines)).not.toContain('not-an-address');
    expect(await countRecords(t.deps, cliContext('boss'), 'contacts')).toBe(before + 2);
    expect((await api('GET', '/api/v1/contacts?q=wang')).json.items).toHaveLength(1);
  });

  it('signs out, after which the session no longer works', async () => {
    expect((await api('POST', '/api/v1/auth/logout')).status).toBe(204);
    expect((await api('GET', '/api/v1/contacts')).status).toBe(401);
  });
});
