import { useMemo, useState } from 'react';
import { Alert, Button, Checkbox, Group, NativeSelect, NumberInput, Stack, Switch, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { formProblem } from '../shared/problems';
import { ACTIONS, CLASSIFICATIONS, FIELD_RULES, PERMISSIONS, RECORD_TYPES, SCOPE_CHOICES, type FieldRule, type Permission, type Role, type RoleDefinition, type RolePatch, type ScopeChoice } from './admin-model';

type Records = RoleDefinition['records'];
type ExportLimits = NonNullable<RoleDefinition['exports']>;
type ExportLimit = keyof ExportLimits;
const EXPORT_LIMITS: readonly ExportLimit[] = ['maxRows', 'dailyRows', 'approvalAboveRows'];

/** The limits set, without the empty ones (an empty box means the configured default); none at all leaves the part out. */
export function exportLimitsFrom(limits: ExportLimits): { exports?: ExportLimits } {
  const kept = Object.fromEntries(EXPORT_LIMITS.filter((key) => typeof limits[key] === 'number').map((key) => [key, limits[key]]));
  return Object.keys(kept).length > 0 ? { exports: kept } : {};
}

/** One line of addresses per range; blank lines ignored. */
function rangesOf(text: string): string[] {
  return text
    .split(/\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * The definition a custom role's editor sends: per record type the actions that reach something
 * and the field rules set; a type with neither is left out, which the API reads as unreachable.
 */
export function definitionFrom(records: Records, permissions: Permission[], allow: string, deny: string, mfaRequired: boolean, base: RoleDefinition, exportLimits: ExportLimits = {}): RoleDefinition {
  const kept: Records = {};
  for (const [type, grant] of Object.entries(records)) {
    const actions = Object.fromEntries(Object.entries(grant.actions).filter(([, scope]) => scope !== 'none'));
    if (Object.keys(actions).length > 0 || Object.keys(grant.fields).length > 0) kept[type] = { actions, fields: { ...grant.fields } };
  }
  return {
    records: kept,
    permissions: PERMISSIONS.filter((p) => permissions.includes(p)),
    networks: { allow: rangesOf(allow), deny: rangesOf(deny) },
    mfaRequired,
    ...(base.session ? { session: base.session } : {}),
    ...exportLimitsFrom(exportLimits),
  };
}

/**
 * A role's grants as a matrix: record types by actions, each cell the scope the action reaches;
 * field rules per field or classification; system permissions; the networks the role counts from
 * and whether it requires a second factor; the caps on its holders' exports. A shipped role keeps
 * its grants (the API refuses any change to them), so only its networks, second-factor requirement
 * and export caps can be edited here.
 */
export function RoleEditor({ role, onSaved }: { role: Role; onSaved?: (role: Role) => void }) {
  const { t } = useTranslation('admin');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const locked = role.builtin;
  const [name, setName] = useState(role.name);
  const [description, setDescription] = useState(role.description);
  const [records, setRecords] = useState<Records>(role.definition.records);
  const [permissions, setPermissions] = useState<Permission[]>([...role.definition.permissions]);
  const [allow, setAllow] = useState((role.definition.networks?.allow ?? []).join('\n'));
  const [deny, setDeny] = useState((role.definition.networks?.deny ?? []).join('\n'));
  const [mfaRequired, setMfaRequired] = useState(Boolean(role.definition.mfaRequired));
  const [exportLimits, setExportLimits] = useState<ExportLimits>({ ...role.definition.exports });
  const [fieldType, setFieldType] = useState<string>('contacts');
  const [problem, setProblem] = useState<{ message: string; fields: Record<string, string> } | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);

  // The fields a rule can name: those the access view lists for the type (custom ones included).
  const access = useQuery({ queryKey: ['auth', 'access'], queryFn: async () => must(await api.GET('/api/v1/auth/access')), staleTime: 60_000 });
  const fieldKeys = useMemo(() => {
    const listed = Object.keys(access.data?.records[fieldType]?.fields ?? {});
    const named = Object.keys(records[fieldType]?.fields ?? {}).filter((k) => !k.startsWith('@'));
    return [...new Set([...listed.map((k) => k.replace(/^customFields\./, '')), ...named])].sort();
  }, [access.data, fieldType, records]);

  const scopeOf = (type: string, action: string): ScopeChoice => records[type]?.actions[action] ?? 'none';
  const setScope = (type: string, action: string, scope: ScopeChoice) => {
    setSaved(false);
    setRecords((current) => {
      const grant = current[type] ?? { actions: {}, fields: {} };
      const actions = { ...grant.actions };
      if (scope === 'none') delete actions[action];
      else actions[action] = scope;
      return { ...current, [type]: { actions, fields: grant.fields } };
    });
  };
  const ruleOf = (type: string, target: string): FieldRule | '' => records[type]?.fields[target] ?? '';
  const setRule = (type: string, target: string, rule: FieldRule | '') => {
    setSaved(false);
    setRecords((current) => {
      const grant = current[type] ?? { actions: {}, fields: {} };
      const fields = { ...grant.fields };
      if (rule === '') delete fields[target];
      else fields[target] = rule;
      return { ...current, [type]: { actions: grant.actions, fields } };
    });
  };

  const save = async () => {
    setProblem(null);
    setSaved(false);
    setSaving(true);
    const networks = { allow: rangesOf(allow), deny: rangesOf(deny) };
    // A shipped role sends its grants back exactly as read: only networks and MFA may differ.
    const body: RolePatch = locked
      ? { version: role.version, definition: { ...withoutExports(role.definition), networks, mfaRequired, ...exportLimitsFrom(exportLimits) } }
      : { version: role.version, name, description, definition: definitionFrom(records, permissions, allow, deny, mfaRequired, role.definition, exportLimits) };
    try {
      const updated = await withStepUp(async () => must(await api.PATCH('/api/v1/roles/{id}', { params: { path: { id: role.id } }, body })));
      queryClient.setQueryData(['roles', role.id], updated);
      void queryClient.invalidateQueries({ queryKey: ['roles'] });
      void queryClient.invalidateQueries({ queryKey: ['auth', 'access'] });
      setSaved(true);
      onSaved?.(updated);
    } catch (error) {
      setProblem(formProblem(problemFrom(error), t, ['name', 'description', 'definition.networks.allow', 'definition.networks.deny', 'definition.exports.maxRows', 'definition.exports.dailyRows', 'definition.exports.approvalAboveRows']));
    } finally {
      setSaving(false);
    }
  };

  const targets = [...CLASSIFICATIONS.map((c) => `@${c}`), ...fieldKeys];
  return (
    <Stack gap="lg">
      {locked && (
        <Alert color="blue" title={t('builtinTitle')}>
          {t('builtinNote')}
        </Alert>
      )}
      <Group align="flex-end" wrap="wrap">
        <TextInput label={t('roleName')} value={name} onChange={(e) => setName(e.currentTarget.value)} disabled={locked} error={problem?.fields.name} maxLength={100} />
        <TextInput className="admin-grow" label={t('roleDescription')} value={description} onChange={(e) => setDescription(e.currentTarget.value)} disabled={locked} error={problem?.fields.description} maxLength={500} />
      </Group>

      <section aria-labelledby="role-matrix-title">
        <Title order={2} size="h4" id="role-matrix-title" mb="xs">{t('matrixTitle')}</Title>
        <Text size="sm" c="dimmed" mb="sm">{t('matrixHelp')}</Text>
        <div className="admin-scroll">
          <Table withTableBorder withColumnBorders horizontalSpacing={6} verticalSpacing={4} className="admin-matrix" aria-labelledby="role-matrix-title">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">{t('recordType')}</Table.Th>
                {ACTIONS.map((action) => (
                  <Table.Th scope="col" key={action}>{t(`action_${action}`)}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {RECORD_TYPES.map((type) => (
                <Table.Tr key={type}>
                  <Table.Th scope="row">{t(`type_${type}`)}</Table.Th>
                  {ACTIONS.map((action) => (
                    <Table.Td key={action}>
                      <NativeSelect
                        size="xs"
                        aria-label={t('scopeFor', { type: t(`type_${type}`), action: t(`action_${action}`) })}
                        value={scopeOf(type, action)}
                        disabled={locked}
                        data={SCOPE_CHOICES.map((scope) => ({ value: scope, label: t(`scope_${scope}`) }))}
                        onChange={(e) => setScope(type, action, e.currentTarget.value as ScopeChoice)}
                      />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      </section>

      <section aria-labelledby="role-fields-title">
        <Title order={2} size="h4" id="role-fields-title" mb="xs">{t('fieldsTitle')}</Title>
        <Text size="sm" c="dimmed" mb="sm">{t('fieldsHelp')}</Text>
        <NativeSelect
          label={t('fieldsOf')}
          value={fieldType}
          onChange={(e) => setFieldType(e.currentTarget.value)}
          data={RECORD_TYPES.map((type) => ({ value: type, label: t(`type_${type}`) }))}
          className="admin-narrow"
          mb="sm"
        />
        <Table withTableBorder className="admin-rules" aria-label={t('fieldsTable', { type: t(`type_${fieldType}`) })}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{t('fieldOrClass')}</Table.Th>
              <Table.Th scope="col">{t('rule')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {targets.map((target) => (
              <Table.Tr key={target}>
                <Table.Th scope="row">{target.startsWith('@') ? t('everyClass', { classification: t(`class_${target.slice(1)}`) }) : target}</Table.Th>
                <Table.Td>
                  <NativeSelect
                    size="xs"
                    aria-label={t('ruleFor', { target: target.startsWith('@') ? t(`class_${target.slice(1)}`) : target })}
                    value={ruleOf(fieldType, target)}
                    disabled={locked}
                    data={[{ value: '', label: t('ruleDefault') }, ...FIELD_RULES.map((rule) => ({ value: rule, label: t(`rule_${rule}`) }))]}
                    onChange={(e) => setRule(fieldType, target, e.currentTarget.value as FieldRule | '')}
                  />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </section>

      <section aria-labelledby="role-permissions-title">
        <Title order={2} size="h4" id="role-permissions-title" mb="xs">{t('permissionsTitle')}</Title>
        <div className="admin-checks">
          {PERMISSIONS.map((permission) => (
            <Checkbox
              key={permission}
              label={t(`perm_${permission.replace('.', '_')}`)}
              description={permission}
              checked={permissions.includes(permission)}
              disabled={locked}
              onChange={(e) => {
                setSaved(false);
                const on = e.currentTarget.checked;
                setPermissions((current) => (on ? [...current, permission] : current.filter((p) => p !== permission)));
              }}
            />
          ))}
        </div>
      </section>

      <section aria-labelledby="role-networks-title">
        <Title order={2} size="h4" id="role-networks-title" mb="xs">{t('networksTitle')}</Title>
        <Text size="sm" c="dimmed" mb="sm">{t('networksHelp')}</Text>
        <div className="admin-pair">
          <Textarea label={t('allowList')} rows={3} value={allow} onChange={(e) => setAllow(e.currentTarget.value)} error={problem?.fields['definition.networks.allow']} placeholder="10.0.0.0/8" />
          <Textarea label={t('denyList')} rows={3} value={deny} onChange={(e) => setDeny(e.currentTarget.value)} error={problem?.fields['definition.networks.deny']} placeholder="192.0.2.0/24" />
        </div>
        <Switch mt="md" label={t('mfaRequired')} description={t('mfaRequiredHelp')} checked={mfaRequired} onChange={(e) => setMfaRequired(e.currentTarget.checked)} />
      </section>

      <section aria-labelledby="role-exports-title">
        <Title order={2} size="h4" id="role-exports-title" mb="xs">{t('exportLimitsTitle')}</Title>
        <Text size="sm" c="dimmed" mb="sm">{t('exportLimitsHelp')}</Text>
        <div className="admin-limits">
          {EXPORT_LIMITS.map((key) => (
            <NumberInput
              key={key}
              label={t(`exportLimit_${key}`)}
              placeholder={t('exportLimitDefault')}
              min={key === 'approvalAboveRows' ? 0 : 1}
              allowDecimal={false}
              allowNegative={false}
              thousandSeparator=","
              value={exportLimits[key] ?? ''}
              error={problem?.fields[`definition.exports.${key}`]}
              onChange={(value) => {
                setSaved(false);
                setExportLimits((current) => ({ ...current, [key]: typeof value === 'number' ? value : undefined }));
              }}
            />
          ))}
        </div>
      </section>

      {problem && (
        <Alert color="red" role="alert">
          {problem.message}
        </Alert>
      )}
      {saved && (
        <Alert color="teal" role="status">
          {t('roleSaved')}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button onClick={() => void save()} loading={saving}>
          {t('saveRole')}
        </Button>
      </Group>
    </Stack>
  );
}

/** A definition without its export caps, so the ones the editor holds replace them whole. */
function withoutExports(definition: RoleDefinition): RoleDefinition {
  const { exports: _exports, ...rest } = definition;
  return rest;
}
