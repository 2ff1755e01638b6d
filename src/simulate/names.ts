/** The scripted attacks `rampart simulate` knows, in the order `simulate all` runs them. */
export const SCENARIOS = ['scanner', 'credential-stuffing', 'honeytoken', 'account-takeover', 'privilege-escalation', 'insider-exfiltration'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What each scenario plays, in one line. */
export const SCENARIO_DESCRIPTIONS: Record<ScenarioName, string> = {
  scanner: 'injection, traversal and scanner probes, then a burst of missing pages, from one address',
  'credential-stuffing': 'leaked passwords tried against many accounts from one address',
  honeytoken: 'a user opens a decoy customer record',
  'account-takeover': 'a stolen password used from a new device and network, then a mass read',
  'privilege-escalation': "a user manager's session makes a new administrator",
  'insider-exfiltration': 'after ordinary days, a user reads far more than usual day after day, under the hourly bar',
};
