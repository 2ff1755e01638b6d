import { requirePermission } from '../../data/access.js';
import { keyStatus, type KeyStatus } from '../../data/key-rotation.js';
import type { DataDeps } from '../../data/record-store.js';
import type { ActorContext } from '../../shared/principal.js';

/**
 * The keys as the security screens show them: what `rampart keys status` prints, and how far an
 * unfinished rotation got. Counts and version names only; no key material ever leaves here.
 *
 * Rotation itself stays on the command line (`rampart keys rotate`): it runs for minutes, makes a
 * new key version in the key file and has no guard against a second run started beside it, which
 * suits one operator at a terminal, not a button in a request.
 */
export interface KeysView extends KeyStatus {
  /** The version that wraps every new key. */
  activeKek: string;
  /** Unfinished work of a rotation, each with the command that finishes it; empty when none. */
  rotations: RotationInProgress[];
}

export interface RotationInProgress {
  step: 'rewrap' | 'reseal' | 'reindex';
  /** Keys (rewrap) or records (reindex) done, when the data tells; null when it does not. */
  done: number | null;
  total: number | null;
  command: string;
}

export async function keysStatus(deps: DataDeps, ctx: ActorContext): Promise<KeysView> {
  await requirePermission(deps, ctx, 'keys.manage', 'Your roles do not allow you to manage keys');
  const status = await keyStatus(deps);
  const activeKek = deps.keyring.kek.currentId();
  const rotations: RotationInProgress[] = [];
  const wrapped = (k: KeyStatus['kek'][number]) => k.dataKeys + k.indexKeys + k.mfaSecrets;
  const older = status.kek.filter((k) => k.id !== activeKek).reduce((n, k) => n + wrapped(k), 0);
  if (older > 0) {
    const total = status.kek.reduce((n, k) => n + wrapped(k), 0);
    rotations.push({ step: 'rewrap', done: total - older, total, command: 'rampart keys rotate --resume' });
  }
  if (status.pendingSealing.includes('rotate:data')) rotations.push({ step: 'reseal', done: null, total: null, command: 'rampart keys rotate --resume --data' });
  if (status.indexKeys.some((k) => k.state === 'building')) rotations.push({ step: 'reindex', done: null, total: null, command: 'rampart keys rotate --resume --index' });
  return { ...status, activeKek, rotations };
}
