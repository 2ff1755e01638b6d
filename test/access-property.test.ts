import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRecords, getRecord } from '../src/data/record-store.js';
import { createCustomField } from '../src/modules/custom-fields/custom-fields.service.js';
import { recordServices } from '../src/modules/record-services.js';
import { createRole } from '../src/modules/roles/roles.service.js';
import { stripMarks } from '../src/modules/exports/export-fingerprint.js';
import { writeExport } from '../src/modules/transfer/transfer.export.js';
import { SHIPPED_ROLES } from '../src/policy/shipped-roles.js';
import { newId } from '../src/shared/ids.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

/**
 * Random worlds of teams, users, custom roles and records, checked against an oracle written here
 * from the rules as documented (not from the engine's code): every read route answers exactly the
 * records the oracle allows, no hidden or masked value appears in any answer or error, and a write
 * lands exactly when the oracle allows it.
 */
const SEED = Number(process.env.RAMPART_TEST_POLICY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.RAMPART_TEST_POLICY_RUNS ?? 6);
/** Numbers the exports the property writes, each its own export. */
let exportNo = 0;

const SCOPE_ORDER = ['own', 'team', 'subtree', 'all'] as const;
const RULE_ORDER = ['hidden', 'masked', 'read', 'write'] as const;
type Scope = (typeof SCOPE_ORDER)[number];
type Rule = (typeof RULE_ORDER)[number];
type Type = 'companies' | 'contacts' | 'activities';
interface Grant {
  actions: Partial<Record<'read' | 'update' | 'export', Scope>>;
  fields: Record<string, Rule>;
}
type Definition = { records: Partial<Record<Type, Grant>>; permissions: string[] };

/** The contact fields the worlds fill with marker values, with their classification. */
const CONTACT_FIELDS: Record<string, string> = { lastName: 'personal', firstName: 'personal', email: 'personal', jobTitle: 'internal', idNumber: 'sensitive', 'custom:cfPersonal': 'personal', 'custom:cfSensitive': 'sensitive', 'custom:cfInternal': 'internal' };
const SEARCHABLE_CONTACT_FIELDS = ['firstName', 'lastName', 'email', 'phone', 'mobile', 'jobTitle'];
const RULE_TARGETS = ['lastName', 'firstName', 'email', 'idNumber', 'jobTitle', 'cfPersonal', 'cfSensitive', 'cfInternal', '@personal', '@sensitive'];

const scopeArb = fc.constantFrom<Scope | undefined>(undefined, ...SCOPE_ORDER);
const grantArb: fc.Arbitrary<Grant | undefined> = fc.option(
  fc.record({
    actions: fc.record({ read: scopeArb, update: scopeArb, export: scopeArb }).map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Grant['actions']),
    fields: fc.dictionary(fc.constantFrom(...RULE_TARGETS), fc.constantFrom(...RULE_ORDER), { maxKeys: 4 }),
  }),
  { nil: undefined },
);
const definitionArb: fc.Arbitrary<Definition> = fc
  .record({ companies: grantArb, contacts: grantArb, activities: grantArb })
  .map((r) => ({ records: Object.fromEntries(Object.entries(r).filter(([, g]) => g !== undefined)) as Definition['records'], permissions: [] }));

const worldArb = fc.record({
  teamParents: fc.array(fc.nat(), { minLength: 2, maxLength: 4 }),
  customRoles: fc.array(definitionArb, { minLength: 1, maxLength: 2 }),
    // Few roles each, so that unions stay narrow enough for custom rules to matter.
  users: fc.array(fc.record({ team: fc.nat(), shipped: fc.subarray(SHIPPED_ROLES.map((r) => r.id), { maxLength: 1 }), custom: fc.subarray([0, 1], { minLength: 1 }) }), { minLength: 2, maxLength: 4 }),
  contacts: fc.array(fc.record({ owner: fc.nat(), team: fc.nat(), company: fc.nat() }), { minLength: 3, maxLength: 7 }),
  activities: fc.array(fc.record({ owner: fc.nat(), contact: fc.nat() }), { minLength: 1, maxLength: 3 }),
  write: fc.record({ contact: fc.nat(), field: fc.constantFrom('jobTitle', 'lastName', 'idNumber', 'cfInternal', 'cfSensitive') }),
});

describe('access control against an independent oracle', { timeout: 600_000 }, () => {
  let t: TestApp;
  const operator = cliContext('property');
  let run = 0;
  // Everything made so far, across runs: lists and counts see earlier runs' records too.
  const teamParent = new Map<string, string | null>();
  const allContacts: { id: string; owner: string; team: string | null }[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    for (const [key, classification] of [['cfPersonal', 'personal'], ['cfSensitive', 'sensitive'], ['cfInternal', 'internal']] as const) {
      await createCustomField(t.deps, operator, { recordType: 'contacts', key, label: key, type: 'text', classification });
    }
  });
  afterAll(async () => t.close());

  it('answers every read route as the oracle allows, leaks nothing hidden or masked, and lands only allowed writes', async () => {
    try {
      await fc.assert(
        fc.asyncProperty(worldArb, async (world) => {
          run += 1;
          const marker = () => `qz${run}x${Math.random().toString(36).slice(2, 10)}`;

          // Teams, each under an earlier one or at the top.
          const teams: string[] = [];
          for (const [i, p] of world.teamParents.entries()) {
            const parent = i === 0 || p % (i + 1) === i ? null : teams[p % i]!;
            const id = await t.makeTeam(`P${run}-${i}`, parent);
            teams.push(id);
            teamParent.set(id, parent);
          }
          const customIds: string[] = [];
          for (const [i, definition] of world.customRoles.entries()) {
            const id = `prop_${run}_${i}`;
            await createRole(t.deps, operator, { id, name: id, definition });
            customIds.push(id);
          }
          const definitions = new Map<string, Definition>([...SHIPPED_ROLES.map((r) => [r.id, r.definition as unknown as Definition] as const), ...world.customRoles.map((d, i) => [customIds[i]!, d] as const)]);
          const users: { id: string; token: string; team: string | null; roles: string[] }[] = [];
          for (const u of world.users) {
            const roles = [...u.shipped, ...u.custom.filter((c) => c < customIds.length).map((c) => customIds[c]!)];
            if (roles.length === 0) roles.push('auditor');
            const team = u.team % (teams.length + 1) === teams.length ? null : teams[u.team % (teams.length + 1)]!;
            const made = await t.makeUser({ roles, teamId: team });
            users.push({ id: made.user.id, token: made.token, team, roles });
          }
          const companies: { id: string; owner: string; team: string | null }[] = [];
          for (const owner of users.slice(0, 2)) companies.push({ id: (await recordServices.companies.create(t.deps, operator, { name: marker(), ownerId: owner.id, teamId: owner.team })).id, owner: owner.id, team: owner.team });

          const contacts: { id: string; owner: string; team: string | null; company: string; values: Record<string, string> }[] = [];
          for (const c of world.contacts) {
            const owner = users[c.owner % users.length]!;
            const team = c.team % (teams.length + 1) === teams.length ? null : teams[c.team % (teams.length + 1)]!;
            const company = companies[c.company % companies.length]!.id;
            const values: Record<string, string> = { lastName: marker(), firstName: marker(), email: `${marker()}@oracle.test`, jobTitle: marker(), idNumber: `${marker()}ID9`, 'custom:cfPersonal': marker(), 'custom:cfSensitive': marker(), 'custom:cfInternal': marker() };
            const input = { lastName: values.lastName, firstName: values.firstName, email: values.email, jobTitle: values.jobTitle, idNumber: values.idNumber, companyId: company, ownerId: owner.id, teamId: team, customFields: { cfPersonal: values['custom:cfPersonal'], cfSensitive: values['custom:cfSensitive'], cfInternal: values['custom:cfInternal'] } };
            const id = (await recordServices.contacts.create(t.deps, operator, input)).id;
            contacts.push({ id, owner: owner.id, team, company, values });
            allContacts.push({ id, owner: owner.id, team });
          }
          const activities: { id: string; owner: string; team: string | null; contact: string; body: string }[] = [];
          for (const a of world.activities) {
            const owner = users[a.owner % users.length]!;
            const contact = contacts[a.contact % contacts.length]!;
            const body = marker();
            const id = (await recordServices.activities.create(t.deps, operator, { kind: 'note', subject: 'Oracle note', body, relatedType: 'contacts', relatedId: contact.id, ownerId: owner.id, teamId: owner.team })).id;
            activities.push({ id, owner: owner.id, team: owner.team, contact: contact.id, body });
          }

          // ---- The oracle -------------------------------------------------------------------
          const below = (team: string): Set<string> => {
            const found = new Set([team]);
            let grew = true;
            while (grew) {
              grew = false;
              for (const [id, parent] of teamParent) if (parent && found.has(parent) && !found.has(id)) (found.add(id), (grew = true));
            }
            return found;
          };
          const tierOf = (user: (typeof users)[number], record: { owner: string; team: string | null }): number => {
            if (record.owner === user.id) return 0;
            if (user.team && record.team === user.team) return 1;
            if (user.team && record.team && below(user.team).has(record.team)) return 2;
            return 3;
          };
          const grantsOf = (user: (typeof users)[number], type: Type): Grant[] => user.roles.map((r) => definitions.get(r)!.records[type]).filter((g): g is Grant => g !== undefined && Object.keys(g.actions).length > 0);
          const may = (user: (typeof users)[number], type: Type, action: 'read' | 'update' | 'export', record: { owner: string; team: string | null }): boolean =>
            user.roles.some((r) => {
              const scope = definitions.get(r)!.records[type]?.actions[action];
              return scope !== undefined && SCOPE_ORDER.indexOf(scope) >= tierOf(user, record);
            });
          const ruleOf = (user: (typeof users)[number], field: string): Rule => {
            const key = field.replace('custom:', '');
            const classification = CONTACT_FIELDS[field] ?? (field === 'phone' || field === 'mobile' ? 'personal' : 'internal');
            let best = -1;
            for (const grant of grantsOf(user, 'contacts')) best = Math.max(best, RULE_ORDER.indexOf(grant.fields[key] ?? grant.fields[`@${classification}`] ?? 'write'));
            return best < 0 ? 'hidden' : RULE_ORDER[best]!;
          };
          const readable = (rule: Rule) => rule === 'read' || rule === 'write';
          /** Markers this user must never see, in anything: all values of records out of reach, and values hidden or masked to them. */
          const forbidden = (user: (typeof users)[number], action: 'read' | 'export' = 'read'): string[] => {
            const out: string[] = [];
            for (const c of contacts) {
              for (const [field, value] of Object.entries(c.values)) if (!may(user, 'contacts', action, c) || !readable(ruleOf(user, field))) out.push(value);
            }
            for (const a of activities) if (!may(user, 'activities', action, a)) out.push(a.body);
            return out;
          };
          const noLeak = (body: string, secrets: string[], what: string) => {
            for (const secret of secrets) expect(body.includes(secret), `${what} leaked a value it must not show`).toBe(false);
          };

          // ---- Every read route, for every user ---------------------------------------------
          for (const user of users) {
            const as = { token: user.token };
            const secrets = forbidden(user);
            const mayListContacts = grantsOf(user, 'contacts').some((g) => g.actions.read);
            const visible = contacts.filter((c) => may(user, 'contacts', 'read', c)).map((c) => c.id).sort();

            const list = await t.call('GET', '/api/v1/contacts?limit=200', as);
            noLeak(list.body, secrets, 'the contact list');
            if (!mayListContacts) expect(list.statusCode).toBe(403);
            else {
              expect(list.statusCode, list.body).toBe(200);
              const mine = new Set(contacts.map((c) => c.id));
              expect(list.json().items.map((i: { id: string }) => i.id).filter((id: string) => mine.has(id)).sort()).toEqual(visible);
              const count = await countRecords(t.deps, contextOf(user), 'contacts');
              expect(count, 'the count').toBe(allContacts.filter((c) => may(user, 'contacts', 'read', c)).length);
            }

            for (const c of contacts) {
              const res = await t.call('GET', `/api/v1/contacts/${c.id}`, as);
              noLeak(res.body, secrets, 'a contact');
              expect(res.statusCode).toBe(may(user, 'contacts', 'read', c) ? 200 : 404);
              if (res.statusCode !== 200) continue;
              const view = res.json();
              for (const [field, value] of Object.entries(c.values)) {
                const custom = field.startsWith('custom:');
                const bag = custom ? view.customFields : view;
                const key = field.replace('custom:', '');
                const rule = ruleOf(user, field);
                if (rule === 'hidden') expect(key in bag, `${field} is hidden`).toBe(false);
                else if (rule === 'masked') expect(view.maskedFields, `${field} is masked`).toContain(custom ? `customFields.${key}` : key);
                else expect(bag[key], `${field} reads in clear`).toBe(value);
              }
            }

            // Search by each family name: a hit only for a contact in reach, and only when every
            // searchable contact field reads in clear to the user (otherwise its words are left out).
            const fullSearch = SEARCHABLE_CONTACT_FIELDS.every((f) => readable(ruleOf(user, f)));
            for (const c of contacts) {
              const search = await t.call('GET', `/api/v1/search?q=${c.values.lastName}`, as);
              noLeak(search.body, secrets, 'search');
              expect(search.json().items.some((h: { id: string }) => h.id === c.id), 'search hit').toBe(mayListContacts && fullSearch && may(user, 'contacts', 'read', c));
            }
            const target = contacts[run % contacts.length]!;

            // Related contacts of a company, and a contact's timeline.
            for (const company of companies) {
              const res = await t.call('GET', `/api/v1/companies/${company.id}/contacts?limit=200`, as);
              noLeak(res.body, secrets, 'a related list');
              if (!may(user, 'companies', 'read', company)) expect(res.statusCode).toBe(404);
              else if (!mayListContacts) expect(res.statusCode).toBe(403);
              else expect(res.json().items.map((i: { id: string }) => i.id).sort()).toEqual(contacts.filter((c) => c.company === company.id && may(user, 'contacts', 'read', c)).map((c) => c.id).sort());
            }
            const timeline = await t.call('GET', `/api/v1/contacts/${target.id}/timeline?limit=200`, as);
            noLeak(timeline.body, secrets, 'a timeline');
            if (!may(user, 'contacts', 'read', target)) expect(timeline.statusCode).toBe(404);
            else if (!grantsOf(user, 'activities').some((g) => g.actions.read)) expect(timeline.statusCode).toBe(403);
            else {
              const shown = timeline.json().items.filter((e: { activity: unknown }) => e.activity).map((e: { activity: { id: string } }) => e.activity.id).sort();
              expect(shown).toEqual(activities.filter((a) => a.contact === target.id && may(user, 'activities', 'read', a)).map((a) => a.id).sort());
            }

            // Export: the records of the export scope, with the same field rules.
            const out = new PassThrough();
            const chunks: Buffer[] = [];
            out.on('data', (chunk: Buffer) => chunks.push(chunk));
            // Its own export each time (a fresh id and number); the invisible marks are taken out to
            // read it as a person would; the canary rows it adds are invented and hold no record's id.
            exportNo += 1;
            const exported = await writeExport(t.deps, contextOf(user), { type: 'contacts', format: 'csv', exportId: newId(), exportNo }, out).then(
              () => true,
              () => false,
            );
            const csv = stripMarks(Buffer.concat(chunks).toString('utf8'));
            expect(exported, 'export allowed').toBe(grantsOf(user, 'contacts').some((g) => g.actions.export));
            noLeak(csv, forbidden(user, 'export'), 'an export');
            if (exported) {
              for (const c of contacts) expect(csv.includes(c.id), 'exported record').toBe(may(user, 'contacts', 'export', c));
              const header = csv.split(/\r?\n/)[0]!.split(',');
              for (const field of Object.keys(CONTACT_FIELDS)) expect(header.includes(field.replace('custom:', '')), `export column ${field}`).toBe(ruleOf(user, field) !== 'hidden');
            }
          }

          // ---- One write per user: it lands exactly when the oracle allows it --------------
          for (const user of users) {
            const c = contacts[world.write.contact % contacts.length]!;
            const field = world.write.field;
            const current = await getRecord(t.deps, operator, 'contacts', c.id);
            const value = field === 'idNumber' ? `${marker()}ID9` : marker();
            const body = field.startsWith('cf') ? { version: current.version, customFields: { [field]: value } } : { version: current.version, [field]: value };
            const res = await t.call('PATCH', `/api/v1/contacts/${c.id}`, { token: user.token, body });
            const classField = field.startsWith('cf') ? `custom:${field}` : field;
            const allowed = may(user, 'contacts', 'read', c) && may(user, 'contacts', 'update', c) && ruleOf(user, classField) === 'write';
            expect(res.statusCode, `write ${field}: ${res.body}`).toBe(allowed ? 200 : may(user, 'contacts', 'read', c) ? 403 : 404);
            const after = await getRecord(t.deps, operator, 'contacts', c.id);
            const stored = field.startsWith('cf') ? (after.customFields as Record<string, unknown>)[field] : after[field];
            expect(stored === value, 'the write landed').toBe(allowed);
            if (allowed) c.values[classField] = value;
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\nReproduce with RAMPART_TEST_POLICY_SEED=${SEED}`, { cause: error });
    }
  });
});

function contextOf(user: { id: string; team: string | null; roles: string[] }): ActorContext {
  return { principal: { kind: 'user', userId: user.id, email: 'oracle@example.test', roles: user.roles, teamId: user.team, sessionId: 'oracle' }, channel: 'web', requestId: null, sourceAddress: null, userAgent: null };
}
