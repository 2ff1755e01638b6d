import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from 'react';
import { Alert, Button, Divider, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, ApiError, must, problemFrom } from '../api/client';
import { problemMessage } from '../shared/problems';
import { ceremonyFailureText, passkeyCeremony } from './passkey';

type Pending = { resolve: (proved: boolean) => void };

const StepUpContext = createContext<(() => Promise<boolean>) | null>(null);

/**
 * Operations on sensitive data (a reveal, a role change, ending someone's sessions, removing a
 * factor) ask for a second factor proved in the last five minutes. The server answers
 * auth.step_up_required; this asks for a code or a passkey once, and the operation is tried again.
 */
export function StepUpProvider({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<Pending | null>(null);
  const pendingRef = useRef<Pending | null>(null);
  const ask = useCallback(
    () =>
      new Promise<boolean>((resolve) => {
        pendingRef.current?.resolve(false);
        const next = { resolve };
        pendingRef.current = next;
        setPending(next);
      }),
    [],
  );
  const finish = (proved: boolean) => {
    pendingRef.current?.resolve(proved);
    pendingRef.current = null;
    setPending(null);
  };
  return (
    <StepUpContext.Provider value={ask}>
      {children}
      {pending && <StepUpDialog onDone={finish} />}
    </StepUpContext.Provider>
  );
}

/**
 * Wraps an operation so that a refusal for want of a recent second factor asks for one and tries
 * again; if the user cancels, the original error is thrown on.
 */
export function useStepUp(): <T>(operation: () => Promise<T>) => Promise<T> {
  const ask = useContext(StepUpContext);
  const queryClient = useQueryClient();
  return useCallback(
    async <T,>(operation: () => Promise<T>): Promise<T> => {
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof ApiError) || error.problem.code !== 'auth.step_up_required' || !ask) throw error;
        if (!(await ask())) throw error;
        void queryClient.invalidateQueries({ queryKey: ['auth', 'access'] });
        return operation();
      }
    },
    [ask, queryClient],
  );
}

function StepUpDialog({ onDone }: { onDone: (proved: boolean) => void }) {
  const { t } = useTranslation('access');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { code: '' }, validate: { code: (v) => (v.trim() ? null : t('required')) } });

  const prove = async (proof: Record<string, unknown>) => {
    setError(null);
    try {
      must(await api.POST('/api/v1/auth/step-up', { body: proof as never }));
      onDone(true);
    } catch (failure) {
      const problem = problemFrom(failure);
      // Too many wrong codes end the session: the sign-in asks again, this prompt has no more to do.
      if (problem.code === 'auth.session_expired') return onDone(false);
      setError(problemMessage(problem, t));
    }
  };
  const submit = form.onSubmit(async ({ code }) => {
    const entered = code.replace(/\s+/g, '');
    await prove(/^\d{6}$/.test(entered) ? { code: entered } : { recoveryCode: entered });
    form.setFieldValue('code', '');
  });
  const usePasskey = async () => {
    setError(null);
    try {
      const challenge = must(await api.POST('/api/v1/auth/passkeys/challenge'));
      const ceremony = await passkeyCeremony('get', challenge.options);
      if (!ceremony.ok) return setError(t(ceremonyFailureText(ceremony.reason)));
      await prove({ passkey: { challengeId: challenge.challengeId, response: ceremony.response } });
    } catch (failure) {
      setError(problemMessage(problemFrom(failure), t));
    }
  };

  return (
    <Modal opened onClose={() => !form.submitting && onDone(false)} title={t('stepUpHeading')} centered>
      <Stack gap="md">
        <Text size="sm">{t('stepUpIntro')}</Text>
        <form onSubmit={submit} noValidate aria-busy={form.submitting}>
          <Stack gap="sm">
            {error && <Alert color="red" role="alert">{error}</Alert>}
            <TextInput label={t('mfaCode')} autoComplete="one-time-code" required maxLength={64} data-autofocus {...form.getInputProps('code')} />
            <Button type="submit" loading={form.submitting}>{t('verify')}</Button>
          </Stack>
        </form>
        <Divider />
        <Button variant="default" onClick={usePasskey}>{t('usePasskey')}</Button>
      </Stack>
    </Modal>
  );
}
