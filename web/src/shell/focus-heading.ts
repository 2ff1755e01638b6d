import { useEffect, useRef } from 'react';

/**
 * Moves focus to the page's main heading when `key` changes (a new route, the next step of a
 * sign-in), so screen readers announce where the user now is and keyboard users start there. The
 * first render is left alone: the browser's own focus is right for a page just opened.
 */
export function useFocusHeading(key: unknown, container = 'main'): void {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // After the new screen has rendered (lazy screens render a moment later).
    const timer = setTimeout(() => {
      const heading = document.querySelector<HTMLElement>(`${container} h1`);
      if (!heading) return;
      if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
      heading.focus();
    }, 50);
    return () => clearTimeout(timer);
  }, [key, container]);
}
