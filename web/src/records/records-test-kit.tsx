import type { ReactNode } from 'react';
import { SessionProvider, useSession } from '../access/session';
import { RECORD_SPECS, type RecordType } from './record-types';

/** The signed-in user the record tests act as. */
export const SELLER = { id: '0190a000-0000-7000-8000-000000000001', email: 'ana@example.com', name: 'Ana', roles: ['sales'], teamId: '0190a000-0000-7000-8000-0000000000aa', status: 'active', locale: 'en', createdAt: '', updatedAt: '', lastLoginAt: null };

export const sessionAnswer = { 'GET /api/v1/auth/session': { body: { user: SELLER, csrfToken: 'c', expiresAt: '', stage: 'active' } } };

/**
 * An access answer granting `actions` on `type`: every field of the type writable, as the server
 * lists them, except where `fields` says otherwise (custom fields are named there as well).
 */
export function accessAnswer(type: string, actions: Record<string, string>, fields: Record<string, string> = {}) {
  const spec = RECORD_SPECS[type as RecordType];
  const all = Object.fromEntries((spec?.groups ?? []).flatMap((group) => group.fields.map((f) => [f.key, 'write'])));
  return { 'GET /api/v1/auth/access': { body: { permissions: [], records: { [type]: { actions, fields: { ...all, ...fields } } }, stepUpUntil: null } } };
}

/** Renders the screen once the session has been read, as the app does behind its sign-in. */
export function SignedIn({ children }: { children: ReactNode }) {
  return (
    <SessionProvider>
      <Gate>{children}</Gate>
    </SessionProvider>
  );
}

function Gate({ children }: { children: ReactNode }) {
  const { state } = useSession();
  return state.status === 'signed-in' ? <>{children}</> : null;
}
