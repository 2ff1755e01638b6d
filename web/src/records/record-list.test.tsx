import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { RecordList, columnsStorageKey } from './record-list';
import { SignedIn, accessAnswer, sessionAnswer } from './records-test-kit';

const companies = [
  { id: '0190a000-0000-7000-8000-000000000101', version: 1, name: 'Lantern Works', industry: 'Crafts', city: 'Hangzhou', country: 'CN', createdAt: '2026-01-02T03:04:05Z', updatedAt: '2026-01-02T03:04:05Z', customFields: {}, tagIds: [] },
];

function answers() {
  return answerWith({
    ...sessionAnswer,
    ...accessAnswer('companies', { read: 'team', create: 'own' }),
    'GET /api/v1/companies': { body: { items: companies, nextCursor: null } },
    'GET /api/v1/views': { body: { items: [], nextCursor: null } },
  });
}

describe('a record list', () => {
  it('asks the server to sort by the column header clicked, ascending then descending', async () => {
    const sent = answers();
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    const table = await screen.findByRole('table', { name: 'Companies you can see' });
    expect(await within(table).findByRole('link', { name: 'Lantern Works' })).toBeInTheDocument();
    const lists = () => sent.filter((r) => r.url.pathname === '/api/v1/companies');
    expect(lists()[0]!.url.searchParams.get('sort')).toBeNull();

    await userEvent.click(screen.getByRole('button', { name: 'Sort by Name' }));
    await waitFor(() => expect(lists().at(-1)!.url.searchParams.get('sort')).toBe('name'));
    expect(screen.getByRole('columnheader', { name: /Name/ })).toHaveAttribute('aria-sort', 'ascending');
    await userEvent.click(screen.getByRole('button', { name: 'Sort by Name' }));
    await waitFor(() => expect(lists().at(-1)!.url.searchParams.get('sort')).toBe('-name'));
    // A field the API cannot sort by offers no sort.
    await userEvent.click(screen.getByRole('button', { name: 'Columns' }));
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Domain' }));
    expect(await screen.findByRole('columnheader', { name: 'Domain' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Sort by Domain' })).toBeNull();
  });

  it('keeps the column choice in this browser as column keys only', async () => {
    answers();
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await screen.findByRole('link', { name: 'Lantern Works' });
    expect(screen.getByRole('columnheader', { name: /City/ })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Columns' }));
    await userEvent.click(await screen.findByRole('checkbox', { name: 'City' }));
    await waitFor(() => expect(screen.queryByRole('columnheader', { name: /City/ })).toBeNull());
    const stored = JSON.parse(localStorage.getItem(columnsStorageKey('companies'))!);
    expect(stored).toEqual(['name', 'industry', 'country', 'createdAt']);
    // Nothing of the records themselves is kept.
    expect(Object.values({ ...localStorage }).join(' ')).not.toMatch(/Lantern|Hangzhou/);
  });

  it('sends filters and search words as the list\'s query, never through the address', async () => {
    const sent = answers();
    const { location } = renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>, { path: '/companies' });
    await screen.findByRole('link', { name: 'Lantern Works' });
    await userEvent.type(screen.getByRole('textbox', { name: 'Search this list' }), 'lantern');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(sent.at(-1)!.url.searchParams.get('q')).toBe('lantern'));
    expect(location.history).toEqual(['/companies']);
  });
});
