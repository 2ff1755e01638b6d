import { describe, expect, it } from 'vitest';
import { MAX_ADVANCE_SECONDS, SimulatedClock, simulatedClockOf } from './simulated-clock.js';
import { systemClock } from './clock.js';

describe('the simulated clock', () => {
  it('runs with real time plus an offset that only grows', () => {
    let real = Date.UTC(2026, 0, 5, 9, 0, 0);
    const clock = new SimulatedClock(() => real);
    expect(clock.now().toISOString()).toBe('2026-01-05T09:00:00.000Z');
    expect(clock.advance(3600).toISOString()).toBe('2026-01-05T10:00:00.000Z');
    real += 1000;
    expect(clock.now().toISOString()).toBe('2026-01-05T10:00:01.000Z');
    expect(clock.offset).toBe(3_600_000);
    // Catching up to an earlier time changes nothing; to a later one, moves forward.
    clock.catchUp(new Date(Date.UTC(2026, 0, 5, 9, 30)));
    expect(clock.offset).toBe(3_600_000);
    clock.catchUp(new Date(Date.UTC(2026, 0, 6, 10, 0, 1)));
    expect(clock.now().toISOString()).toBe('2026-01-06T10:00:01.000Z');
  });

  it('refuses steps that are not whole seconds from 1 to 30 days', () => {
    const clock = new SimulatedClock(() => 0);
    for (const bad of [0, -1, 1.5, MAX_ADVANCE_SECONDS + 1, Number.NaN]) expect(() => clock.advance(bad)).toThrow(RangeError);
    expect(clock.offset).toBe(0);
    clock.advance(MAX_ADVANCE_SECONDS);
    expect(clock.offset).toBe(MAX_ADVANCE_SECONDS * 1000);
  });

  it('is told apart from the system clock', () => {
    expect(simulatedClockOf(systemClock)).toBeUndefined();
    const clock = new SimulatedClock();
    expect(simulatedClockOf(clock)).toBe(clock);
  });
});
