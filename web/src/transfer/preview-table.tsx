import { Table, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { PreviewRow } from './transfer-api';

/**
 * The first rows as the server would store them, one column per mapped field. A cell whose field
 * has a problem is marked and says what is wrong; problems of the row as a whole, or of fields no
 * column feeds, are listed at the end of the row.
 */
export function PreviewTable({ rows, columns, labels }: { rows: readonly PreviewRow[]; columns: readonly string[]; labels: Readonly<Record<string, string>> }) {
  const { t } = useTranslation('transfer');
  const shown = new Set(columns);
  return (
    <Table.ScrollContainer minWidth={Math.max(480, 160 * (columns.length + 1))}>
      <Table withTableBorder verticalSpacing="xs" className="transfer-preview">
        <caption className="transfer-caption">{t('previewCaption')}</caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col" className="transfer-line">{t('line')}</Table.Th>
            {columns.map((key) => (
              <Table.Th scope="col" key={key}>{labels[key] ?? key}</Table.Th>
            ))}
            <Table.Th scope="col">{t('problems')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row) => {
            const byField = new Map<string, string[]>();
            for (const problem of row.problems) byField.set(problem.field, [...(byField.get(problem.field) ?? []), problem.message]);
            const elsewhere = row.problems.filter((problem) => !shown.has(problem.field));
            return (
              <Table.Tr key={row.line} className={row.problems.length > 0 ? 'transfer-row-problem' : undefined}>
                <Table.Th scope="row" className="transfer-line">{row.line}</Table.Th>
                {columns.map((key) => {
                  const problems = byField.get(key);
                  return (
                    <Table.Td key={key} className={problems ? 'transfer-cell-problem' : undefined}>
                      <Text size="sm" className="transfer-value">{row.values[key] ?? ''}</Text>
                      {problems && <Text size="xs" c="red.8">{problems.join(' ')}</Text>}
                    </Table.Td>
                  );
                })}
                <Table.Td>
                  {elsewhere.map((problem, i) => (
                    <Text key={i} size="xs" c="red.8">
                      {problem.field === 'row' ? t('rowProblem') : labels[problem.field] ?? problem.field} {problem.message}
                    </Text>
                  ))}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
