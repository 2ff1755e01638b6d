import { countRecords, createRecords, inTransaction, type DataDeps, type RecordInput } from '../../data/record-store.js';
import { withBulkLoad, withDeferredIndexes } from '../../db/database.js';
import type { RecordType } from '../../data/field-registry.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { getDefaultPipeline, type PipelineView } from '../pipelines/pipelines.service.js';
import { createTeam, findTeamByName } from '../teams/teams.service.js';
import { SLA_HOURS } from '../tickets/tickets.service.js';
import { findUserByEmail, insertUser } from '../users/users.service.js';
import {
  ACTIVITY_BODIES,
  ACTIVITY_SUBJECTS,
  DEMO_TEAMS,
  DEMO_USERS,
  Dice,
  INDUSTRIES,
  LOST_REASONS,
  PRODUCTS,
  SOURCES,
  TICKET_BODIES,
  TICKET_SUBJECTS,
  buildPools,
  companyName,
  type DemoPools,
} from './demo.data.js';
import { DEFAULT_DEMO_SIZES, DEMO_STAGES, MAX_DEMO_SIZE, type DemoSizes, type DemoStage } from './demo.sizes.js';

/**
 * Realistic sample data in Chinese and English: teams and record owners, companies, contacts
 * working at them, deals across the default pipeline's stages, tickets, and activities attached to
 * all of these. Everything is written through the protected data layer in large batches.
 */

export { DEFAULT_DEMO_SIZES, DEMO_STAGES, MAX_DEMO_SIZE, type DemoSizes, type DemoStage } from './demo.sizes.js';

export interface DemoProgress {
  stage: DemoStage;
  done: number;
  total: number;
}

export interface DemoOptions {
  sizes?: Partial<DemoSizes>;
  /** The same seed gives the same data. */
  seed?: number;
  /** Records per batch: the unit of validation and of progress reports. */
  batchSize?: number;
  /** From how many records a stage builds the table's indexes at its end (default 50,000). */
  deferIndexesFrom?: number;
  onProgress?: (progress: DemoProgress) => void;
}

export interface DemoResult {
  teams: number;
  users: number;
  created: DemoSizes;
  /** Wall time per stage, in milliseconds. */
  millis: DemoSizes;
}

const DEFAULT_BATCH = 5_000;
/** Below this many rows, rebuilding a table's indexes costs more than it saves. */
const DEFERRED_INDEX_MIN = 50_000;
/** How many contacts are remembered for deals, tickets and activities to point at. */
const CONTACT_SAMPLE = 20_000;
const DAY = 86_400_000;

interface Owner {
  id: string;
  teamId: string | null;
  roles: string[];
}

interface ContactRef {
  id: string;
  companyId: string | null;
  zh: boolean;
}

/** Writes sample data. Sizes of zero skip a stage; deals need a default pipeline. */
export async function generateDemoData(deps: DataDeps, ctx: ActorContext, options: DemoOptions = {}): Promise<DemoResult> {
  const sizes: DemoSizes = { ...DEFAULT_DEMO_SIZES, ...options.sizes };
  for (const stage of DEMO_STAGES) {
    const n = sizes[stage];
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_DEMO_SIZE) {
      throw new AppError('request.invalid', `The number of ${stage} must be a whole number from 0 to ${MAX_DEMO_SIZE}`);
    }
  }
  const batchSize = Math.max(1, Math.min(options.batchSize ?? DEFAULT_BATCH, 10_000));
  const seed = options.seed ?? 20_240_601;
  const dice = new Dice(seed);
  const pools = buildPools(seed);
  const now = deps.clock.now().getTime();

  // Check what deals need before writing anything, so a missing pipeline leaves no half demo.
  let pipeline: PipelineView | null = null;
  if (sizes.deals > 0) {
    pipeline = await getDefaultPipeline(deps).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'pipeline.not_found') {
        throw new AppError('pipeline.not_found', 'Sample deals need a default pipeline and there is none; run `rampart migrate`, create a pipeline, or pass --deals 0');
      }
      throw error;
    });
    if (pipeline.stages.length === 0) throw new AppError('pipeline.not_found', 'The default pipeline has no stages; add some or pass --deals 0');
  }

  const { owners, teams } = await ensureOwners(deps, ctx);
  const sales = owners.filter((o) => o.roles.includes('sales'));
  const support = owners.filter((o) => o.roles.includes('support'));
  const created: DemoSizes = { companies: 0, contacts: 0, deals: 0, activities: 0, tickets: 0 };
  const millis: DemoSizes = { companies: 0, contacts: 0, deals: 0, activities: 0, tickets: 0 };

  const write = async (stage: DemoStage, type: RecordType, make: (i: number) => { input: RecordInput; derived?: Record<string, unknown> }, onCreated?: (id: string, input: RecordInput) => void): Promise<void> => {
    const started = performance.now();
    const total = sizes[stage];
    options.onProgress?.({ stage, done: 0, total });
    // Each stage is one transaction: a failure or a killed process leaves none of its records.
    // When it at least doubles the table, indexes are rebuilt once at the end instead of growing
    // row by row, which halves the time of a large load.
    const existing = total > 0 ? await countRecords(deps, ctx, type) : 0;
    await inTransaction(deps, async (tx) => {
      const load = async (): Promise<void> => {
        for (let start = 0; start < total; start += batchSize) {
          const end = Math.min(start + batchSize, total);
          const inputs: RecordInput[] = [];
          const derived: Record<string, unknown>[] = [];
          for (let i = start; i < end; i++) {
            const row = make(i);
            inputs.push(row.input);
            derived.push(row.derived ?? {});
          }
          const results = await createRecords(tx, ctx, type, inputs, derived);
          results.forEach((result, k) => {
            if (!result.ok) {
              // Generated rows are valid by construction; a refusal here is a bug worth stopping for.
              throw new AppError('record.validation_failed', `Sample ${stage} were refused: ${result.problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, result.problems);
            }
            created[stage] += 1;
            onCreated?.(result.id, inputs[k]!);
          });
          options.onProgress?.({ stage, done: end, total });
        }
      };
      if (total >= existing && total >= (options.deferIndexesFrom ?? DEFERRED_INDEX_MIN)) await withDeferredIndexes(tx.db, tx.dialect, type, load);
      else await load();
    });
    millis[stage] = Math.round(performance.now() - started);
  };

  // One load of many transactions: the database may hold back its housekeeping until the end.
  await withBulkLoad(deps.db, deps.dialect, async () => {
    const companies: { id: string; zh: boolean; domain: string }[] = [];
    const companyNames = new Set<string>();
    await write('companies', 'companies', (i) => ({ input: makeCompany(dice, pools, i, companyNames, pickOwner(dice, sales, owners)) }), (id, input) => {
      companies.push({ id, zh: input.country === pools.zh.country, domain: String(input.domain) });
    });

    const contacts: ContactRef[] = [];
    let contactsSeen = 0;
    await write('contacts', 'contacts', (i) => ({ input: makeContact(dice, pools, i, companies, pickOwner(dice, sales, owners)) }), (id, input) => {
      // A uniform sample of contacts (reservoir sampling), so a million contacts need not be held.
      const ref: ContactRef = { id, companyId: (input.companyId as string | undefined) ?? null, zh: input.country === pools.zh.country };
      contactsSeen += 1;
      if (contacts.length < CONTACT_SAMPLE) contacts.push(ref);
      else {
        const slot = Math.floor(dice.next() * contactsSeen);
        if (slot < CONTACT_SAMPLE) contacts[slot] = ref;
      }
    });

    const deals: { id: string }[] = [];
    if (pipeline) {
      const stages = pipeline.stages;
      const pipelineId = pipeline.id;
      await write('deals', 'deals', (i) => makeDeal(dice, pools, i, now, pipelineId, stages, contacts, companies, pickOwner(dice, sales, owners)), (id) => {
        if (deals.length < CONTACT_SAMPLE) deals.push({ id });
      });
    }

    const tickets: { id: string }[] = [];
    await write('tickets', 'tickets', (i) => makeTicket(dice, i, now, contacts, support.length > 0 ? support : owners), (id) => {
      if (tickets.length < CONTACT_SAMPLE) tickets.push({ id });
    });

    await write('activities', 'activities', (i) => ({ input: makeActivity(dice, i, now, { companies, contacts, deals, tickets }, pickOwner(dice, owners, owners)) }));
  });

  return { teams, users: owners.length, created, millis };
}

/** Creates the sample teams and owners, or finds them from an earlier run. */
async function ensureOwners(deps: DataDeps, ctx: ActorContext): Promise<{ owners: Owner[]; teams: number }> {
  const teamIds: string[] = [];
  for (const name of DEMO_TEAMS) {
    const team = (await findTeamByName(deps, name)) ?? (await createTeam(deps, ctx, { name }));
    teamIds.push(team.id);
  }
  const owners: Owner[] = [];
  for (const spec of DEMO_USERS) {
    const user =
      (await findUserByEmail(deps, spec.email)) ??
      (await insertUser(deps, ctx, { email: spec.email, name: spec.name, password: null, roles: spec.roles, teamId: teamIds[spec.team] ?? null, locale: spec.locale }));
    owners.push({ id: user.id, teamId: user.teamId, roles: user.roles });
  }
  return { owners, teams: teamIds.length };
}

function pickOwner(dice: Dice, preferred: Owner[], all: Owner[]): Owner {
  return dice.pick(preferred.length > 0 ? preferred : all);
}

function ownership(owner: Owner): RecordInput {
  return { ownerId: owner.id, teamId: owner.teamId };
}

function makeCompany(dice: Dice, pools: DemoPools, i: number, taken: Set<string>, owner: Owner): RecordInput {
  const zh = dice.chance(0.55);
  const p = zh ? pools.zh : pools.en;
  const city = dice.pick(p.cities);
  let name = companyName(zh);
  // Same-named companies are told apart the way people do: by the branch's city, then a number.
  if (taken.has(name)) name = zh ? `${name}${city}分公司` : `${name} (${city})`;
  if (taken.has(name)) name = `${name} ${i + 1}`;
  if (taken.size < 1_000_000) taken.add(name);
  const slug = zh ? 'cn' : name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30) || 'co';
  const domain = `${slug}-${i + 1}.example.com`;
  const lang = zh ? 'zh' : 'en';
  return {
    ...ownership(owner),
    name,
    domain,
    website: `https://www.${domain}`,
    industry: dice.pick(INDUSTRIES[lang]),
    employees: Math.round(Math.exp(dice.next() * Math.log(20_000))) + 4,
    phone: dice.pick(p.phones),
    address: dice.pick(p.streets),
    city,
    country: p.country,
    description: dice.pick(p.sentences),
  };
}

const LIFECYCLE = [['subscriber', 1], ['lead', 4], ['opportunity', 2], ['customer', 3], ['evangelist', 0.5], ['other', 0.5]] as const;

function makeContact(dice: Dice, pools: DemoPools, i: number, companies: { id: string; zh: boolean; domain: string }[], owner: Owner): RecordInput {
  const company = companies.length > 0 && dice.chance(0.9) ? dice.pick(companies) : null;
  // Most people at a Chinese company have Chinese names, and the other way round; some do not.
  const zh = company ? (dice.chance(0.9) ? company.zh : !company.zh) : dice.chance(0.55);
  const p = zh ? pools.zh : pools.en;
  const lang = zh ? 'zh' : 'en';
  const firstName = dice.pick(p.firstNames);
  const lastName = dice.pick(p.lastNames);
  // Chinese names have no letters to build an address from; a numbered mailbox stands in.
  const local = zh ? `user${i + 1}` : `${mailboxPart(firstName)}.${mailboxPart(lastName)}.${i + 1}`;
  const input: RecordInput = {
    ownerId: owner.id,
    teamId: owner.teamId,
    firstName,
    lastName,
    email: `${local}@${company ? company.domain : 'mail.example.com'}`,
    phone: dice.pick(p.phones),
    jobTitle: dice.pick(p.jobTitles),
    city: dice.pick(p.cities),
    country: p.country,
    source: dice.pick(SOURCES[lang]),
    lifecycleStage: dice.weighted(LIFECYCLE),
  };
  if (company) input.companyId = company.id;
  if (dice.chance(0.3)) input.mobile = dice.pick(p.phones);
  if (dice.chance(0.2)) input.address = dice.pick(p.streets);
  if (dice.chance(0.15)) input.birthday = `${dice.int(1960, 2000)}-${pad(dice.int(1, 12))}-${pad(dice.int(1, 28))}`;
  return input;
}

const mailboxParts = new Map<string, string>();

/** A name as it appears in a sample email address; a few hundred names make every address. */
function mailboxPart(name: string): string {
  let part = mailboxParts.get(name);
  if (part === undefined) {
    part = name.toLowerCase().replace(/[^a-z0-9.]+/g, '');
    if (mailboxParts.size < 10_000) mailboxParts.set(name, part);
  }
  return part;
}

function makeDeal(
  dice: Dice,
  pools: DemoPools,
  i: number,
  now: number,
  pipelineId: string,
  stages: PipelineView['stages'],
  contacts: ContactRef[],
  companies: { id: string; zh: boolean }[],
  owner: Owner,
): { input: RecordInput; derived: Record<string, unknown> } {
  const contact = contacts.length > 0 ? dice.pick(contacts) : null;
  const company = contact?.companyId ? { id: contact.companyId, zh: contact.zh } : companies.length > 0 ? dice.pick(companies) : null;
  const zh = contact?.zh ?? company?.zh ?? dice.chance(0.55);
  const lang = zh ? 'zh' : 'en';
  // Early stages hold more deals than late ones, as in a real funnel.
  const stage = dice.weighted(stages.map((s, k) => [s, s.outcome === 'open' ? stages.length - k : 1.5] as const));
  // The store stamps every sample record as created now, so a closed deal closed now too.
  const closedAt = stage.outcome === 'open' ? null : new Date(now).toISOString();
  const input: RecordInput = {
    ...ownership(owner),
    name: `${dice.pick(PRODUCTS[lang])} #${i + 1}`,
    pipelineId,
    stageId: stage.id,
    amount: String(dice.int(5, 2_000) * 500),
    currency: (zh ? pools.zh : pools.en).currency,
    expectedCloseDate: new Date(now + dice.int(-30, 180) * DAY).toISOString().slice(0, 10),
  };
  if (contact) input.contactId = contact.id;
  if (company) input.companyId = company.id;
  if (stage.outcome === 'lost') input.lostReason = dice.pick(LOST_REASONS[lang]);
  return { input, derived: { status: stage.outcome, closedAt } };
}

const TICKET_STATUS = [['new', 2], ['open', 3], ['pending', 1.5], ['solved', 2], ['closed', 2]] as const;
const TICKET_PRIORITY = [['low', 2], ['normal', 5], ['high', 2], ['urgent', 1]] as const;
const TICKET_CHANNEL = [['email', 4], ['phone', 3], ['web', 2], ['chat', 2], ['other', 0.5]] as const;

function makeTicket(dice: Dice, i: number, now: number, contacts: ContactRef[], agents: Owner[]): { input: RecordInput; derived: Record<string, unknown> } {
  const contact = contacts.length > 0 ? dice.pick(contacts) : null;
  const zh = contact?.zh ?? dice.chance(0.55);
  const lang = zh ? 'zh' : 'en';
  const status = dice.weighted(TICKET_STATUS);
  const priority = dice.weighted(TICKET_PRIORITY);
  const agent = dice.pick(agents);
  const solvedAt = status === 'solved' || status === 'closed' ? new Date(now).toISOString() : null;
  // Deadlines spread around now, so some open tickets are already past their SLA.
  const slaHours = SLA_HOURS[priority];
  const input: RecordInput = {
    ...ownership(agent),
    subject: `${dice.pick(TICKET_SUBJECTS[lang])} (#${i + 1})`,
    description: dice.pick(TICKET_BODIES[lang]),
    status,
    priority,
    channel: dice.weighted(TICKET_CHANNEL),
    assigneeId: status === 'new' ? null : agent.id,
    slaDueAt: new Date(now + dice.int(-slaHours, slaHours) * 3_600_000).toISOString(),
  };
  if (contact) input.contactId = contact.id;
  if (contact?.companyId) input.companyId = contact.companyId;
  return { input, derived: { solvedAt, closedAt: status === 'closed' ? solvedAt : null } };
}

const ACTIVITY_KIND = [['note', 3], ['call', 3], ['meeting', 2], ['task', 3], ['email', 1]] as const;

function makeActivity(
  dice: Dice,
  i: number,
  now: number,
  related: { companies: { id: string }[]; contacts: { id: string }[]; deals: { id: string }[]; tickets: { id: string }[] },
  owner: Owner,
): RecordInput {
  const kind = dice.weighted(ACTIVITY_KIND);
  const zh = dice.chance(0.55);
  const lang = zh ? 'zh' : 'en';
  const input: RecordInput = {
    ...ownership(owner),
    kind,
    subject: dice.pick(ACTIVITY_SUBJECTS[kind][lang]),
    body: dice.pick(ACTIVITY_BODIES[lang]),
  };
  const targets = (
    [
      ['contacts', related.contacts, 5],
      ['companies', related.companies, 2],
      ['deals', related.deals, 3],
      ['tickets', related.tickets, 1],
    ] as const
  ).filter(([, list]) => list.length > 0);
  if (targets.length > 0) {
    const [relatedType, list] = dice.weighted(targets.map((t) => [t, t[2]] as const));
    input.relatedType = relatedType;
    input.relatedId = dice.pick(list).id;
  }
  if (kind === 'task' || kind === 'meeting') {
    // Some overdue, some today, most ahead; past ones are mostly done.
    const due = now + dice.int(-14 * 24, 30 * 24) * 3_600_000;
    input.dueAt = new Date(due).toISOString();
    if (due < now && dice.chance(0.7)) input.completedAt = new Date(due - dice.int(0, 48) * 3_600_000).toISOString();
  } else if (i % 7 === 0) {
    input.completedAt = new Date(now - dice.int(0, 30) * DAY).toISOString();
  }
  return input;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
