import { useState, type ReactNode } from 'react';
import { Alert, Badge, Card, Group, Loader, Select, Stack, Text, Title } from '@mantine/core';
import { DndContext, KeyboardSensor, PointerSensor, useDraggable, useDroppable, useSensor, useSensors, type DragEndEvent } from '@dnd-kit/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { api, must, problemFrom } from '../api/client';
import { problemMessage } from '../shared/problems';
import { formatMoney, usePipelines } from './field-value';
import { listRecords, recordKeys, updateRecord } from './record-api';
import { useRecordActions } from './record-access';
import type { RecordItem } from './record-types';

/** Most deals a board shows per pipeline; the list view pages through the rest. */
const BOARD_LIMIT = '200';

/**
 * Deals by stage of one pipeline. Dragging a card (with the mouse, or with the keyboard: space to
 * lift, arrows to move, space to drop) moves the deal with the version it was read at; when the
 * server refuses, the card goes back and the reason shows.
 */
export function DealBoard() {
  const { t, i18n } = useTranslation('records');
  const queryClient = useQueryClient();
  const can = useRecordActions('deals');
  const pipelines = usePipelines();
  const [chosen, setChosen] = useState<string | null>(null);
  const pipelineId = chosen ?? pipelines.data?.find((p) => p.isDefault)?.id ?? pipelines.data?.[0]?.id ?? null;
  const board = useQuery({ queryKey: ['board', pipelineId], enabled: pipelineId !== null, queryFn: async () => must(await api.GET('/api/v1/pipelines/{id}/board', { params: { path: { id: pipelineId! } } })) });
  const dealsKey = recordKeys.list('deals', { pipelineId: pipelineId ?? '', board: 'yes' });
  const deals = useQuery({ queryKey: dealsKey, enabled: pipelineId !== null, queryFn: () => listRecords('deals', { pipelineId: pipelineId!, limit: BOARD_LIMIT }) });
  // Where a card shows while its move is on its way; dropped when the server answers.
  const [moving, setMoving] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 6 } }), useSensor(KeyboardSensor));

  const stageNames = new Map((board.data?.stages ?? []).map((s) => [s.id, s.name]));
  const dealsById = new Map((deals.data?.items ?? []).map((d) => [d.id, d]));

  const onDragEnd = async ({ active, over }: DragEndEvent) => {
    const deal = dealsById.get(String(active.id));
    const stageId = over ? String(over.id) : null;
    if (!deal || !stageId || stageId === (moving[deal.id] ?? deal.stageId)) return;
    setError(null);
    setMoving((m) => ({ ...m, [deal.id]: stageId }));
    try {
      const saved = await updateRecord('deals', deal.id, { version: deal.version, stageId });
      queryClient.setQueryData(dealsKey, (page: typeof deals.data) => (page ? { ...page, items: page.items.map((d) => (d.id === saved.id ? saved : d)) } : page));
      queryClient.setQueryData(recordKeys.one('deals', saved.id), saved);
      void queryClient.invalidateQueries({ queryKey: ['board', pipelineId] });
    } catch (failure) {
      const problem = problemFrom(failure);
      const reason = problem.code === 'auth.forbidden' ? t('shell:forbidden') : problemMessage(problem, t);
      setError(t('moveFailed', { name: String(deal.name ?? ''), reason }));
      if (problem.code === 'record.version_conflict') void queryClient.invalidateQueries({ queryKey: dealsKey });
    } finally {
      setMoving((m) => {
        const { [deal.id]: _, ...rest } = m;
        return rest;
      });
    }
  };

  if (pipelines.isPending) return <Loader aria-label={t('shell:loading')} />;
  return (
    <Stack gap="sm">
      <Group gap="sm">
        {(pipelines.data?.length ?? 0) > 1 && (
          <Select label={t('pipeline')} data={(pipelines.data ?? []).map((p) => ({ value: p.id, label: p.name }))} value={pipelineId} onChange={setChosen} allowDeselect={false} />
        )}
        <Text size="sm" c="dimmed">{t('boardHint')}</Text>
      </Group>
      {error && <Alert color="red" role="alert" withCloseButton onClose={() => setError(null)}>{error}</Alert>}
      {(board.error || deals.error) && <Alert color="red" role="alert">{problemMessage(problemFrom(board.error ?? deals.error), t)}</Alert>}
      <DndContext
        sensors={sensors}
        onDragEnd={(event) => void onDragEnd(event)}
        accessibility={{
          screenReaderInstructions: { draggable: t('dragInstructions') },
          announcements: {
            onDragStart: ({ active }) => t('dragPicked', { name: String(dealsById.get(String(active.id))?.name ?? '') }),
            onDragOver: ({ over }) => (over ? t('dragOver', { stage: stageNames.get(String(over.id)) ?? '' }) : t('dragNowhere')),
            onDragEnd: ({ over }) => (over ? t('dragDropped', { stage: stageNames.get(String(over.id)) ?? '' }) : t('dragCancelled')),
            onDragCancel: () => t('dragCancelled'),
          },
        }}
      >
        <div className="records-board" aria-label={t('board')} role="region">
          {(board.data?.stages ?? []).map((stage) => (
            <StageColumn key={stage.id} id={stage.id} name={stage.name} count={stage.count} totals={stage.amounts.map((a) => formatMoney(a.amount, a.currency, i18n.language)).join(' · ')}>
              {(deals.data?.items ?? [])
                .filter((deal) => (moving[deal.id] ?? deal.stageId) === stage.id)
                .map((deal) => (
                  <DealCard key={deal.id} deal={deal} movable={can('update', deal)} language={i18n.language} />
                ))}
            </StageColumn>
          ))}
        </div>
      </DndContext>
    </Stack>
  );
}

function StageColumn({ id, name, count, totals, children }: { id: string; name: string; count: number; totals: string; children: ReactNode }) {
  const { t } = useTranslation('records');
  const { setNodeRef, isOver } = useDroppable({ id });
  return (
    <section ref={setNodeRef} className="records-stage" data-over={isOver} aria-label={name}>
      <Group justify="space-between" gap={4} wrap="nowrap">
        <Title order={2} size="h5">{name}</Title>
        <Badge variant="light" aria-label={t('dealCount', { count })}>{count}</Badge>
      </Group>
      {totals && <Text size="xs" c="dimmed">{totals}</Text>}
      <Stack gap="xs" mt="xs">{children}</Stack>
    </section>
  );
}

function DealCard({ deal, movable, language }: { deal: RecordItem; movable: boolean; language: string }) {
  const { t } = useTranslation('records');
  const { attributes, listeners, setNodeRef, transform, isDragging } = useDraggable({ id: deal.id, disabled: !movable });
  const style = transform ? { transform: `translate3d(${transform.x}px, ${transform.y}px, 0)` } : undefined;
  return (
    <Card ref={setNodeRef} withBorder padding="xs" className="records-card" data-dragging={isDragging} style={style} {...attributes} {...listeners} aria-roledescription={t('dealCard')} aria-label={String(deal.name ?? '')}>
      <Link href={`/deals/${deal.id}`} className="records-link">{String(deal.name ?? t('untitled'))}</Link>
      {typeof deal.amount === 'number' && <Text size="sm">{formatMoney(deal.amount, deal.currency, language)}</Text>}
    </Card>
  );
}
