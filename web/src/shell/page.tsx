import type { ReactNode } from 'react';
import { Stack, Title } from '@mantine/core';

/** A page's heading and body; the heading is what screen readers land on. */
export function Page({ title, children, actions }: { title: string; children?: ReactNode; actions?: ReactNode }) {
  return (
    <Stack gap="md">
      <div className="page-head">
        <Title order={1} size="h2">{title}</Title>
        {actions}
      </div>
      {children}
    </Stack>
  );
}
