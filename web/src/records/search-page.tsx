import { useState } from 'react';
import { Alert, Anchor, Badge, Button, Group, Loader, Stack, Text, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { api, must, problemFrom } from '../api/client';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';

/**
 * Search across every record type the user may read. The words are people's names more often
 * than not, so they go to the API as its query and stay out of this page's address.
 */
export function SearchPage() {
  const { t } = useTranslation('records');
  const [draft, setDraft] = useState('');
  const [words, setWords] = useState('');
  const hits = useQuery({ queryKey: ['search', words], enabled: words !== '', queryFn: async () => must(await api.GET('/api/v1/search', { params: { query: { q: words, limit: '50' } } })).items });
  return (
    <Page title={t('searchHeading')}>
      <form
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setWords(draft.trim());
        }}
      >
        <Group gap="xs" align="flex-end">
          <TextInput label={t('searchWords')} value={draft} onChange={(e) => setDraft(e.currentTarget.value)} maxLength={200} className="records-search-input" data-autofocus />
          <Button type="submit">{t('search')}</Button>
        </Group>
      </form>
      {hits.isFetching && <Loader size="sm" aria-label={t('shell:loading')} />}
      {hits.error && <Alert color="red" role="alert">{problemMessage(problemFrom(hits.error), t)}</Alert>}
      {hits.data && (
        <Stack gap="xs" aria-live="polite">
          {hits.data.length === 0 ? (
            <Text c="dimmed">{t('noHits')}</Text>
          ) : (
            <ul className="records-hits" aria-label={t('hits')}>
              {hits.data.map((hit) => (
                <li key={`${hit.type}-${hit.id}`}>
                  <Group gap="xs" wrap="nowrap">
                    <Badge variant="light" size="sm">{t(`one.${hit.type}`)}</Badge>
                    <Anchor component={Link} href={`/${hit.type}/${hit.id}`}>{hit.title || t('untitled')}</Anchor>
                    {hit.subtitle && <Text size="sm" c="dimmed">{hit.subtitle}</Text>}
                  </Group>
                </li>
              ))}
            </ul>
          )}
        </Stack>
      )}
    </Page>
  );
}
