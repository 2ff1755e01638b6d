import { Button, Divider, Modal, Stack, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { setCsrfToken } from '../api/client';
import { useSession, type SessionView } from './session';
import { PasskeySignIn, PasswordSignIn, SecondStep } from './sign-in';

/**
 * Shown over the page when its session has ended (expired, or ended from another device). The
 * page stays mounted underneath, so a half-filled form keeps what was typed; signing in again as
 * the same user carries on where the user was, and another account starts afresh.
 */
export function SessionExpired() {
  const { t } = useTranslation('access');
  const { state, adopt, showSignIn } = useSession();
  const queryClient = useQueryClient();
  const [partial, setPartial] = useState<SessionView | null>(null);
  if (state.status !== 'signed-in' || !state.expired) return null;
  const previous = state.session.user;

  const carryOn = (session: SessionView) => {
    if (session.user.id !== previous.id) {
      showSignIn(t('otherUser'));
      return;
    }
    if (session.stage === 'mfa') {
      setCsrfToken(session.csrfToken);
      setPartial(session);
      return;
    }
    setPartial(null);
    adopt(session);
    void queryClient.invalidateQueries();
  };

  return (
    <Modal opened onClose={() => undefined} withCloseButton={false} closeOnClickOutside={false} closeOnEscape={false} title={t('sessionExpiredHeading')} centered>
      <Stack gap="md">
        {partial ? (
          <SecondStep onSession={carryOn} onExpired={(message) => showSignIn(message)} />
        ) : (
          <>
            <Text size="sm">{t('sessionExpiredIntro')}</Text>
            <PasswordSignIn onSession={carryOn} email={previous.email} lockedEmail />
            <Divider />
            <PasskeySignIn onSession={carryOn} />
            {/* Single sign-on leaves the page; so does this, for anyone the above cannot serve. */}
            <Button variant="subtle" onClick={() => showSignIn()}>{t('toSignInPage')}</Button>
          </>
        )}
      </Stack>
    </Modal>
  );
}
