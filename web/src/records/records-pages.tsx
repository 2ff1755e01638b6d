import type { ReactNode } from 'react';
import { Alert, Button, Group } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, Route, Switch, useLocation, useParams } from 'wouter';
import { useAccess } from '../access/use-access';
import { Missing } from '../shell/missing';
import { Page } from '../shell/page';
import { DealBoard } from './deal-board';
import { MyTasks } from './my-tasks';
import { RecordForm } from './record-form';
import { RecordList } from './record-list';
import { RecordPage } from './record-page';
import { isRecordType, type RecordType } from './record-types';
import { SearchPage } from './search-page';
import { TicketQueues } from './ticket-queues';
import './records.css';

/** The records screens: one wouter <Switch> over their own addresses. */
export default function RecordsPages() {
  return (
    <Switch>
      <Route path="/search"><SearchPage /></Route>
      <Route path="/tasks"><MyTasks /></Route>
      <Route path="/deals/board"><BoardPage /></Route>
      <Route path="/:type/new"><Typed>{(type) => <CreatePage type={type} />}</Typed></Route>
      <Route path="/:type/:id"><Typed>{(type, id) => <RecordPage key={`${type}/${id}`} type={type} id={id!} />}</Typed></Route>
      <Route path="/:type"><Typed>{(type) => <ListPage key={type} type={type} />}</Typed></Route>
      <Route><Missing /></Route>
    </Switch>
  );
}

function Typed({ children }: { children: (type: RecordType, id?: string) => ReactNode }) {
  const { type = '', id } = useParams<{ type: string; id?: string }>();
  return isRecordType(type) ? <>{children(type, id)}</> : <Missing />;
}

/** A type the role cannot read at all says so plainly instead of showing an empty list. */
function Refused() {
  const { t } = useTranslation('records');
  return <Alert color="orange" role="alert">{t('shell:forbidden')}</Alert>;
}

function ListPage({ type }: { type: RecordType }) {
  const { t } = useTranslation('records');
  const { access, loading } = useAccess();
  const actions = (
    <Group gap="xs">
      {type === 'deals' && <Button component={Link} href="/deals/board" variant="default">{t('board')}</Button>}
      {access.can(type, 'create') && <Button component={Link} href={`/${type}/new`}>{t(`new.${type}`)}</Button>}
    </Group>
  );
  return (
    <Page title={t(`nav.${type}`)} actions={actions}>
      {loading ? null : !access.can(type, 'read') ? <Refused /> : type === 'tickets' ? <TicketQueues /> : <RecordList type={type} />}
    </Page>
  );
}

function BoardPage() {
  const { t } = useTranslation('records');
  const { access, loading } = useAccess();
  const actions = (
    <Group gap="xs">
      <Button component={Link} href="/deals" variant="default">{t('listView')}</Button>
      {access.can('deals', 'create') && <Button component={Link} href="/deals/new">{t('new.deals')}</Button>}
    </Group>
  );
  return (
    <Page title={t('boardHeading')} actions={actions}>
      {loading ? null : access.can('deals', 'read') ? <DealBoard /> : <Refused />}
    </Page>
  );
}

function CreatePage({ type }: { type: RecordType }) {
  const { t } = useTranslation('records');
  const { access, loading } = useAccess();
  const [, navigate] = useLocation();
  return (
    <Page title={t(`new.${type}`)}>
      {loading ? null : access.can(type, 'create') ? (
        <RecordForm type={type} onSaved={(saved) => navigate(`/${type}/${saved.id}`)} onCancel={() => navigate(`/${type}`)} />
      ) : (
        <Refused />
      )}
    </Page>
  );
}
