import { createTheme } from '@mantine/core';

/**
 * Mantine's default theme, on purpose: its CSS variables are in @mantine/core's stylesheet, so
 * nothing needs an injected <style>. Changes to fonts or colours go into app.css as variables.
 *
 * Modal and Drawer keep the page's scroll bar: removing it makes react-remove-scroll inject a
 * <style> element, which the Content-Security-Policy refuses.
 */
export const theme = createTheme({
  components: {
    Modal: { defaultProps: { removeScrollProps: { removeScrollBar: false } } },
    Drawer: { defaultProps: { removeScrollProps: { removeScrollBar: false } } },
  },
});
