import { Component, type ErrorInfo, type ReactNode } from 'react';
import { Alert, Button, Stack } from '@mantine/core';
import { i18n } from '../i18n';

/**
 * Catches what a screen throws while rendering, so one broken screen does not blank the app. A
 * screen's code that cannot be loaded any more (the server was upgraded and its old files are
 * gone) asks for a reload, which fetches the new version.
 */
export class ScreenErrorBoundary extends Component<{ children: ReactNode; resetKey: unknown }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidUpdate(previous: { resetKey: unknown }) {
    // Moving to another address gives the new screen its chance.
    if (previous.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override componentDidCatch(_error: Error, _info: ErrorInfo) {
    // Nothing is sent anywhere: the message may hold data from the screen.
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const stale = /dynamically imported module|Importing a module script failed|Failed to fetch/i.test(error.message);
    return (
      <Stack gap="sm" maw={560}>
        <Alert color={stale ? 'blue' : 'red'} role="alert" title={i18n.t(stale ? 'shell:newVersionTitle' : 'shell:screenFailedTitle')}>
          {i18n.t(stale ? 'shell:newVersion' : 'shell:screenFailed')}
        </Alert>
        <Button w="fit-content" onClick={() => location.reload()}>{i18n.t('shell:reload')}</Button>
      </Stack>
    );
  }
}
