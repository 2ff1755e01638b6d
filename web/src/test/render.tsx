import type { ReactElement, ReactNode } from 'react';
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, type RenderResult } from '@testing-library/react';
import { I18nextProvider } from 'react-i18next';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import { i18n } from '../i18n';
import { theme } from '../theme';

/**
 * Renders a component as the app would: Mantine (without transitions), a fresh query cache, the
 * texts in `language`, and a router at `path`. Requests go through the real client to `fetch`,
 * which a test replaces with its own answers (see answerWith in ./fetch.ts).
 */
export function renderWithApp(ui: ReactElement, { path = '/', language = 'en' }: { path?: string; language?: 'en' | 'zh-CN' } = {}): { result: RenderResult; location: ReturnType<typeof memoryLocation> } {
  void i18n.changeLanguage(language);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const location = memoryLocation({ path, record: true });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <I18nextProvider i18n={i18n}>
      <MantineProvider theme={theme} env="test">
        <QueryClientProvider client={client}>
          <Router hook={location.hook}>{children}</Router>
        </QueryClientProvider>
      </MantineProvider>
    </I18nextProvider>
  );
  return { result: render(ui, { wrapper }), location };
}
