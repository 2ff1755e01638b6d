import { Tabs } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useLocation } from 'wouter';
import { useAccess } from '../access/use-access';
import { Page } from '../shell/page';
import { ApprovalsInbox } from './approvals-inbox';
import { MyExports } from './my-exports';

export type ExportsTab = 'mine' | 'approvals';

/**
 * The Exports page: the user's own exports, and for holders of approvals.decide a second tab of
 * the requests waiting for someone's decision. Each tab has its own address (/exports,
 * /exports/approvals), so a link in a notice can open the inbox.
 */
export function ExportsPage({ tab, myId }: { tab: ExportsTab; myId: string }) {
  const { t } = useTranslation('exports');
  const { access } = useAccess();
  const [, navigate] = useLocation();
  const decides = access.may('approvals.decide');
  const shown: ExportsTab = decides ? tab : 'mine';
  return (
    <Page title={t('heading')}>
      <Tabs value={shown} onChange={(value) => value && navigate(value === 'approvals' ? '/approvals' : '/')} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="mine">{t('tabMine')}</Tabs.Tab>
          {decides && <Tabs.Tab value="approvals">{t('tabApprove')}</Tabs.Tab>}
        </Tabs.List>
        <Tabs.Panel value="mine" pt="md"><MyExports /></Tabs.Panel>
        {decides && <Tabs.Panel value="approvals" pt="md"><ApprovalsInbox myId={myId} /></Tabs.Panel>}
      </Tabs>
    </Page>
  );
}
