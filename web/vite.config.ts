import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The web app, built into dist/web and served by the Rampart server at `/`. Every script and style
 * is a file: the server's Content-Security-Policy forbids inline code, so nothing here may rely on
 * an injected <script> or <style>.
 */
export default defineConfig({
  root: here,
  plugins: [react()],
  build: {
    outDir: path.join(here, '../dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    // Inlined assets would become data: URLs in scripts and styles; files keep the policy simple.
    assetsInlineLimit: 0,
    sourcemap: false,
    // The budget that matters is the initial JavaScript gzipped (at most 400 KB), checked by a test.
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
