import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDayBounds } from '../src/modules/activities/activities.service.js';
import { createTestApp, type TestApp } from './support/app.js';

const HOUR = 3_600_000;

describe('activities', () => {
  let t: TestApp;
  let token: string;
  let contactId: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser({ roles: ['sales'] }));
    contactId = (await t.call('POST', '/api/v1/contacts', { token, body: { lastName: 'Babbage' } })).json().id;
  });
  afterAll(async () => t.close());

  const activityIds = async (): Promise<string[]> => (await t.call('GET', '/api/v1/activities?limit=200', { token })).json().items.map((a: { id: string }) => a.id);

  it('attaches to a live record, both relatedType and relatedId or neither', async () => {
    const ok = await t.call('POST', '/api/v1/activities', { token, body: { kind: 'call', subject: 'Intro call', relatedType: 'contacts', relatedId: contactId } });
    expect(ok.statusCode, ok.body).toBe(201);
    const loose = await t.call('POST', '/api/v1/activities', { token, body: { kind: 'note', subject: 'Loose note' } });
    expect(loose.statusCode, loose.body).toBe(201);

    const before = await activityIds();
    const trashed = (await t.call('POST', '/api/v1/contacts', { token, body: { lastName: 'Trashed' } })).json();
    await t.call('DELETE', `/api/v1/contacts/${trashed.id}`, { token });
    const cases: Record<string, unknown>[] = [
      { relatedType: 'contacts' },
      { relatedId: contactId },
      { relatedType: 'deals', relatedId: contactId },
      { relatedType: 'contacts', relatedId: '0190a4f0-0000-7000-8000-000000000000' },
      { relatedType: 'contacts', relatedId: trashed.id },
    ];
    for (const body of cases) {
      const res = await t.call('POST', '/api/v1/activities', { token, body: { kind: 'note', subject: 'Bad link', ...body } });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code, JSON.stringify(body)).toBe('activity.invalid_related');
    }
    expect(await activityIds()).toEqual(before);

    const activity = ok.json();
    const half = await t.call('PATCH', `/api/v1/activities/${activity.id}`, { token, body: { version: activity.version, relatedType: null } });
    expect(half.statusCode).toBe(400);
    expect(half.json().error.code).toBe('activity.invalid_related');
    const detach = await t.call('PATCH', `/api/v1/activities/${activity.id}`, { token, body: { version: activity.version, relatedType: null, relatedId: null } });
    expect(detach.statusCode, detach.body).toBe(200);
    expect(detach.json()).toMatchObject({ relatedType: null, relatedId: null });
  });

  it('lets the caller complete and reopen a task', async () => {
    const task = (await t.call('POST', '/api/v1/activities', { token, body: { kind: 'task', subject: 'Send quote', dueAt: '2030-05-01T09:00:00+08:00' } })).json();
    expect(task.dueAt).toBe('2030-05-01T01:00:00.000Z');
    const done = await t.call('PATCH', `/api/v1/activities/${task.id}`, { token, body: { version: task.version, completedAt: '2030-04-30T10:00:00Z' } });
    expect(done.json().completedAt).toBe('2030-04-30T10:00:00.000Z');
    const reopened = await t.call('PATCH', `/api/v1/activities/${task.id}`, { token, body: { version: done.json().version, completedAt: null } });
    expect(reopened.json().completedAt).toBeNull();
  });

  it('lists my overdue, today\'s and upcoming open tasks', async () => {
    const teamId = await t.makeTeam();
    const { token: mine, user: me } = await t.makeUser({ roles: ['sales'], teamId });
    const { token: other, user: otherUser } = await t.makeUser({ roles: ['sales'], teamId });
    const { token: teammate } = await t.makeUser({ roles: ['sales'], teamId });
    const now = Date.now();
    const task = async (subject: string, dueInHours: number, extra: Record<string, unknown> = {}, as = mine) =>
      (await t.call('POST', '/api/v1/activities', { token: as, body: { kind: 'task', subject, dueAt: new Date(now + dueInHours * HOUR).toISOString(), ...extra } })).json().id as string;
    const { start, end } = localDayBounds(new Date(now), 'UTC');
    const overdue = await task('Overdue', -48);
    const doneLate = await task('Done late', -30, { completedAt: new Date(now).toISOString() });
    const laterToday = (end.getTime() - now) / HOUR > 0.01 ? await task('Later today', (end.getTime() - now) / HOUR / 2) : null;
    const upcoming = await task('Next week', 24 * 7);
    const later = await task('Next month', 24 * 30);
    await task('Not mine', -5, {}, other);

    const view = async (due: string, extra = ''): Promise<string[]> => {
      const res = await t.call('GET', `/api/v1/activities?kind=task&ownerId=${me.id}&due=${due}${extra}`, { token: mine });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().items.map((a: { id: string }) => a.id);
    };
    expect(await view('overdue')).toEqual([overdue]);
    expect(await view('upcoming')).toEqual([upcoming, later]);
    expect(await view('upcoming', '&sort=-dueAt')).toEqual([later, upcoming]);
    const today = await view('today');
    expect(today).toEqual(laterToday ? [laterToday] : []);
    expect(start.getTime()).toBeLessThanOrEqual(now);
    expect(await view('overdue', `&dueAt[gte]=${new Date(now - 40 * HOUR).toISOString()}`)).toEqual([]);
    expect(await view('overdue')).not.toContain(doneLate);

    const theirs = await t.call('GET', `/api/v1/activities?kind=task&ownerId=${otherUser.id}&due=overdue`, { token: teammate });
    expect(theirs.json().items.map((a: { subject: string }) => a.subject)).toEqual(['Not mine']);

    const zoned = await t.call('GET', `/api/v1/activities?due=today&timeZone=${encodeURIComponent('Asia/Shanghai')}`, { token });
    expect(zoned.statusCode, zoned.body).toBe(200);
  });

  it('filters by ranges on sortable ordered fields only', async () => {
    const a = (await t.call('POST', '/api/v1/activities', { token, body: { kind: 'meeting', subject: 'Range A', dueAt: '2031-01-10T10:00:00Z' } })).json();
    const b = (await t.call('POST', '/api/v1/activities', { token, body: { kind: 'meeting', subject: 'Range B', dueAt: '2031-01-20T10:00:00Z' } })).json();
    const list = async (query: string) => (await t.call('GET', `/api/v1/activities?kind=meeting&sort=dueAt&${query}`, { token })).json().items.map((x: { id: string }) => x.id);
    expect(await list('dueAt[gte]=2031-01-01T00:00:00Z&dueAt[lt]=2031-02-01T00:00:00Z')).toEqual([a.id, b.id]);
    expect(await list('dueAt[gt]=2031-01-10T10:00:00Z&dueAt[lte]=2031-01-20T10:00:00Z')).toEqual([b.id]);
    expect(await list('dueAt[lt]=2031-01-10T18:00:00%2B08:00')).not.toContain(b.id);

    const bad = [
      'dueAt[lt]=tomorrow',
      'body[lt]=x',
      'dueAt[between]=2031-01-01T00:00:00Z',
      'due=someday',
      'due=today&timeZone=Mars/Olympus',
      'timeZone=UTC',
    ];
    for (const query of bad) {
      const res = await t.call('GET', `/api/v1/activities?${query}`, { token });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code, query).toMatch(/^request\.(invalid|invalid_filter)$/);
    }
    const companyRange = await t.call('GET', '/api/v1/companies?employees[gte]=10', { token });
    expect(companyRange.statusCode, companyRange.body).toBe(200);
    const personal = await t.call('GET', '/api/v1/contacts?birthday[lt]=2000-01-01', { token });
    expect(personal.statusCode).toBe(400);
  });

  it('refuses callers without a token', async () => {
    expect((await t.call('GET', '/api/v1/activities?due=overdue')).statusCode).toBe(401);
    expect((await t.call('POST', '/api/v1/activities', { body: { kind: 'note', subject: 'Anon' } })).statusCode).toBe(401);
  });
});

describe('calendar days in a time zone', () => {
  it('finds midnight to midnight in UTC and in Shanghai', () => {
    const now = new Date('2030-03-01T20:30:00Z');
    expect(localDayBounds(now, 'UTC')).toEqual({ start: new Date('2030-03-01T00:00:00Z'), end: new Date('2030-03-02T00:00:00Z') });
    // 04:30 on 2 March in Shanghai (UTC+8).
    expect(localDayBounds(now, 'Asia/Shanghai')).toEqual({ start: new Date('2030-03-01T16:00:00Z'), end: new Date('2030-03-02T16:00:00Z') });
  });

  it('copes with days of 23 and 25 hours', () => {
    const spring = localDayBounds(new Date('2030-03-31T12:00:00Z'), 'Europe/Berlin');
    expect(spring).toEqual({ start: new Date('2030-03-30T23:00:00Z'), end: new Date('2030-03-31T22:00:00Z') });
    const autumn = localDayBounds(new Date('2030-10-27T12:00:00Z'), 'Europe/Berlin');
    expect(autumn).toEqual({ start: new Date('2030-10-26T22:00:00Z'), end: new Date('2030-10-27T23:00:00Z') });
  });
});
