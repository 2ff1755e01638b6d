import { isoWeekKey, type BackupFileTime, type RetentionPolicy } from '../../src/modules/backup/backup-schedule.js';

/** What grandfather-father-son retention should keep, worked out directly from the definition. */
export function expectedKept(files: readonly BackupFileTime[], policy: RetentionPolicy): Set<string> {
  const newestFirst = [...files].sort((a, b) => b.at.getTime() - a.at.getTime());
  const kept = new Set<string>();
  const newestOfEach = (key: (d: Date) => string, count: number) => {
    const groups = new Map<string, BackupFileTime>();
    for (const f of newestFirst) if (!groups.has(key(f.at))) groups.set(key(f.at), f);
    [...groups.values()].slice(0, count).forEach((f) => kept.add(f.name));
  };
  newestOfEach((d) => d.toISOString().slice(0, 10), policy.daily);
  newestOfEach(isoWeekKey, policy.weekly);
  newestOfEach((d) => d.toISOString().slice(0, 7), policy.monthly);
  if (newestFirst[0]) kept.add(newestFirst[0].name);
  return kept;
}
