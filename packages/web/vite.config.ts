import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The server serves `dist/` at `/` and the API at `/api/v1` on the same origin, so the bundle
// uses relative URLs and `base: '/'`. For `npm run dev -w @hangar/web`, point HANGAR_URL at a
// running server and Vite proxies the API (and the public PKI documents the pages link to) to it.
const apiTarget = process.env['HANGAR_URL'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
      '/pki': { target: apiTarget, changeOrigin: false },
      '/device': { target: apiTarget, changeOrigin: false },
    },
  },
});
