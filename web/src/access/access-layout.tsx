import type { ReactNode } from 'react';
import { Box, Center, Group, Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { LanguageSwitch } from '../shell/language-switch';
import { BrandMark } from '../shell/brand-mark';

/** The frame of the pages before sign-in: the brand, one card, the language switch. */
export function AccessLayout({ children }: { children: ReactNode }) {
  const { t } = useTranslation('access');
  return (
    <Center mih="100vh" p="md" className="access-page">
      <Stack w="100%" maw={440} gap="lg">
        <Group justify="flex-end">
          <LanguageSwitch />
        </Group>
        <Group gap="sm" wrap="nowrap">
          <BrandMark size={36} />
          <Box>
            <Text fw={700} size="lg">Rampart CRM</Text>
            <Text size="sm" c="dimmed">{t('tagline')}</Text>
          </Box>
        </Group>
        <Paper withBorder shadow="sm" p="xl" radius="md" component="main">
          {children}
        </Paper>
      </Stack>
    </Center>
  );
}
