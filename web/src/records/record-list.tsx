import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Anchor, Button, Checkbox, Group, Loader, Popover, Select, Stack, Table, Text, TextInput, UnstyledButton } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { columnVisibilityFeature, createColumnHelper, rowSortingFeature, tableFeatures, useTable, type SortingState } from '@tanstack/react-table';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { problemFrom } from '../api/client';
import { useAccess } from '../access/use-access';
import { problemMessage } from '../shared/problems';
import { BulkActions } from './bulk-actions';
import { ExportSlot } from './export-slot';
import { FieldValue } from './field-value';
import { listRecords, recordKeys, type SavedView } from './record-api';
import { RECORD_SPECS, columnKeys, fieldSpec, type RecordItem, type RecordType } from './record-types';
import { SavedViews, type ViewDefinition } from './saved-views';

const features = tableFeatures({ rowSortingFeature, columnVisibilityFeature });
const columnHelper = createColumnHelper<typeof features, RecordItem>();
const PAGE_SIZE = '25';

/** Where a list's column choice is kept: column keys only, never a value. */
export function columnsStorageKey(type: RecordType): string {
  return `rampart.records.columns.${type}`;
}

function storedColumns(type: RecordType): string[] | null {
  try {
    const raw = globalThis.localStorage?.getItem(columnsStorageKey(type));
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    return Array.isArray(parsed) && parsed.every((k) => typeof k === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

function sortParam(sorting: SortingState): string | null {
  const first = sorting[0];
  return first ? `${first.desc ? '-' : ''}${first.id}` : null;
}

function sortingOf(sort: string | null): SortingState {
  return sort ? [{ id: sort.replace(/^-/, ''), desc: sort.startsWith('-') }] : [];
}

/**
 * A record list: the API sorts, filters and pages it (the `sort`, field filters, `q` and cursor
 * parameters); the user picks columns (remembered in this browser) and saves views (on the
 * server). Filters and search words stay in this component's state, never in the address. Those
 * who may delete or reassign the type's records select rows (kept while paging) for bulk actions.
 */
export function RecordList({ type, fixedFilters = {}, caption, header }: { type: RecordType; fixedFilters?: Record<string, string>; caption?: string; header?: ReactNode }) {
  const { t } = useTranslation('records');
  const { t: tt } = useTranslation('trash');
  const { access } = useAccess();
  const spec = RECORD_SPECS[type];
  const visibleKeys = columnKeys(spec).filter((key) => access.field(type, key) !== 'hidden');

  const [columns, setColumnsState] = useState<string[]>(() => storedColumns(type) ?? spec.defaultColumns);
  const [sorting, setSorting] = useState<SortingState>([]);
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [q, setQ] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [activeView, setActiveView] = useState<SavedView | null>(null);
  // Selected records by id, kept while paging; a new filter, sort or view starts afresh.
  const [selection, setSelection] = useState<Map<string, RecordItem>>(() => new Map());
  const selectable = access.can(type, 'delete') || (access.can(type, 'update') && access.can(type, 'assign'));

  const setColumns = (next: string[]) => {
    setColumnsState(next);
    globalThis.localStorage?.setItem(columnsStorageKey(type), JSON.stringify(next));
  };
  const restart = () => {
    setCursors([null]);
    setSelection(new Map());
  };

  const query = useMemo(() => {
    const sort = sortParam(sorting);
    return { ...filters, ...fixedFilters, ...(q.trim() ? { q: q.trim() } : {}), ...(sort ? { sort } : {}) };
  }, [filters, fixedFilters, q, sorting]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const list = useQuery({
    queryKey: recordKeys.list(type, { ...query, cursor: cursor ?? '' }),
    queryFn: () => listRecords(type, { ...query, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }),
    placeholderData: keepPreviousData,
  });

  const shown = columns.filter((key) => visibleKeys.includes(key));
  const tableColumns = useMemo(
    () =>
      visibleKeys.map((key, index) =>
        columnHelper.accessor((row) => row[key], {
          id: key,
          header: t(`field.${key}`),
          enableSorting: spec.sortable.includes(key),
          sortDescFirst: false,
          cell: (info) => {
            const field = fieldSpec(spec, key) ?? { key, kind: 'text' as const };
            const value = <FieldValue field={field} record={info.row.original} compact />;
            return index === visibleKeys.findIndex((k) => shown.includes(k)) ? (
              <Anchor component={Link} href={`/${type}/${info.row.original.id}`}>{spec.title(info.row.original) || t('untitled')}</Anchor>
            ) : (
              value
            );
          },
        }),
      ),
    // The columns follow the type, the user's access and the choice of columns.
    [type, visibleKeys.join(), shown.join(), t],
  );

  const table = useTable({
    features,
    columns: tableColumns,
    data: list.data?.items ?? [],
    getRowId: (row) => row.id,
    manualSorting: true,
    enableMultiSort: false,
    enableSortingRemoval: true,
    state: { sorting, columnVisibility: Object.fromEntries(visibleKeys.map((key) => [key, shown.includes(key)])) },
    onSortingChange: (updater) => {
      setSorting((old) => (typeof updater === 'function' ? updater(old) : updater));
      restart();
    },
    onColumnVisibilityChange: (updater) => {
      const old = Object.fromEntries(visibleKeys.map((key) => [key, shown.includes(key)]));
      const next = typeof updater === 'function' ? updater(old) : updater;
      setColumns(visibleKeys.filter((key) => next[key] !== false));
    },
  });

  const current: ViewDefinition = { columns: shown, sort: sortParam(sorting), filters, q: q.trim() || null };
  const applyView = (view: SavedView | null) => {
    setActiveView(view);
    const definition = view?.definition ?? { columns: storedColumns(type) ?? spec.defaultColumns, sort: null, filters: {}, q: null };
    if (view) setColumnsState(definition.columns);
    setSorting(sortingOf(definition.sort));
    setFilters(definition.filters);
    setQ(definition.q ?? '');
    restart();
  };

  const problem = list.error ? problemFrom(list.error) : null;
  const pageItems = list.data?.items ?? [];
  const pageSelected = pageItems.filter((item) => selection.has(item.id)).length;
  const toggle = (record: RecordItem, on: boolean) =>
    setSelection((old) => {
      const next = new Map(old);
      if (on) next.set(record.id, record);
      else next.delete(record.id);
      return next;
    });
  const togglePage = (on: boolean) =>
    setSelection((old) => {
      const next = new Map(old);
      for (const item of pageItems) {
        if (on) next.set(item.id, item);
        else next.delete(item.id);
      }
      return next;
    });
  return (
    <Stack gap="sm">
      <Group justify="space-between" gap="sm" className="records-list-head">
        <Group gap="sm">
          <SavedViews type={type} current={current} active={activeView} onApply={applyView} />
          <FilterBar type={type} filters={filters} q={q} onChange={(nextFilters, nextQ) => { setFilters(nextFilters); setQ(nextQ); restart(); }} />
        </Group>
        <Group gap="sm">
          {header}
          <ColumnChooser keys={visibleKeys} table={table} />
          <ExportSlot type={type} query={query} />
        </Group>
      </Group>
      {selectable && <BulkActions type={type} selected={[...selection.values()]} onClear={() => setSelection(new Map())} />}
      {problem && <Alert color="red" role="alert">{problem.code === 'auth.forbidden' ? t('shell:forbidden') : problemMessage(problem, t)}</Alert>}
      <div className="records-table-wrap">
        <Table striped highlightOnHover aria-busy={list.isFetching} className="records-table">
          <Table.Caption>{caption ?? t(`list.${type}`)}</Table.Caption>
          <Table.Thead>
            {table.getHeaderGroups().map((group) => (
              <Table.Tr key={group.id}>
                {selectable && (
                  <Table.Th className="records-select">
                    <Checkbox
                      size="xs"
                      aria-label={tt('selectPage')}
                      checked={pageItems.length > 0 && pageSelected === pageItems.length}
                      indeterminate={pageSelected > 0 && pageSelected < pageItems.length}
                      disabled={pageItems.length === 0}
                      onChange={(e) => togglePage(e.currentTarget.checked)}
                    />
                  </Table.Th>
                )}
                {group.headers.map((header) => {
                  const sorted = header.column.getIsSorted();
                  return (
                    <Table.Th key={header.id} aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}>
                      {header.column.getCanSort() ? (
                        <UnstyledButton onClick={header.column.getToggleSortingHandler()} className="records-sort" aria-label={t('sortBy', { field: t(`field.${header.column.id}`) })}>
                          <table.FlexRender header={header} />
                          <span aria-hidden="true" className="records-sort-mark">{sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : '↕'}</span>
                        </UnstyledButton>
                      ) : (
                        <table.FlexRender header={header} />
                      )}
                    </Table.Th>
                  );
                })}
              </Table.Tr>
            ))}
          </Table.Thead>
          <Table.Tbody>
            {table.getRowModel().rows.map((row) => (
              <Table.Tr key={row.id} data-selected={selection.has(row.id) || undefined}>
                {selectable && (
                  <Table.Td className="records-select">
                    <Checkbox size="xs" aria-label={tt('selectRow', { title: spec.title(row.original) || t('untitled') })} checked={selection.has(row.id)} onChange={(e) => toggle(row.original, e.currentTarget.checked)} />
                  </Table.Td>
                )}
                {row.getVisibleCells().map((cell) => (
                  <Table.Td key={cell.id}>
                    <table.FlexRender cell={cell} />
                  </Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
      {list.isPending && <Loader size="sm" aria-label={t('shell:loading')} />}
      {list.data && list.data.items.length === 0 && <Text c="dimmed">{t('empty')}</Text>}
      <Group justify="flex-end" gap="xs">
        <Button variant="default" size="sm" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>{t('previous')}</Button>
        <Button variant="default" size="sm" disabled={!list.data?.nextCursor || list.isPlaceholderData} onClick={() => list.data?.nextCursor && setCursors((c) => [...c, list.data!.nextCursor])}>{t('next')}</Button>
      </Group>
    </Stack>
  );
}

function ColumnChooser({ keys, table }: { keys: string[]; table: ReturnType<typeof useTable<typeof features, RecordItem>> }) {
  const { t } = useTranslation('records');
  return (
    <Popover position="bottom-end" withinPortal shadow="md">
      <Popover.Target>
        <Button variant="default" size="sm">{t('columns')}</Button>
      </Popover.Target>
      <Popover.Dropdown>
        <Stack gap={6} role="group" aria-label={t('columns')}>
          {keys.map((key) => {
            const column = table.getColumn(key);
            return column ? <Checkbox key={key} size="xs" label={t(`field.${key}`)} checked={column.getIsVisible()} onChange={(e) => column.toggleVisibility(e.currentTarget.checked)} /> : null;
          })}
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}

/** The search words and the type's exact-match filters, applied together when the user asks. */
function FilterBar({ type, filters, q, onChange }: { type: RecordType; filters: Record<string, string>; q: string; onChange: (filters: Record<string, string>, q: string) => void }) {
  const { t } = useTranslation('records');
  const { access } = useAccess();
  const spec = RECORD_SPECS[type];
  const [draft, setDraft] = useState<Record<string, string>>(filters);
  const [words, setWords] = useState(q);
  const [open, setOpen] = useState(false);
  const [lastApplied, setLastApplied] = useState({ filters, q });
  // A saved view chosen elsewhere replaces what is in the inputs.
  if (lastApplied.filters !== filters || lastApplied.q !== q) {
    setLastApplied({ filters, q });
    setDraft(filters);
    setWords(q);
  }
  const keys = spec.filters.filter((key) => access.field(type, key) !== 'hidden');
  const active = Object.values(filters).filter(Boolean).length;
  const apply = () => {
    onChange(Object.fromEntries(Object.entries(draft).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()])), words);
    setOpen(false);
  };
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        apply();
      }}
      className="records-filter-bar"
    >
      <Group gap="xs" wrap="nowrap">
        <TextInput size="sm" aria-label={t('searchList')} placeholder={t('searchList')} value={words} onChange={(e) => setWords(e.currentTarget.value)} maxLength={200} />
        <Popover opened={open} onChange={setOpen} position="bottom-start" withinPortal shadow="md" trapFocus>
          <Popover.Target>
            <Button variant="default" size="sm" onClick={() => setOpen((o) => !o)}>{active ? t('filtersCount', { count: active }) : t('filters')}</Button>
          </Popover.Target>
          <Popover.Dropdown>
            <Stack gap="xs" className="records-filter-panel">
              {keys.map((key) => {
                const field = fieldSpec(spec, key);
                const label = t(`field.${key}`);
                return field?.kind === 'select' ? (
                  <Select key={key} size="xs" label={label} clearable comboboxProps={{ withinPortal: false }} data={(field.options ?? []).map((value) => ({ value, label: t(`option.${value}`) }))} value={draft[key] ?? null} onChange={(value) => setDraft((d) => ({ ...d, [key]: value ?? '' }))} />
                ) : (
                  <TextInput key={key} size="xs" label={label} type={field?.kind === 'date' ? 'date' : 'text'} value={draft[key] ?? ''} onChange={(e) => { const value = e.currentTarget.value; setDraft((d) => ({ ...d, [key]: value })); }} maxLength={500} />
                );
              })}
              <Group justify="space-between" gap="xs">
                <Button size="xs" variant="subtle" onClick={() => { setDraft({}); setWords(''); onChange({}, ''); setOpen(false); }}>{t('clearFilters')}</Button>
                <Button size="xs" onClick={apply}>{t('applyFilters')}</Button>
              </Group>
            </Stack>
          </Popover.Dropdown>
        </Popover>
        <Button type="submit" size="sm" variant="light">{t('search')}</Button>
      </Group>
    </form>
  );
}
