import type { ReactNode } from 'react';
import { Anchor, Box, Burger, Group, Menu, NavLink, Stack, Text, UnstyledButton } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'wouter';
import { useSession, useUser } from '../access/session';
import { useAccess } from '../access/use-access';
import { BrandMark } from './brand-mark';
import { LanguageSwitch } from './language-switch';
import { LockdownBanner } from './lockdown-banner';
import { NAVIGATION } from './navigation';
import { useFocusHeading } from './focus-heading';

/**
 * The frame of every signed-in page: the brand and the user's menu on top, the sections on the
 * left (a drawer on narrow screens), the page in the middle. Plain flex layout rather than
 * Mantine's AppShell, whose responsive sizes would need an inline <style> the policy forbids.
 */
export function AppShell({ children }: { children: ReactNode }) {
  const { t } = useTranslation('shell');
  const [navOpen, nav] = useDisclosure(false);
  const [location] = useLocation();
  useFocusHeading(location, '#content');
  const { state } = useSession();
  const expired = state.status === 'signed-in' && state.expired !== null;
  return (
    <div className="app-frame">
      <a className="skip-link" href="#content">{t('skipToContent')}</a>
      <header className="app-header">
        <Group gap="sm" wrap="nowrap">
          <Burger className="nav-toggle" opened={navOpen} onClick={nav.toggle} size="sm" aria-label={t('mainNav')} aria-expanded={navOpen} aria-controls="main-nav" />
          <Anchor component={Link} href="/" underline="never" c="inherit">
            <Group gap="xs" wrap="nowrap">
              <BrandMark />
              <Text fw={700}>Rampart</Text>
            </Group>
          </Anchor>
        </Group>
        <Group gap="sm" wrap="nowrap">
          <LanguageSwitch />
          <UserMenu />
        </Group>
      </header>
      <LockdownBanner />
      <div className="app-body">
        <nav id="main-nav" className="app-nav" data-open={navOpen} aria-label={t('mainNav')}>
          <Navigation onNavigate={nav.close} />
        </nav>
        {/* A session that ended hides the page (its data is no longer the reader's to see) but
            keeps it mounted, so what was typed is still there after signing in again. */}
        <main id="content" className="app-main" tabIndex={-1} data-hidden={expired} inert={expired || undefined}>
          {children}
        </main>
      </div>
    </div>
  );
}

function Navigation({ onNavigate }: { onNavigate: () => void }) {
  const { t } = useTranslation();
  const [location] = useLocation();
  const user = useUser();
  const { access } = useAccess();
  return (
    <Stack gap={2}>
      {NAVIGATION.filter((item) => item.visible(user, access)).map((item) => (
        <NavLink
          key={item.path}
          component={Link}
          href={item.path}
          label={t(item.label)}
          active={item.path === '/' ? location === '/' : location.startsWith(item.path)}
          onClick={onNavigate}
        />
      ))}
    </Stack>
  );
}

function UserMenu() {
  const { t } = useTranslation('shell');
  const user = useUser();
  const { signOut } = useSession();
  const [, navigate] = useLocation();
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <UnstyledButton aria-label={t('userMenu', { name: user.name })} className="user-button">
          <Box component="span" className="user-initial" aria-hidden="true">{user.name.slice(0, 1).toUpperCase()}</Box>
          <Text component="span" size="sm" className="user-name">{user.name}</Text>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{user.email}</Menu.Label>
        <Menu.Item onClick={() => navigate('/profile')}>{t('profile')}</Menu.Item>
        <Menu.Item color="red" onClick={() => void signOut()}>{t('signOut')}</Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}
