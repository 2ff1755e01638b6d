/**
 * What a session's User-Agent says about the device, coarsely: the browser family and the
 * operating system, for the user's list of their sessions and to notice a session cookie moving
 * to another browser. A User-Agent is what the client claims, not proof; the family is compared
 * only because a stolen cookie replayed from a script or another browser usually claims another.
 */
export type BrowserFamily = 'Edge' | 'Opera' | 'Samsung Internet' | 'Chrome' | 'Firefox' | 'Safari' | 'curl' | 'other';

const BROWSERS: [BrowserFamily, RegExp][] = [
  ['Edge', /\bEdg(?:e|A|iOS)?\//],
  ['Opera', /\bOPR\/|\bOpera\b/],
  ['Samsung Internet', /\bSamsungBrowser\//],
  ['Firefox', /\bFirefox\/|\bFxiOS\//],
  ['Chrome', /\b(?:Headless)?Chrome\/|\bCriOS\/|\bChromium\//],
  ['Safari', /\bVersion\/[\d.]+.*\bSafari\//],
  ['curl', /^curl\//],
];

const SYSTEMS: [string, RegExp][] = [
  ['Android', /\bAndroid\b/],
  ['iOS', /\b(?:iPhone|iPad|iPod)\b/],
  ['Windows', /\bWindows\b/],
  ['macOS', /\bMac OS X\b|\bMacintosh\b/],
  ['ChromeOS', /\bCrOS\b/],
  ['Linux', /\bLinux\b/],
];

export function browserFamily(userAgent: string | null | undefined): BrowserFamily {
  if (!userAgent) return 'other';
  return BROWSERS.find(([, pattern]) => pattern.test(userAgent))?.[0] ?? 'other';
}

/** "Firefox on Windows", "Chrome on Android", or "Unknown device". */
export function describeDevice(userAgent: string | null | undefined): string {
  const family = browserFamily(userAgent);
  const system = userAgent ? SYSTEMS.find(([, pattern]) => pattern.test(userAgent))?.[0] : undefined;
  if (family === 'other' && !system) return 'Unknown device';
  return system ? `${family === 'other' ? 'A browser' : family} on ${system}` : family;
}
