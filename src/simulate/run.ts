import { SimulationError } from './client.js';
import { Simulation } from './environment.js';
import { checkNormalOptions, NEEDS_CLOCK, simulateNormalTraffic, type NormalResult } from './normal.js';
import { SCENARIO_RUNNERS, SCENARIOS, type ScenarioName, type ScenarioResult } from './scenarios.js';

/** The bars of issue #8's "done when": detection and containment within 5 s (p95), under one false alert per 100 user-days. */
export const DETECT_TARGET_MS = 5_000;
export const CONTAIN_TARGET_MS = 5_000;
export const FALSE_ALERT_TARGET = 1;

/** Scenarios that take days of simulated time run fewer times by default. */
const SLOW_SCENARIOS: ReadonlySet<ScenarioName> = new Set(['insider-exfiltration']);
const MAX_SLOW_REPEATS = 3;

export interface SimulateOptions {
  readonly url: string;
  readonly token: string;
  readonly scenarios: readonly ScenarioName[];
  readonly repeats: number;
  /** Normal traffic to run after the scenarios, or null. */
  readonly normal: { readonly users: number; readonly days: number } | null;
  /** Progress, one line at a time. */
  readonly log?: (line: string) => void;
  /** Take the run's decoys away and disable its users once it is over (the default). */
  readonly cleanUp?: boolean;
  /** How long to wait for an alert after an attack, and for containment after the alert (default 20 s and 15 s). */
  readonly waits?: { readonly detectMs: number; readonly containMs: number };
}

export interface ScenarioSummary {
  readonly scenario: ScenarioName;
  readonly runs: readonly ScenarioResult[];
  readonly detected: number;
  readonly contained: number;
  readonly detectP95Ms: number | null;
  readonly containP95Ms: number | null;
}

export interface Verdict {
  readonly check: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface SimulationReport {
  readonly runId: string;
  readonly url: string;
  readonly scenarios: readonly ScenarioSummary[];
  readonly normal: NormalResult | null;
  readonly verdicts: readonly Verdict[];
  readonly passed: boolean;
  readonly requests: number;
  readonly realMs: number;
}

/** The nearest-rank percentile of some values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarise(scenario: ScenarioName, runs: readonly ScenarioResult[]): ScenarioSummary {
  return {
    scenario,
    runs,
    detected: runs.filter((r) => r.detected).length,
    contained: runs.filter((r) => r.contained).length,
    detectP95Ms: percentile(runs.flatMap((r) => (r.detectMs === null ? [] : [r.detectMs])), 95),
    containP95Ms: percentile(runs.flatMap((r) => (r.containMs === null ? [] : [r.containMs])), 95),
  };
}

export function verdictsOf(scenarios: readonly ScenarioSummary[], normal: NormalResult | null): Verdict[] {
  const verdicts: Verdict[] = [];
  if (scenarios.length > 0) {
    const runs = scenarios.reduce((n, s) => n + s.runs.length, 0);
    const detected = scenarios.reduce((n, s) => n + s.detected, 0);
    const missed = scenarios.filter((s) => s.detected < s.runs.length).map((s) => s.scenario);
    verdicts.push({ check: 'every scenario is detected', passed: detected === runs, detail: `${detected}/${runs} runs${missed.length > 0 ? `; missed: ${missed.join(', ')}` : ''}` });
    const worst = (pick: (s: ScenarioSummary) => number | null) =>
      scenarios.reduce<{ s: ScenarioSummary; v: number } | null>((w, s) => {
        const v = pick(s);
        return v !== null && (w === null || v > w.v) ? { s, v } : w;
      }, null);
    const slowDetect = worst((s) => s.detectP95Ms);
    verdicts.push({
      check: `time to detect p95 under ${DETECT_TARGET_MS / 1000} s`,
      passed: detected === runs && scenarios.every((s) => s.detectP95Ms !== null && s.detectP95Ms < DETECT_TARGET_MS),
      detail: slowDetect ? `slowest: ${slowDetect.s.scenario} ${formatMs(slowDetect.v)}` : 'nothing detected',
    });
    const contained = scenarios.reduce((n, s) => n + s.contained, 0);
    const slowContain = worst((s) => s.containP95Ms);
    verdicts.push({
      check: `automatic containment p95 under ${CONTAIN_TARGET_MS / 1000} s after detection`,
      passed: contained === runs && scenarios.every((s) => s.containP95Ms !== null && s.containP95Ms < CONTAIN_TARGET_MS),
      detail: `${contained}/${runs} runs contained${slowContain ? `; slowest: ${slowContain.s.scenario} ${formatMs(slowContain.v)}` : ''}`,
    });
  }
  if (normal) {
    verdicts.push({
      check: `false alerts under ${FALSE_ALERT_TARGET} per 100 simulated user-days`,
      passed: normal.perHundredUserDays < FALSE_ALERT_TARGET,
      detail: `${normal.falseAlerts.length} in ${normal.userDays} user-days = ${normal.perHundredUserDays.toFixed(2)} per 100`,
    });
  }
  return verdicts;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Runs the scenarios (each `repeats` times, with fresh attackers and victims) and the normal traffic. */
export async function runSimulation(options: SimulateOptions): Promise<SimulationReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  if (!Number.isInteger(options.repeats) || options.repeats < 1 || options.repeats > 100) throw new SimulationError('--repeats must be 1 to 100');
  if (options.normal) checkNormalOptions(options.normal);
  const sim = await Simulation.connect(options.url, options.token, log);
  if (options.normal && !sim.simulatedClock) throw new SimulationError(NEEDS_CLOCK);
  if (options.waits) sim.waits = { ...options.waits };
  log(`Run ${sim.runId} against ${sim.http.base}${sim.simulatedClock ? ' (simulated clock)' : ''}`);
  const summaries: ScenarioSummary[] = [];
  let normal: NormalResult | null = null;
  try {
    for (const scenario of options.scenarios) {
      const repeats = SLOW_SCENARIOS.has(scenario) ? Math.min(options.repeats, MAX_SLOW_REPEATS) : options.repeats;
      const runs: ScenarioResult[] = [];
      for (let i = 1; i <= repeats; i++) {
        const result = await SCENARIO_RUNNERS[scenario](sim);
        runs.push(result);
        log(
          `${scenario} ${i}/${repeats}: ${result.detected ? `detected by ${result.rule} in ${formatMs(result.detectMs)}` : 'MISSED'}` +
            (result.detected ? `, ${result.contained ? `contained in ${formatMs(result.containMs)} (${result.containedBy})` : 'NOT contained'}` : '') +
            (result.note ? ` — ${result.note}` : ''),
        );
        // Each run's traces settle before the next begins, so no run is measured on another's alert.
        await sim.settle();
      }
      summaries.push(summarise(scenario, runs));
    }
    if (options.normal) {
      log(`Normal traffic: ${options.normal.users} users for ${options.normal.days} working days…`);
      normal = await simulateNormalTraffic(sim, { ...options.normal, onDay: (day, days) => log(`  day ${day}/${days}`) });
      log(`Normal traffic: ${normal.falseAlerts.length} alerts about ordinary users in ${normal.userDays} user-days`);
    }
  } finally {
    if (options.cleanUp !== false) await sim.cleanUp();
  }
  const verdicts = verdictsOf(summaries, normal);
  return {
    runId: sim.runId,
    url: sim.http.base,
    scenarios: summaries,
    normal,
    verdicts,
    passed: verdicts.every((v) => v.passed),
    requests: sim.http.sent,
    realMs: performance.now() - started,
  };
}

export { SCENARIOS, type ScenarioName };
