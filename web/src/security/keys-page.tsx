import { Alert, Badge, Code, Loader, Paper, Progress, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { Page } from '../shell/page';

export type KeysStatus = paths['/api/v1/keys/status']['get']['responses'][200]['content']['application/json'];

/**
 * The encryption keys: each key-encryption key version and what it wraps, the data key versions
 * and what is sealed under them, the blind-index keys, and how far a rotation got. Rotation runs
 * on the server's command line, so this page shows the command rather than a button.
 */
export function KeysPage() {
  const { t } = useTranslation('security');
  const keys = useQuery({ queryKey: ['keys', 'status'], queryFn: async () => must(await api.GET('/api/v1/keys/status')), refetchInterval: (query) => ((query.state.data?.rotations.length ?? 0) > 0 ? 5000 : false) });
  return (
    <Page title={t('keysHeading')}>
      {keys.isPending && <Loader size="sm" aria-label={t('loading')} />}
      {keys.error && <Alert color="red" role="alert">{problemMessage(problemFrom(keys.error), t)}</Alert>}
      {keys.data && <KeysReport keys={keys.data} />}
    </Page>
  );
}

export function KeysReport({ keys }: { keys: KeysStatus }) {
  const { t, i18n } = useTranslation('security');
  const n = (value: number) => value.toLocaleString(i18n.language);
  return (
    <Stack gap="lg">
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="rotation-heading">
        <Stack gap="xs">
          <Title order={2} size="h4" id="rotation-heading">{t('rotationHeading')}</Title>
          {keys.rotations.length === 0 ? (
            <Text size="sm">{t('noRotation', { kek: keys.activeKek })}</Text>
          ) : (
            keys.rotations.map((rotation) => (
              <Stack gap={4} key={rotation.step}>
                <Text size="sm" fw={600}>{t(`rotation_${rotation.step}`)}</Text>
                {rotation.done !== null && rotation.total !== null && rotation.total > 0 && (
                  <>
                    <Progress value={(rotation.done / rotation.total) * 100} aria-label={t(`rotation_${rotation.step}`)} />
                    <Text size="xs" c="dimmed">{t('rotationCount', { done: n(rotation.done), total: n(rotation.total) })}</Text>
                  </>
                )}
                <Text size="sm">{t('finishWith')} <Code>{rotation.command}</Code></Text>
              </Stack>
            ))
          )}
          <Text size="sm" c="dimmed">{t('rotateFromCli')} <Code>rampart keys rotate</Code> ({t('rotateOptions')})</Text>
        </Stack>
      </Paper>

      <Stack gap="xs">
        <Title order={2} size="h4" id="kek-heading">{t('kekHeading')}</Title>
        <Table.ScrollContainer minWidth={620}>
          <Table aria-labelledby="kek-heading" verticalSpacing="xs" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('version')}</Table.Th>
                <Table.Th>{t('state')}</Table.Th>
                <Table.Th>{t('created')}</Table.Th>
                <Table.Th ta="right">{t('dataKeys')}</Table.Th>
                <Table.Th ta="right">{t('indexKeys')}</Table.Th>
                <Table.Th ta="right">{t('mfaSecrets')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.kek.map((k) => (
                <Table.Tr key={k.id}>
                  <Table.Td className="security-mono">{k.id}</Table.Td>
                  <Table.Td><Badge variant="light" color={k.state === 'active' ? 'green' : k.state === 'retired' ? 'gray' : 'yellow'}>{t(`kekState_${k.state}`)}</Badge></Table.Td>
                  <Table.Td>{formatDateTime(k.createdAt, i18n.language)}</Table.Td>
                  <Table.Td ta="right">{n(k.dataKeys)}</Table.Td>
                  <Table.Td ta="right">{n(k.indexKeys)}</Table.Td>
                  <Table.Td ta="right">{n(k.mfaSecrets)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Stack>

      <div className="security-cards">
        <Stack gap="xs">
          <Title order={2} size="h4" id="data-keys-heading">{t('dataKeyHeading')}</Title>
          <Table aria-labelledby="data-keys-heading" verticalSpacing="xs" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('version')}</Table.Th>
                <Table.Th ta="right">{t('subjects')}</Table.Th>
                <Table.Th ta="right">{t('records')}</Table.Th>
                <Table.Th ta="right">{t('customValues')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.dataKeyVersions.map((v) => (
                <Table.Tr key={v.version}>
                  <Table.Td>{v.version}</Table.Td>
                  <Table.Td ta="right">{n(v.subjects)}</Table.Td>
                  <Table.Td ta="right">{n(v.records)}</Table.Td>
                  <Table.Td ta="right">{n(v.customValues)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Stack>
        <Stack gap="xs">
          <Title order={2} size="h4" id="index-keys-heading">{t('indexKeyHeading')}</Title>
          <Table aria-labelledby="index-keys-heading" verticalSpacing="xs" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('version')}</Table.Th>
                <Table.Th>{t('state')}</Table.Th>
                <Table.Th ta="right">{t('bits')}</Table.Th>
                <Table.Th>{t('created')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.indexKeys.map((k) => (
                <Table.Tr key={k.version}>
                  <Table.Td>{k.version}</Table.Td>
                  <Table.Td>{k.state}</Table.Td>
                  <Table.Td ta="right">{k.bits}</Table.Td>
                  <Table.Td>{formatDateTime(k.createdAt, i18n.language)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Stack>
      </div>
      <Text size="sm">
        {t('keysFootnote', { erased: n(keys.erasedSubjects), events: n(keys.integrityEvents) })}
        {keys.pendingSealing.length > 0 && ` ${t('stillSealing', { jobs: keys.pendingSealing.join(', ') })}`}
      </Text>
    </Stack>
  );
}
