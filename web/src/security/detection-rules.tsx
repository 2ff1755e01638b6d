import { useState } from 'react';
import { Alert, Badge, Button, Checkbox, Group, Loader, Modal, NativeSelect, NumberInput, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useForm, type GetInputPropsReturnType } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { useStepUp } from '../access/step-up';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { formProblem, problemMessage } from '../shared/problems';
import { humanize, RESPONSE_KINDS, SEVERITIES, severityColor, type AlertSeverity, type ResponseKind } from './alert-model';

export type DetectionRule = paths['/api/v1/detection/rules']['get']['responses'][200]['content']['application/json']['items'][number];

type SettingSpec = DetectionRule['schema'][string];

/** A setting as the form holds it: weekdays as checked day numbers, caps per role as "role=rows" text. */
type FormSetting = number | string | boolean | string[];

interface RuleValues {
  enabled: boolean;
  severity: AlertSeverity;
  settings: Record<string, FormSetting>;
  automatic: ResponseKind[];
  suggested: ResponseKind[];
}

type RuleConfig = { enabled: boolean; severity: AlertSeverity; settings: Record<string, unknown>; automatic: readonly ResponseKind[]; suggested: readonly ResponseKind[] };

/** How a setting is edited: from its spec when the server gives one, else from its value. */
export type SettingKind = 'integer' | 'number' | 'boolean' | 'choice' | 'timeZone' | 'weekdays' | 'roleCaps' | 'text' | 'list';

export function settingKind(spec: { kind: string } | undefined, value: unknown): SettingKind | null {
  if (spec) return spec.kind as SettingKind;
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'text';
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return 'list';
  return null;
}

/** The days of the week as the engine counts them, 0 = Sunday. */
export const WEEKDAYS = ['1', '2', '3', '4', '5', '6', '0'] as const;

function formSetting(kind: SettingKind, value: unknown): FormSetting {
  if (kind === 'weekdays') return Array.isArray(value) ? value.map(String) : [];
  if (kind === 'roleCaps') return Object.entries((value ?? {}) as Record<string, unknown>).map(([role, cap]) => `${role}=${String(cap)}`).join(', ');
  if (kind === 'list') return Array.isArray(value) ? value.join(', ') : '';
  return value as FormSetting;
}

/** The form's values for a rule's configuration (as it runs, or as it shipped). */
export function ruleValues(config: RuleConfig, schema: Record<string, { kind: string }> = {}): RuleValues {
  const settings: RuleValues['settings'] = {};
  for (const [key, value] of Object.entries(config.settings)) {
    const kind = settingKind(schema[key], value);
    if (kind) settings[key] = formSetting(kind, value);
  }
  return { enabled: config.enabled, severity: config.severity, settings, automatic: [...config.automatic], suggested: [...config.suggested] };
}

/** "sales=5000, support=2000" as { sales: 5000, support: 2000 }; what does not parse goes as text for the server to refuse. */
function roleCaps(text: string): Record<string, unknown> {
  const caps: Record<string, unknown> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [role = '', cap = ''] = pair.split('=').map((p) => p.trim());
    caps[role] = /^\d+$/.test(cap) ? Number(cap) : cap;
  }
  return caps;
}

/** The body of PUT /api/v1/detection/rules/{key}: every setting back in the shape the server gave it. */
export function ruleBody(rule: Pick<DetectionRule, 'settings' | 'schema' | 'version'>, values: RuleValues) {
  const current = rule.settings as Record<string, unknown>;
  const settings: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(values.settings)) {
    const kind = settingKind(rule.schema[key], current[key]);
    if (kind === 'weekdays') settings[key] = (value as string[]).map(Number).sort((a, b) => a - b);
    else if (kind === 'roleCaps') settings[key] = roleCaps(String(value));
    else if (kind === 'list') {
      const items = String(value).split(/[\s,]+/).filter(Boolean);
      settings[key] = Array.isArray(current[key]) && (current[key] as unknown[]).some((v) => typeof v === 'number') ? items.map(Number) : items;
    } else settings[key] = value;
  }
  return { enabled: values.enabled, severity: values.severity, settings, automatic: values.automatic, suggested: values.suggested, version: rule.version };
}

/** The server names a bad setting `settings.x` or `/settings/x`; the form knows it as `settings.x`. */
function fieldPath(field: string): string {
  return field.replace(/^\//, '').replace(/\//g, '.');
}

/** Every rule with what it does; an administrator edits one in a dialog. */
export function DetectionRules() {
  const { t } = useTranslation('security');
  const rules = useQuery({ queryKey: ['detection', 'rules'], queryFn: async () => must(await api.GET('/api/v1/detection/rules')) });
  const [editing, setEditing] = useState<DetectionRule | null>(null);
  const [opened, setOpened] = useState(false);
  const [openings, setOpenings] = useState(0);
  const name = (rule: { key: string }) => t(`rule_${rule.key}`, { defaultValue: rule.key });
  const kinds = (list: readonly string[]) => (list.length === 0 ? '—' : list.map((kind) => t(`response_${kind}`)).join(t('listSeparator')));
  return (
    <Stack gap="xs" component="section" aria-labelledby="rules-heading">
      <Title order={2} size="h4" id="rules-heading">{t('rulesHeading')}</Title>
      {rules.isPending && <Loader size="xs" aria-label={t('loading')} />}
      {rules.error && <Alert color="red" role="alert">{problemMessage(problemFrom(rules.error), t)}</Alert>}
      {rules.data && (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-labelledby="rules-heading" verticalSpacing="xs" striped withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('rule')}</Table.Th>
                <Table.Th>{t('ruleEnabled')}</Table.Th>
                <Table.Th>{t('severity')}</Table.Th>
                <Table.Th>{t('automaticResponses')}</Table.Th>
                <Table.Th>{t('suggestedResponses')}</Table.Th>
                <Table.Th>{t('actions')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rules.data.items.map((rule) => (
                <Table.Tr key={rule.key}>
                  <Table.Td>
                    <Text size="sm" fw={600}>{name(rule)}</Text>
                    <Text size="xs" c="dimmed">{t(`ruleHint_${rule.key}`, { defaultValue: rule.description })}</Text>
                  </Table.Td>
                  <Table.Td><Badge className="security-badge" color={rule.enabled ? 'green' : 'gray'} variant="light">{rule.enabled ? t('on') : t('off')}</Badge></Table.Td>
                  <Table.Td><Badge className="security-badge" color={severityColor(rule.severity)} variant="filled">{t(`severity_${rule.severity}`)}</Badge></Table.Td>
                  <Table.Td><Text size="sm">{kinds(rule.automatic)}</Text></Table.Td>
                  <Table.Td><Text size="sm">{kinds(rule.suggested)}</Text></Table.Td>
                  <Table.Td>
                    <Button
                      size="compact-sm"
                      variant="default"
                      aria-label={t('editRuleOf', { rule: name(rule) })}
                      onClick={() => {
                        setEditing(rule);
                        setOpenings((n) => n + 1);
                        setOpened(true);
                      }}
                    >
                      {t('edit')}
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={opened} onClose={() => setOpened(false)} size="lg" title={editing ? t('editRuleTitle', { rule: name(editing) }) : ''} closeButtonProps={{ 'aria-label': t('close') }}>
        {editing && <RuleForm key={openings} rule={editing} onDone={() => setOpened(false)} />}
      </Modal>
    </Stack>
  );
}

export function RuleForm({ rule, onDone }: { rule: DetectionRule; onDone: () => void }) {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [error, setError] = useState<string | null>(null);
  const form = useForm<RuleValues>({
    initialValues: ruleValues(rule, rule.schema),
    validate: {
      suggested: (value, values) => (value.some((kind) => values.automatic.includes(kind)) ? t('automaticAndSuggested') : null),
    },
  });
  const save = useMutation({
    mutationFn: (values: RuleValues) => withStepUp(async () => must(await api.PUT('/api/v1/detection/rules/{key}', { params: { path: { key: rule.key } }, body: ruleBody(rule, values) }))),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['detection', 'rules'] });
      onDone();
    },
    onError: (failure) => {
      const problem = problemFrom(failure);
      const known = ['enabled', 'severity', 'automatic', 'suggested', ...Object.keys(form.values.settings).map((key) => `settings.${key}`)];
      const shown = formProblem({ ...problem, fields: problem.fields?.map((f) => ({ ...f, field: fieldPath(f.field) })) }, t, known);
      setError(shown.message);
      form.setErrors(shown.fields);
    },
  });
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate aria-label={t('editRuleTitle', { rule: t(`rule_${rule.key}`, { defaultValue: rule.key }) })}>
      <Stack gap="md">
        <Text size="sm" c="dimmed">{t(`ruleHint_${rule.key}`, { defaultValue: rule.description })}</Text>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <Group gap="lg" align="flex-end">
          <Switch label={t('ruleEnabled')} {...form.getInputProps('enabled', { type: 'checkbox' })} />
          <NativeSelect label={t('severity')} data={SEVERITIES.map((severity) => ({ value: severity, label: t(`severity_${severity}`) }))} {...form.getInputProps('severity')} />
        </Group>
        {Object.keys(form.values.settings).length > 0 && (
          <Stack gap="xs">
            <Title order={3} size="h5">{t('ruleSettings')}</Title>
            <div className="security-filters">
              {Object.keys(form.values.settings)
                .filter((key) => settingKind(rule.schema[key], (rule.settings as Record<string, unknown>)[key]) !== 'weekdays')
                .map((key) => (
                  <SettingField key={key} name={key} spec={rule.schema[key]} kind={settingKind(rule.schema[key], (rule.settings as Record<string, unknown>)[key])!} input={form.getInputProps(`settings.${key}`, { type: settingKind(rule.schema[key], (rule.settings as Record<string, unknown>)[key]) === 'boolean' ? 'checkbox' : 'input' })} language={i18n.language} />
                ))}
            </div>
            {Object.keys(form.values.settings)
              .filter((key) => settingKind(rule.schema[key], (rule.settings as Record<string, unknown>)[key]) === 'weekdays')
              .map((key) => (
                <Checkbox.Group key={key} label={t(`setting_${key}`, { defaultValue: humanize(key) })} {...form.getInputProps(`settings.${key}`)}>
                  <div className="security-days">
                    {WEEKDAYS.map((day) => <Checkbox key={day} value={day} label={t(`weekday_${day}`)} />)}
                  </div>
                </Checkbox.Group>
              ))}
          </Stack>
        )}
        <Checkbox.Group label={t('automaticResponses')} description={t('automaticHint')} {...form.getInputProps('automatic')}>
          <div className="security-checks">
            {RESPONSE_KINDS.map((kind) => <Checkbox key={kind} value={kind} label={t(`response_${kind}`)} />)}
          </div>
        </Checkbox.Group>
        <Checkbox.Group label={t('suggestedResponses')} description={t('suggestedHint')} {...form.getInputProps('suggested')}>
          <div className="security-checks">
            {RESPONSE_KINDS.map((kind) => <Checkbox key={kind} value={kind} label={t(`response_${kind}`)} />)}
          </div>
        </Checkbox.Group>
        <Group justify="space-between">
          <Button variant="subtle" onClick={() => form.setValues(ruleValues(rule.defaults, rule.schema))}>{t('restoreDefaults')}</Button>
          <Group gap="sm">
            <Button variant="default" onClick={onDone}>{t('cancel')}</Button>
            <Button type="submit" loading={save.isPending}>{t('save')}</Button>
          </Group>
        </Group>
      </Stack>
    </form>
  );
}

/**
 * One threshold, edited as its spec says: numbers within their bounds, a switch, a choice, a time
 * zone, whole numbers per role. The server's explanation shows in English; other languages get
 * the translated name and the bounds.
 */
function SettingField({ name, spec, kind, input, language }: { name: string; spec: SettingSpec | undefined; kind: SettingKind; input: GetInputPropsReturnType; language: string }) {
  const { t } = useTranslation('security');
  const label = t(`setting_${name}`, { defaultValue: humanize(name) });
  const bounds = spec?.min !== undefined && spec.max !== undefined ? t('settingBounds', { min: spec.min.toLocaleString(language), max: spec.max.toLocaleString(language) }) : '';
  const explained = language === 'en' && spec?.description ? spec.description : '';
  const description = [explained, kind === 'integer' || kind === 'number' ? bounds : ''].filter(Boolean).join(' · ') || undefined;
  if (kind === 'boolean') return <Switch label={label} description={explained || undefined} {...input} />;
  if (kind === 'integer' || kind === 'number') {
    return <NumberInput label={label} description={description} min={spec?.min} max={spec?.max} allowDecimal={kind === 'number'} decimalScale={kind === 'number' ? 4 : undefined} {...input} />;
  }
  if (kind === 'choice') return <NativeSelect label={label} description={description} data={(spec?.values ?? []).map((value) => ({ value, label: t(`choice_${value}`, { defaultValue: value }) }))} {...input} />;
  if (kind === 'roleCaps') return <TextInput label={label} description={[explained, t('roleCapsHint')].filter(Boolean).join(' · ')} maxLength={2000} {...input} />;
  if (kind === 'timeZone') return <TextInput label={label} description={description ?? t('timeZoneHint')} maxLength={64} {...input} />;
  return <TextInput label={label} description={kind === 'list' ? t('commaSeparated') : description} maxLength={2000} {...input} />;
}
