import { atOneInstant, plainRecordService, refuseEmpty, type RecordService } from '../../data/record-service.js';
import { createRecord, getRecord, inTransaction, updateRecord, type DataDeps, type RecordInput, type RecordView } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { createDeal } from '../deals/deals.service.js';
import { requireScope } from '../tokens/tokens.service.js';
import { leadFields } from './leads.fields.js';

/** What to make of a lead: a contact always, a company unless an existing one is named, a deal if asked. */
export interface LeadConversion {
  /** An existing company for the contact; otherwise a company is made from `companyName` or the lead's. */
  companyId?: string;
  companyName?: string;
  createDeal?: boolean;
  dealName?: string;
  amount?: number | string;
}

export interface ConversionResult {
  lead: RecordView;
  contact: RecordView;
  company: RecordView | null;
  deal: RecordView | null;
}

/** Refuses `status: converted` from a caller, and any status change on a converted lead. */
function refuseStatusChange(input: RecordInput, current: RecordView | null): void {
  refuseEmpty(leadFields, input, ['status']);
  if (input.status === 'converted') {
    throw new AppError('record.validation_failed', 'The lead has invalid fields: status', [{ field: 'status', message: 'becomes converted only by converting the lead' }]);
  }
  if (current?.status === 'converted' && input.status !== undefined) {
    throw new AppError('lead.already_converted', 'The lead is converted; its status no longer changes');
  }
}

/** Creates a lead; a new lead cannot start out converted. */
export async function createLead(deps: DataDeps, ctx: ActorContext, input: RecordInput): Promise<RecordView> {
  refuseStatusChange(input, null);
  return createRecord(deps, ctx, 'leads', input);
}

/** Updates a lead; its status never becomes converted this way, nor changes once it is. */
export async function updateLead(deps: DataDeps, ctx: ActorContext, id: string, version: number, input: RecordInput): Promise<RecordView> {
  return inTransaction(deps, async (tx) => {
    refuseStatusChange(input, input.status === undefined ? null : await getRecord(tx, ctx, 'leads', id, { audited: false }));
    return updateRecord(tx, ctx, 'leads', id, version, input);
  });
}

export const leadService: RecordService = plainRecordService('leads', { create: createLead, update: updateLead });

/**
 * Converts a lead into a contact, a company (unless an existing one is named or there is no company
 * name at all) and, when asked, a deal, then marks the lead converted with links to what it became.
 * All of it is one transaction: if any part is refused, nothing is written.
 */
export async function convertLead(deps: DataDeps, ctx: ActorContext, leadId: string, conversion: LeadConversion): Promise<ConversionResult> {
  requireScope(ctx, 'contacts', 'write');
  const options = conversion ?? {};
  if (options.companyId !== undefined && options.companyName !== undefined) {
    throw new AppError('request.invalid', 'Name an existing company (companyId) or a new one (companyName), not both', [{ field: 'companyName', message: 'cannot go with companyId' }]);
  }
  // Naming an existing company reads it (the answer carries it); making one writes one.
  requireScope(ctx, 'companies', options.companyId === undefined ? 'write' : 'read');
  if (options.createDeal === true) requireScope(ctx, 'deals', 'write');
  if (options.createDeal !== true && (options.dealName !== undefined || options.amount !== undefined)) {
    throw new AppError('request.invalid', 'dealName and amount need createDeal: true', [{ field: options.dealName !== undefined ? 'dealName' : 'amount', message: 'needs createDeal: true' }]);
  }

  return inTransaction(deps, async (tx) => {
    const at = atOneInstant(tx);
    // Read as stored: its values are copied to the contact, which the caller then sees as its roles allow.
    const lead = await getRecord(at, ctx, 'leads', leadId, { raw: true });
    if (lead.status === 'converted') throw new AppError('lead.already_converted', 'The lead was converted already');
    const ownership = { ownerId: lead.ownerId, teamId: lead.teamId };

    let company: RecordView | null = null;
    if (options.companyId !== undefined) {
      try {
        company = await getRecord(at, ctx, 'companies', options.companyId);
      } catch (error) {
        if (error instanceof AppError && error.code === 'record.not_found') {
          throw new AppError('record.invalid_reference', 'A referenced record does not exist', [{ field: 'companyId', message: 'does not name an existing company' }]);
        }
        throw error;
      }
    } else {
      const name = options.companyName ?? lead.companyName;
      if (typeof name === 'string' && name.trim() !== '') company = await createRecord(at, ctx, 'companies', { name, ...ownership });
    }

    const contact = await createRecord(at, ctx, 'contacts', {
      firstName: lead.firstName,
      lastName: lead.lastName,
      email: lead.email,
      phone: lead.phone,
      jobTitle: lead.jobTitle,
      source: lead.source,
      companyId: company?.id ?? null,
      ...ownership,
    });

    let deal: RecordView | null = null;
    if (options.createDeal === true) {
      const fullName = [lead.firstName, lead.lastName].filter((part) => typeof part === 'string' && part !== '').join(' ');
      deal = await createDeal(at, ctx, {
        name: options.dealName ?? (company ? String(company.name) : fullName),
        ...(options.amount !== undefined ? { amount: options.amount } : {}),
        companyId: company?.id ?? null,
        contactId: contact.id,
        ...ownership,
      });
    }

    const converted = await updateRecord(at, ctx, 'leads', lead.id, lead.version, {}, {
      status: 'converted',
      convertedAt: at.clock.now().toISOString(),
      convertedContactId: contact.id,
      convertedCompanyId: company?.id ?? null,
      convertedDealId: deal?.id ?? null,
    });
    return { lead: converted, contact, company, deal };
  });
}
