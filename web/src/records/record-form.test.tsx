import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { RecordForm } from './record-form';
import { SignedIn, accessAnswer, sessionAnswer } from './records-test-kit';

const customFields = { 'GET /api/v1/custom-fields': { body: { items: [{ id: 'f1', recordType: 'contacts', key: 'wechat', label: 'WeChat ID', type: 'text', classification: 'personal', options: [], required: false, position: 1, version: 1, createdAt: '', updatedAt: '' }], nextCursor: null } } };
const contactAccess = accessAnswer('contacts', { read: 'team', create: 'own', update: 'own' }, { idNumber: 'masked', 'customFields.wechat': 'write' });

describe('the record form', () => {
  it('shows the API\'s message above the form and each field\'s problem beside its field, custom fields included', async () => {
    const sent = answerWith({
      ...sessionAnswer,
      ...contactAccess,
      ...customFields,
      'GET /api/v1/companies': { body: { items: [], nextCursor: null } },
      'POST /api/v1/contacts': { status: 400, body: { error: { code: 'record.validation_failed', message: 'The contact has invalid fields: email, customFields.wechat', fields: [{ field: 'email', message: 'must be an email address' }, { field: 'customFields.wechat', message: 'is too long' }] } } },
    });
    const onSaved = vi.fn();
    renderWithApp(<SignedIn><RecordForm type="contacts" onSaved={onSaved} /></SignedIn>);
    await userEvent.type(await screen.findByLabelText(/^Last name/), 'Zhang');
    await userEvent.type(screen.getByLabelText(/^Email/), 'wei@');
    await userEvent.type(await screen.findByLabelText(/^WeChat ID/), 'x'.repeat(20));
    // A field the role sees masked is not offered for writing.
    expect(screen.queryByLabelText(/^ID number/)).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The contact has invalid fields');
    expect(screen.getByText('Must be an email address')).toBeInTheDocument();
    expect(screen.getByText('Is too long')).toBeInTheDocument();
    expect(screen.getByLabelText(/^Email/)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText(/^WeChat ID/)).toHaveAttribute('aria-invalid', 'true');
    const posted = sent.find((r) => r.method === 'POST')!;
    expect(posted.body).toEqual({ lastName: 'Zhang', email: 'wei@', customFields: { wechat: 'x'.repeat(20) } });
    expect(onSaved).not.toHaveBeenCalled();
  });

  it('checks required fields before anything is sent', async () => {
    const sent = answerWith({ ...sessionAnswer, ...contactAccess, ...customFields, 'GET /api/v1/companies': { body: { items: [], nextCursor: null } } });
    renderWithApp(<SignedIn><RecordForm type="contacts" onSaved={vi.fn()} /></SignedIn>);
    await userEvent.click(await screen.findByRole('button', { name: 'Create' }));
    expect(await screen.findByText('Fill in this field.')).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('sends only what changed with the version it read, and offers a reload when someone else changed the record', async () => {
    const record = { id: '0190a000-0000-7000-8000-000000000201', version: 3, ownerId: null, teamId: null, lastName: 'Zhang', firstName: 'Wei', city: 'Hangzhou', customFields: {}, tagIds: [], createdAt: '', updatedAt: '' };
    const sent = answerWith({
      ...sessionAnswer,
      ...contactAccess,
      ...customFields,
      'GET /api/v1/companies': { body: { items: [], nextCursor: null } },
      'PATCH /api/v1/contacts/0190a000-0000-7000-8000-000000000201': { status: 409, body: { error: { code: 'record.version_conflict', message: 'The record was changed by someone else' } } },
    });
    renderWithApp(<SignedIn><RecordForm type="contacts" record={record} onSaved={vi.fn()} /></SignedIn>);
    const city = await screen.findByLabelText(/^City/);
    await waitFor(() => expect(city).toHaveValue('Hangzhou'));
    await userEvent.clear(city);
    await userEvent.type(city, 'Ningbo');
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Someone changed this record after you opened it');
    expect(screen.getByRole('button', { name: 'Reload' })).toBeInTheDocument();
    expect(sent.find((r) => r.method === 'PATCH')!.body).toEqual({ city: 'Ningbo', version: 3 });
  });
});
