import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { RecordPage } from './record-page';
import { SELLER, SignedIn, accessAnswer, sessionAnswer } from './records-test-kit';

const ID = '0190a000-0000-7000-8000-000000000301';
const contact = { id: ID, version: 1, ownerId: SELLER.id, teamId: SELLER.teamId, firstName: 'Wei', lastName: 'Zhang', idNumber: '3301**********1234', maskedFields: ['idNumber'], customFields: {}, tagIds: [], createdAt: '2026-01-02T03:04:05Z', updatedAt: '2026-01-02T03:04:05Z', deletedAt: null };
const around = {
  ...sessionAnswer,
  [`GET /api/v1/contacts/${ID}`]: { body: contact },
  [`GET /api/v1/contacts/${ID}/timeline`]: { body: { items: [], nextCursor: null } },
  'GET /api/v1/custom-fields': { body: { items: [], nextCursor: null } },
};

describe('a record page', () => {
  it('offers Reveal beside a masked value only to a role with the reveal action, and no edit without update', async () => {
    answerWith({ ...around, ...accessAnswer('contacts', { read: 'team' }, { idNumber: 'masked', email: 'hidden' }) });
    renderWithApp(<SignedIn><RecordPage type="contacts" id={ID} /></SignedIn>);
    expect(await screen.findByRole('heading', { name: 'Wei Zhang', level: 1 })).toBeInTheDocument();
    expect(screen.getByText('3301**********1234')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Reveal/ })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Edit' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete' })).toBeNull();
    // A hidden field has no slot at all.
    expect(screen.queryByText('Email')).toBeNull();
  });

  it('reveals with a reason, asks for a second factor when the server wants one, and tries again', async () => {
    let reveals = 0;
    const sent = answerWith({
      ...around,
      ...accessAnswer('contacts', { read: 'team', update: 'own', reveal: 'own' }, { idNumber: 'masked' }),
      [`POST /api/v1/contacts/${ID}/reveal`]: () => {
        reveals += 1;
        return reveals === 1 ? { status: 403, body: { error: { code: 'auth.step_up_required', message: 'Confirm your second factor first' } } } : { body: { revealId: 'r1', revealedAt: '2026-01-02T03:04:05Z', values: { idNumber: '330106199001011234' } } };
      },
      'POST /api/v1/auth/step-up': { body: { validUntil: '2026-01-02T03:09:05Z' } },
    });
    renderWithApp(<SignedIn><RecordPage type="contacts" id={ID} /></SignedIn>);
    expect(await screen.findByRole('button', { name: 'Edit' })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Reveal ID number' }));
    await userEvent.type(await screen.findByLabelText(/^Reason/), 'too short');
    await userEvent.click(screen.getByRole('button', { name: 'Reveal' }));
    expect(await screen.findByText('Write at least 10 characters.')).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText(/^Reason/), ' still, to confirm identity');
    await userEvent.click(screen.getByRole('button', { name: 'Reveal' }));
    await userEvent.type(await screen.findByLabelText(/^Code or recovery code/), '123456');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm and reveal' }));
    expect(await screen.findByText('330106199001011234')).toBeInTheDocument();
    expect(sent.find((r) => r.url.pathname === '/api/v1/auth/step-up')!.body).toEqual({ code: '123456' });
    expect(sent.filter((r) => r.url.pathname.endsWith('/reveal')).map((r) => r.body)).toEqual([
      { fields: ['idNumber'], reason: 'too short still, to confirm identity' },
      { fields: ['idNumber'], reason: 'too short still, to confirm identity' },
    ]);
  });

  it('says plainly when the role lacks a permission the server checked', async () => {
    answerWith({
      ...around,
      ...accessAnswer('contacts', { read: 'team', delete: 'own' }),
      [`DELETE /api/v1/contacts/${ID}`]: { status: 403, body: { error: { code: 'auth.forbidden', message: 'Forbidden' } } },
    });
    renderWithApp(<SignedIn><RecordPage type="contacts" id={ID} /></SignedIn>);
    await userEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    const dialog = await screen.findByRole('dialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Your role does not allow this.');
  });
});
