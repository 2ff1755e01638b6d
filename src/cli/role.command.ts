import type { Command } from 'commander';
import { RECORD_TYPES, type RecordType } from '../data/field-registry.js';
import { ACTIONS, FIELD_RULES, PERMISSIONS, SCOPES, type Action, type FieldRule, type Permission, type RoleDefinition, type Scope } from '../policy/model.js';
import type { RoleGrant, RoleRevoke, RoleView } from '../modules/roles/roles.service.js';
import { printJson, printLine, printTable } from './output.js';
import { UsageError, withDatabase } from './runtime.js';

// Services load when a command runs, so `--help` stays quick.
const rolesService = () => import('../modules/roles/roles.service.js');

interface GrantOptions {
  type?: string;
  action?: string;
  scope?: string;
  field?: string;
  rule?: string;
  permission?: string;
  allowNetwork?: string;
  denyNetwork?: string;
  json?: boolean;
}

/** `role list|show|create|grant|revoke|delete`. */
export function registerRoleCommands(program: Command): void {
  const role = program.command('role').description('Manage roles: what each grants, per record type, field and system permission');

  role
    .command('list')
    .description('List roles')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const roles = await (await rolesService()).listRoles(deps, ctx);
        if (opts.json) return printJson(roles);
        printTable(
          ['ID', 'NAME', 'KIND', 'RECORD TYPES', 'PERMISSIONS'],
          roles.map((r) => [r.id, r.name, r.builtin ? 'shipped' : 'custom', Object.keys(r.definition.records).join(',') || '-', r.definition.permissions.join(',') || '-']),
        );
      });
    });

  role
    .command('show')
    .description('Show what a role grants')
    .argument('<role>', 'role id')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await (await rolesService()).getRole(deps, ctx, id);
        if (opts.json) return printJson(found);
        printRole(found);
      });
    });

  role
    .command('create')
    .description('Create a custom role, empty until granted something')
    .argument('<role>', 'role id: lower-case letters, digits and underscores')
    .requiredOption('--name <name>', 'display name')
    .option('--description <text>', 'what the role is for')
    .option('--json', 'print the role as JSON')
    .action(async (id: string, opts: { name: string; description?: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const created = await (await rolesService()).createRole(deps, ctx, { id, name: opts.name, ...(opts.description !== undefined ? { description: opts.description } : {}) });
        if (opts.json) printJson(created);
        else printLine(`Created role ${created.id}`);
      });
    });

  withGrantOptions(role.command('grant').description('Grant a custom role an action with a scope, a field rule, or a system permission'))
    .addHelpText(
      'after',
      '\nExamples:\n  rampart role grant key_accounts --type contacts --action read --scope team\n  rampart role grant key_accounts --type contacts --field @sensitive --rule masked\n  rampart role grant key_accounts --permission users.read\n  rampart role grant key_accounts --allow-network 10.1.0.0/16',
    )
    .action(async (id: string, opts: GrantOptions, command: Command) => {
      const grant = parseGrant(opts);
      await withDatabase(command, async ({ deps, ctx }) => {
        const changed = await (await rolesService()).grantToRole(deps, ctx, id, grant);
        if (opts.json) printJson(changed);
        else printLine(`Granted; role ${changed.id} is now at version ${changed.version}`);
      });
    });

  withGrantOptions(role.command('revoke').description('Take an action, a field rule or a system permission away from a custom role'))
    .action(async (id: string, opts: GrantOptions, command: Command) => {
      const revoke = parseRevoke(opts);
      await withDatabase(command, async ({ deps, ctx }) => {
        const changed = await (await rolesService()).revokeFromRole(deps, ctx, id, revoke);
        if (opts.json) printJson(changed);
        else printLine(`Revoked; role ${changed.id} is now at version ${changed.version}`);
      });
    });

  role
    .command('delete')
    .description('Delete a custom role that no user holds')
    .argument('<role>', 'role id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        await (await rolesService()).deleteRole(deps, ctx, id);
        printLine(`Deleted role ${id}`);
      });
    });
}

function withGrantOptions(command: Command): Command {
  return command
    .argument('<role>', 'role id')
    .option('--type <type>', `record type: ${RECORD_TYPES.join(', ')}`)
    .option('--action <action>', `with --type: ${ACTIONS.join(', ')}`)
    .option('--scope <scope>', `with --action: ${SCOPES.join(', ')}`)
    .option('--field <field>', 'with --type: a field key, or @public, @internal, @personal, @sensitive')
    .option('--rule <rule>', `with --field: ${FIELD_RULES.join(', ')}`)
    .option('--permission <permission>', `a system permission: ${PERMISSIONS.join(', ')}`)
    .option('--allow-network <range>', 'an address range (CIDR) the role counts from, e.g. 10.1.0.0/16')
    .option('--deny-network <range>', 'an address range the role never counts from')
    .option('--json', 'print the role as JSON');
}

function oneOf<T extends string>(list: readonly T[], value: string | undefined, flag: string): T {
  if (value === undefined || !(list as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${list.join(', ')}`);
  return value as T;
}

function networkOf(opts: GrantOptions): { kind: 'network'; list: 'allow' | 'deny'; range: string } | null {
  if (opts.allowNetwork !== undefined) return { kind: 'network', list: 'allow', range: opts.allowNetwork };
  if (opts.denyNetwork !== undefined) return { kind: 'network', list: 'deny', range: opts.denyNetwork };
  return null;
}

function parseGrant(opts: GrantOptions): RoleGrant {
  const network = networkOf(opts);
  if (network) return network;
  if (opts.permission !== undefined) return { kind: 'permission', permission: oneOf<Permission>(PERMISSIONS, opts.permission, '--permission') };
  const type = oneOf<RecordType>(RECORD_TYPES, opts.type, '--type');
  if (opts.action !== undefined) return { kind: 'action', type, action: oneOf<Action>(ACTIONS, opts.action, '--action'), scope: oneOf<Scope>(SCOPES, opts.scope, '--scope') };
  if (opts.field !== undefined) return { kind: 'field', type, target: opts.field, rule: oneOf<FieldRule>(FIELD_RULES, opts.rule, '--rule') };
  throw new UsageError('Give --permission, or --type with --action and --scope, or --type with --field and --rule');
}

function parseRevoke(opts: GrantOptions): RoleRevoke {
  const network = networkOf(opts);
  if (network) return network;
  if (opts.permission !== undefined) return { kind: 'permission', permission: oneOf<Permission>(PERMISSIONS, opts.permission, '--permission') };
  const type = oneOf<RecordType>(RECORD_TYPES, opts.type, '--type');
  if (opts.action !== undefined) return { kind: 'action', type, action: oneOf<Action>(ACTIONS, opts.action, '--action') };
  if (opts.field !== undefined) return { kind: 'field', type, target: opts.field };
  throw new UsageError('Give --permission, or --type with --action, or --type with --field');
}

function printRole(role: RoleView): void {
  printLine(`${role.name} (${role.id}, ${role.builtin ? 'shipped' : 'custom'}, version ${role.version})`);
  if (role.description) printLine(role.description);
  const definition: RoleDefinition = role.definition;
  const rows: string[][] = [];
  for (const type of RECORD_TYPES) {
    const grant = definition.records[type];
    if (!grant) continue;
    const actions = ACTIONS.filter((a) => grant.actions[a]).map((a) => `${a}:${grant.actions[a]}`).join(' ');
    const fields = Object.entries(grant.fields).map(([target, rule]) => `${target}=${rule}`).join(' ');
    rows.push([type, actions || '-', fields || '-']);
  }
  printLine();
  if (rows.length > 0) printTable(['RECORD TYPE', 'ACTIONS (scope)', 'FIELD RULES'], rows);
  else printLine('No record types.');
  printLine();
  printLine(`Permissions: ${definition.permissions.join(', ') || 'none'}`);
  if (definition.networks) printLine(`Networks: allow ${definition.networks.allow.join(', ') || 'any'}; deny ${definition.networks.deny.join(', ') || 'none'}`);
  printLine(`Second factor: ${definition.mfaRequired ? 'required' : 'optional'}`);
  if (definition.session) {
    const limits = [definition.session.idleMinutes ? `idle ${definition.session.idleMinutes} min` : '', definition.session.absoluteHours ? `at most ${definition.session.absoluteHours} h` : ''].filter(Boolean);
    printLine(`Sessions: ${limits.join(', ')}`);
  }
}
