import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../test/render';
import { ChainStatusBanner, type ChainStatus } from './chain-status';

const intact: ChainStatus = {
  entries: 1250,
  verifiedUpTo: 1250,
  intact: true,
  problems: [],
  checkpoint: { size: 1200, rootHash: 'a'.repeat(64), signedAt: '2026-11-30T08:00:00.000Z', signature: 'valid' },
  checkedAt: '2026-11-30T09:00:00.000Z',
  walkStartedAt: '2026-11-30T09:00:00.000Z',
};

describe('the chain status banner', () => {
  it('says how far the chain is verified and when the newest checkpoint was signed', () => {
    renderWithApp(<ChainStatusBanner status={intact} />);
    const banner = screen.getByRole('status');
    expect(banner).toHaveTextContent('The audit chain is intact');
    expect(banner).toHaveTextContent(/Verified up to entry 1,250 · checkpoint at .+ \(entry 1,200\)/);
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('says so when nothing is signed yet, or the signature could not be checked', () => {
    renderWithApp(<ChainStatusBanner status={{ ...intact, checkpoint: null }} />);
    expect(screen.getByRole('status')).toHaveTextContent('Verified up to entry 1,250 · no signed checkpoint yet');
  });

  it('shows every kind of damage found, in an alert', () => {
    renderWithApp(
      <ChainStatusBanner
        status={{ ...intact, intact: false, problems: [{ kind: 'modified', seq: 17, detail: 'its fields were changed after it was written' }, { kind: 'truncated', seq: null, detail: 'a checkpoint was signed at size 1300' }] }}
      />,
    );
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('The audit chain is damaged');
    expect(alert).toHaveTextContent('Modified at entry 17: its fields were changed after it was written');
    expect(alert).toHaveTextContent('Truncated: a checkpoint was signed at size 1300');
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });

  it('speaks Chinese', () => {
    renderWithApp(<ChainStatusBanner status={intact} />, { language: 'zh-CN' });
    expect(screen.getByRole('status')).toHaveTextContent('已校验至第 1,250 条');
  });
});
