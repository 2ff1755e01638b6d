import { describe, expect, it } from 'vitest';
import { nextWorkdayAt, localTime, OFFICE_HOURS } from './clock.js';
import { percentile, summarise, verdictsOf } from './run.js';
import { workdaysInARow, type ScenarioResult } from './scenarios.js';
import { concerns, type AlertView } from './watch.js';

const run = (over: Partial<ScenarioResult>): ScenarioResult => ({
  scenario: 'scanner',
  detected: true,
  rule: 'request.probe',
  alertId: 'a',
  detectMs: 400,
  contained: true,
  containMs: 5,
  containedBy: 'request.address_blocked',
  note: null,
  ...over,
});

describe('simulate: figures and verdicts', () => {
  it('takes the nearest-rank percentile', () => {
    expect(percentile([], 95)).toBeNull();
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 95)).toBe(19);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([5, 1, 3], 100)).toBe(5);
  });

  it('passes only when every run is detected and contained within the bars', () => {
    const good = summarise('scanner', [run({}), run({ detectMs: 900 })]);
    expect(good.detectP95Ms).toBe(900);
    expect(verdictsOf([good], null).every((v) => v.passed)).toBe(true);

    const missed = summarise('honeytoken', [run({ scenario: 'honeytoken' }), run({ scenario: 'honeytoken', detected: false, detectMs: null, contained: false, containMs: null })]);
    const verdicts = verdictsOf([good, missed], null);
    expect(verdicts.map((v) => v.passed)).toEqual([false, false, false]);
    expect(verdicts[0]!.detail).toContain('missed: honeytoken');

    const slow = summarise('scanner', [run({ detectMs: 5200 })]);
    expect(verdictsOf([slow], null).map((v) => v.passed)).toEqual([true, false, true]);
    const loose = summarise('scanner', [run({ contained: false, containMs: null })]);
    expect(verdictsOf([loose], null).map((v) => v.passed)).toEqual([true, true, false]);
  });

  it('judges false alerts per 100 user-days', () => {
    const normal = (n: number) => ({ users: 20, days: 5, userDays: 100, requests: 1, falseAlerts: Array(n).fill({}) as AlertView[], perHundredUserDays: n, otherAlerts: 0, interruptions: 0, realMs: 1 });
    expect(verdictsOf([], normal(0))[0]!.passed).toBe(true);
    expect(verdictsOf([], normal(1))[0]!.passed).toBe(false);
  });

  it('matches alerts to the attack by actor or address', () => {
    const alert = { actorId: 'u1', sourceAddress: '198.18.0.9' } as AlertView;
    expect(concerns(alert, { actorIds: ['u1'], addresses: [] })).toBe(true);
    expect(concerns(alert, { actorIds: [], addresses: ['198.18.0.9'] })).toBe(true);
    expect(concerns(alert, { actorIds: ['u2'], addresses: ['198.18.0.8'] })).toBe(false);
    expect(concerns({ actorId: null, sourceAddress: null } as AlertView, { actorIds: [], addresses: [] })).toBe(false);
  });
});

describe('simulate: working days', () => {
  it('finds the next working morning, skipping weekends, in the organisation time zone', () => {
    // Friday 2026-01-09 18:00 UTC → Monday 2026-01-12 09:00 UTC.
    expect(nextWorkdayAt(new Date(Date.UTC(2026, 0, 9, 18)), OFFICE_HOURS, 9 * 60).toISOString()).toBe('2026-01-12T09:00:00.000Z');
    // Tuesday 07:00 → the same Tuesday's 09:00.
    expect(nextWorkdayAt(new Date(Date.UTC(2026, 0, 6, 7)), OFFICE_HOURS, 9 * 60).toISOString()).toBe('2026-01-06T09:00:00.000Z');
    // Shanghai (UTC+8): Monday 09:00 local is 01:00 UTC.
    const shanghai = { ...OFFICE_HOURS, utcOffsetMinutes: 480 };
    const next = nextWorkdayAt(new Date(Date.UTC(2026, 0, 9, 12)), shanghai, 9 * 60);
    expect(next.toISOString()).toBe('2026-01-12T01:00:00.000Z');
    expect(localTime(next, shanghai)).toEqual({ minute: 540, day: 1 });
  });

  it('finds working days in a row, without a weekend between them', () => {
    // From Thursday evening: Friday and Monday are not in a row; Monday and Tuesday are.
    const run = workdaysInARow(new Date(Date.UTC(2026, 0, 8, 18)), OFFICE_HOURS, 2, 9 * 60);
    expect(run.map((d) => d.toISOString())).toEqual(['2026-01-12T09:00:00.000Z', '2026-01-13T09:00:00.000Z']);
    expect(workdaysInARow(new Date(Date.UTC(2026, 0, 5, 8)), OFFICE_HOURS, 3, 9 * 60).map((d) => d.getUTCDate())).toEqual([5, 6, 7]);
    expect(() => workdaysInARow(new Date(), OFFICE_HOURS, 6, 9 * 60)).toThrow();
  });
});
