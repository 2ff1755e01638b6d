import { Alert, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ImportField, Mapping } from './transfer-api';

/** The mapping key a select shows for "skip this column". */
const SKIP = '';

/** Required fields that no column feeds: every row would be refused for want of them. */
export function missingRequired(fields: readonly ImportField[], mapping: Mapping): ImportField[] {
  const mapped = new Set(mapping.filter((key): key is string => key !== null));
  return fields.filter((field) => field.required && !mapped.has(field.key));
}

/**
 * One select per CSV column, naming the field it feeds (the server's suggestion to start with).
 * A field already chosen for another column is not offered again, so no two columns feed one field.
 */
export function ColumnMapping({ header, fields, mapping, onChange }: { header: readonly string[]; fields: readonly ImportField[]; mapping: Mapping; onChange: (mapping: Mapping) => void }) {
  const { t } = useTranslation('transfer');
  const missing = missingRequired(fields, mapping);
  const labelOf = (field: ImportField) => (field.key === 'company' ? t('company') : field.label);
  return (
    <Stack gap="sm">
      {missing.length > 0 && (
        <Alert color="yellow" role="status">
          {t('requiredMissing', { fields: missing.map(labelOf).join(', ') })}
        </Alert>
      )}
      <Table.ScrollContainer minWidth={480}>
        <Table withTableBorder verticalSpacing="xs" className="transfer-mapping">
          <caption className="transfer-caption">{t('mappingCaption')}</caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{t('column')}</Table.Th>
              <Table.Th scope="col">{t('field')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {header.map((column, index) => {
              const takenElsewhere = new Set(mapping.filter((key, i) => i !== index && key !== null));
              const options = [
                { value: SKIP, label: t('skip') },
                ...fields.filter((field) => !takenElsewhere.has(field.key)).map((field) => ({ value: field.key, label: field.required ? `${labelOf(field)} *` : labelOf(field) })),
              ];
              return (
                <Table.Tr key={index}>
                  <Table.Th scope="row">
                    <Text size="sm" fw={500} className="transfer-column-name">{column.trim() === '' ? `#${index + 1}` : column}</Text>
                  </Table.Th>
                  <Table.Td>
                    <NativeSelect
                      aria-label={t('fieldFor', { column: column.trim() === '' ? `#${index + 1}` : column })}
                      data={options}
                      value={mapping[index] ?? SKIP}
                      onChange={(event) => {
                        const next = [...mapping];
                        next[index] = event.currentTarget.value === SKIP ? null : event.currentTarget.value;
                        onChange(next);
                      }}
                    />
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}
