import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_TYPES, type RecordType } from '../src/data/field-registry.js';
import { createRecords, deleteRecord, getRecord, iterateRecords } from '../src/data/record-store.js';
import { recordServices } from '../src/modules/record-services.js';
import { SCOPES, type Action, type Scope } from '../src/policy/model.js';
import { SHIPPED_ROLES } from '../src/policy/shipped-roles.js';
import { AppError } from '../src/shared/errors.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

/**
 * Every shipped role × record type × action, against records at every scope tier: the user's own,
 * a teammate's, one of a team below the user's, and one of an unrelated team. What each call may
 * reach is what the role's definition says; a record beyond the read scope must answer as missing.
 */
type Tier = Scope;
const TIERS: readonly Tier[] = SCOPES;
const reach = (scope: Scope | undefined): Set<Tier> => new Set(scope === undefined ? [] : TIERS.slice(0, TIERS.indexOf(scope) + 1));

/** A minimal valid record of each type, and a plain field to change and reveal. */
const SAMPLE: Record<RecordType, { input: Record<string, unknown>; field: string; value: string }> = {
  companies: { input: { name: 'Matrix Co' }, field: 'city', value: 'Hangzhou' },
  contacts: { input: { lastName: 'Matrix' }, field: 'jobTitle', value: 'Buyer' },
  leads: { input: { lastName: 'Matrix' }, field: 'jobTitle', value: 'Buyer' },
  deals: { input: { name: 'Matrix deal' }, field: 'name', value: 'Matrix deal 2' },
  activities: { input: { kind: 'note', subject: 'Matrix note' }, field: 'subject', value: 'Matrix note 2' },
  tickets: { input: { subject: 'Matrix ticket' }, field: 'subject', value: 'Matrix ticket 2' },
};

describe('the shipped roles, every record type and action at every scope', { timeout: 240_000 }, () => {
  let t: TestApp;
  const operator = cliContext('matrix');
  let team: string;
  let child: string;
  let other: string;
  let teammate: { id: string };
  let below: { id: string };
  let stranger: { id: string };

  beforeAll(async () => {
    t = await createTestApp();
    team = await t.makeTeam('Matrix team');
    child = await t.makeTeam('Matrix child team', team);
    other = await t.makeTeam('Matrix other team');
    teammate = (await t.makeUser({ roles: ['sales'], teamId: team })).user;
    below = (await t.makeUser({ roles: ['sales'], teamId: child })).user;
    stranger = (await t.makeUser({ roles: ['sales'], teamId: other })).user;
  });
  afterAll(async () => t.close());

  for (const role of SHIPPED_ROLES) {
    it(`${role.id}`, async () => {
      const { token, user } = await t.makeUser({ roles: [role.id], teamId: team });
      const ctx: ActorContext = { principal: { kind: 'user', userId: user.id, email: user.email, roles: [role.id], teamId: team, sessionId: 'matrix' }, channel: 'web', requestId: null, sourceAddress: null, userAgent: null };
      const call = (method: string, url: string, body?: unknown) => t.call(method, url, { token, ...(body !== undefined ? { body } : {}) });

      for (const type of RECORD_TYPES) {
        const grant = role.definition.records[type];
        const scopeOf = (action: Action): Scope | undefined => grant?.actions[action];
        const readable = reach(scopeOf('read'));
        const sample = SAMPLE[type];
        const owners: Record<Tier, { id: string; team: string }> = { own: { id: user.id, team }, team: { id: teammate.id, team }, subtree: { id: below.id, team: child }, all: { id: stranger.id, team: other } };
        const place = async (): Promise<Record<Tier, string>> => {
          const ids = {} as Record<Tier, string>;
          for (const tier of TIERS) ids[tier] = (await recordServices[type].create(t.deps, operator, { ...sample.input, ownerId: owners[tier].id, teamId: owners[tier].team })).id;
          return ids;
        };
        const expectOutcome = (tier: Tier, action: Action, status: number, success: number, what: string): void => {
          const expected = !readable.has(tier) ? 404 : reach(scopeOf(action)).has(tier) ? success : 403;
          expect(status, `${role.id} ${action} ${type} at ${tier}: ${what}`).toBe(expected);
        };

        const ids = await place();
        for (const tier of TIERS) {
          const res = await call('GET', `/api/v1/${type}/${ids[tier]}`);
          expectOutcome(tier, 'read', res.statusCode, 200, res.body);
        }
        for (const tier of TIERS) {
          const res = await call('POST', `/api/v1/${type}/${ids[tier]}/reveal`, { fields: [sample.field], reason: 'Matrix test of the reveal action' });
          expectOutcome(tier, 'reveal', res.statusCode, 200, res.body);
        }
        for (const tier of TIERS) {
          const current = await getRecord(t.deps, operator, type, ids[tier]);
          const res = await call('PATCH', `/api/v1/${type}/${ids[tier]}`, { version: current.version, [sample.field]: sample.value });
          expectOutcome(tier, 'update', res.statusCode, 200, res.body);
          const after = await getRecord(t.deps, operator, type, ids[tier]);
          expect(after[sample.field] === sample.value, `${role.id} update ${type} at ${tier} landed`).toBe(res.statusCode === 200);
        }

        // Export reaches the records in the export scope; without one, it is refused.
        const exportScope = scopeOf('export');
        if (exportScope === undefined) {
          await expect(iterateRecords(t.deps, ctx, type, { purpose: 'export' }).next()).rejects.toMatchObject({ code: 'auth.forbidden' });
        } else {
          const exported = new Set<string>();
          for await (const record of iterateRecords(t.deps, ctx, type, { purpose: 'export' })) exported.add(record.id);
          for (const tier of TIERS) expect(exported.has(ids[tier]), `${role.id} export ${type} at ${tier}`).toBe(reach(exportScope).has(tier));
        }

        // Create places the record with its creator; import needs create and import.
        const created = await call('POST', `/api/v1/${type}`, sample.input);
        expect(created.statusCode, `${role.id} create ${type}: ${created.body}`).toBe(scopeOf('create') ? 201 : 403);
        // (A deal needs the pipeline its service would fill in: past the policy, validation speaks.)
        const imported = await createRecords(t.deps, ctx, type, [sample.input], [], { purpose: 'import' }).then(
          () => 'allowed',
          (error: unknown) => (error instanceof AppError ? (error.code === 'auth.forbidden' ? 'forbidden' : 'allowed') : Promise.reject(error)),
        );
        expect(imported, `${role.id} import ${type}`).toBe(scopeOf('create') && scopeOf('import') ? 'allowed' : 'forbidden');

        // Handing one's own record to a teammate is an assign over the own and the team tier.
        {
          const current = await getRecord(t.deps, operator, type, ids.own);
          const res = await call('PATCH', `/api/v1/${type}/${ids.own}`, { version: current.version, ownerId: teammate.id });
          const mayUpdate = reach(scopeOf('update')).has('own');
          const mayAssign = reach(scopeOf('assign')).has('team');
          const expected = !readable.has('own') ? 404 : mayUpdate && mayAssign ? 200 : 403;
          expect(res.statusCode, `${role.id} assign ${type}: ${res.body}`).toBe(expected);
          if (res.statusCode === 200) {
            const back = (await getRecord(t.deps, operator, type, ids.own)).version as number;
            await recordServices[type].update(t.deps, operator, ids.own, back, { ownerId: user.id });
          }
        }

        for (const tier of TIERS) {
          const res = await call('DELETE', `/api/v1/${type}/${ids[tier]}`);
          expectOutcome(tier, 'delete', res.statusCode, 204, res.body);
        }
        for (const tier of TIERS) {
          const live = await getRecord(t.deps, operator, type, ids[tier]).then(
            () => true,
            () => false,
          );
          if (live) await deleteRecord(t.deps, operator, type, ids[tier]);
        }
        for (const tier of TIERS) {
          const res = await call('POST', `/api/v1/${type}/${ids[tier]}/restore`);
          expectOutcome(tier, 'restore', res.statusCode, 200, res.body);
        }
      }
    });
  }

  it('ships least privilege: no reveal for the administrator, no records for the auditor, sensitive values masked or hidden but for the privacy officer', () => {
    const byId = new Map(SHIPPED_ROLES.map((r) => [r.id, r.definition]));
    for (const type of RECORD_TYPES) expect(byId.get('admin')!.records[type]?.actions.reveal, type).toBeUndefined();
    expect(byId.get('auditor')!.records).toEqual({});
    for (const [id, definition] of byId) {
      for (const [type, grant] of Object.entries(definition.records)) {
        const rule = grant.fields['@sensitive'];
        if (id === 'privacy_officer') continue;
        expect(['masked', 'hidden'], `${id} ${type}`).toContain(rule);
      }
    }
  });
});
