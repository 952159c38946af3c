/**
 * Builds the editor into `dist/editor/` at the repository root, where the
 * relay serves it: `index.html` for `/` and every `/d/<name>` page, and
 * content-hashed files under `/assets/`.
 */
import { defineConfig } from 'vite'

export default defineConfig({
  root: 'editor',
  base: '/',
  build: {
    outDir: '../dist/editor',
    emptyOutDir: true,
    sourcemap: true
  }
})
