import type { ReactNode } from 'react';
import { SessionProvider, useSession } from '../access/session';
import type { Approval, ExportView } from './exports-api';

/** The signed-in user the exports tests act as, and a second person who decides. */
export const ME = { id: '0190a000-0000-7000-8000-000000000001', email: 'lea@example.com', name: 'Lea Seller', roles: ['sales'], teamId: null, status: 'active', locale: 'en', createdAt: '', updatedAt: '', lastLoginAt: null };
export const OTHER = { id: '0190a000-0000-7000-8000-000000000002', name: 'Ivo Support' };

export const sessionAnswer = { 'GET /api/v1/auth/session': { body: { user: ME, csrfToken: 'c', expiresAt: '', stage: 'active' } } };

/** An access answer: exporting contacts, and the permissions given. */
export function accessAnswer(permissions: string[] = [], exportable = true) {
  const actions = exportable ? { read: 'all', export: 'all' } : { read: 'all' };
  return { 'GET /api/v1/auth/access': { body: { permissions, records: { contacts: { actions, fields: {} } }, stepUpUntil: null, lockdown: false } } };
}

const base: ExportView = {
  id: '0190b000-0000-7000-8000-000000000010',
  exportNo: 10,
  type: 'contacts',
  format: 'csv',
  status: 'ready',
  rows: 12,
  reason: 'Mailing to the trade fair visitors',
  requestedBy: { id: ME.id, label: ME.email },
  approval: null,
  createdAt: '2026-12-01T09:00:00.000Z',
  downloadExpiresAt: '2026-12-02T09:00:00.000Z',
  downloadedAt: null,
  rowsWritten: null,
};

export const readyExport = base;
export const pendingExport: ExportView = { ...base, id: '0190b000-0000-7000-8000-000000000011', exportNo: 11, status: 'pending_approval', rows: 4200, downloadExpiresAt: null, approval: { id: '0190c000-0000-7000-8000-000000000001', status: 'pending' }, reason: 'Quarterly review with the auditors' };
export const deniedExport: ExportView = { ...base, id: '0190b000-0000-7000-8000-000000000012', exportNo: 12, status: 'denied', format: 'json', rows: 2500, downloadExpiresAt: null, approval: { id: '0190c000-0000-7000-8000-000000000002', status: 'denied' }, reason: 'Everything, just in case' };
export const downloadedExport: ExportView = { ...base, id: '0190b000-0000-7000-8000-000000000013', exportNo: 9, status: 'downloaded', downloadedAt: '2026-12-01T08:30:00.000Z', rowsWritten: 12 };

const approvalBase: Approval = {
  id: '0190c000-0000-7000-8000-000000000001',
  kind: 'export',
  status: 'pending',
  requestedBy: OTHER,
  requestedAt: '2026-12-01T09:00:00.000Z',
  reason: 'Quarterly review with the auditors',
  summary: { type: 'contacts', format: 'csv', rows: 4200, exportNo: 11 },
  recordCount: 4200,
  decidedBy: null,
  decidedAt: null,
  decisionNote: null,
  expiresAt: '2026-12-08T09:00:00.000Z',
  usedAt: null,
};

export const exportApproval = approvalBase;
export const deleteApproval: Approval = { ...approvalBase, id: '0190c000-0000-7000-8000-000000000003', kind: 'bulk_delete', summary: { type: 'deals', records: 120 }, recordCount: 120, reason: 'Duplicates from the old import' };
export const updateApproval: Approval = { ...approvalBase, id: '0190c000-0000-7000-8000-000000000004', kind: 'bulk_update', summary: { type: 'contacts', records: 80, fields: ['ownerId'] }, recordCount: 80, reason: 'Territory change' };
export const ownApproval: Approval = { ...approvalBase, id: '0190c000-0000-7000-8000-000000000005', requestedBy: { id: ME.id, name: ME.name }, reason: 'My own big export' };
export const deniedDecision: Approval = { ...approvalBase, id: '0190c000-0000-7000-8000-000000000002', requestedBy: { id: ME.id, name: ME.name }, status: 'denied', decidedBy: OTHER, decidedAt: '2026-12-01T10:00:00.000Z', decisionNote: 'Too broad; filter by region' };

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
