import { List, Table, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { RejectedRow } from './transfer-api';

/** How many refused rows the table shows; the summary still counts every one. */
export const SHOWN_ERRORS = 500;

/**
 * The rows an import refused, by line of the file (the header is line 1), each with its problems
 * field by field. Field names are shown by label where the import knows them.
 */
export function RowErrors({ rows, total, labels }: { rows: readonly RejectedRow[]; total: number; labels: Readonly<Record<string, string>> }) {
  const { t } = useTranslation('transfer');
  const shown = rows.slice(0, SHOWN_ERRORS);
  const fieldName = (field: string) => (field === 'row' ? t('rowProblem') : labels[field] ?? field);
  return (
    <>
      <Table.ScrollContainer minWidth={480}>
        <Table withTableBorder verticalSpacing="xs" className="transfer-errors">
          <caption className="transfer-caption">{t('errorsCaption')}</caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col" className="transfer-line">{t('line')}</Table.Th>
              <Table.Th scope="col">{t('problems')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((row) => (
              <Table.Tr key={row.line}>
                <Table.Th scope="row" className="transfer-line">{row.line}</Table.Th>
                <Table.Td>
                  <List size="sm" listStyleType="none" spacing={2}>
                    {row.problems.map((problem, i) => (
                      <List.Item key={i}>
                        <Text span size="sm" fw={600}>{fieldName(problem.field)}</Text>{' '}
                        <Text span size="sm">{problem.message}</Text>
                      </List.Item>
                    ))}
                  </List>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {total > shown.length && <Text size="sm" c="dimmed">{t('errorsTruncated', { shown: shown.length, total })}</Text>}
    </>
  );
}
