// Lint: ESLint's and typescript-eslint's recommended rules; `any` is an error (the code has none).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const readonly = (names) => Object.fromEntries(names.map((name) => [name, 'readonly']));
const shared = [
  'console',
  'URL',
  'URLSearchParams',
  'TextDecoder',
  'TextEncoder',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'performance',
  'fetch',
  'Blob',
  'AbortController',
  'structuredClone',
  'queueMicrotask',
];
const nodeGlobals = readonly([...shared, 'require', 'module', 'exports', 'process', '__dirname', '__filename', 'Buffer']);
const browserGlobals = readonly([
  ...shared,
  'window',
  'document',
  'navigator',
  'location',
  'File',
  'FileReader',
  'Image',
  'ImageData',
  'createImageBitmap',
  'HTMLElement',
  'HTMLCanvasElement',
  'HTMLImageElement',
  'requestAnimationFrame',
  'getComputedStyle',
  'Event',
]);

export default defineConfig(
  { ignores: ['dist/', 'vendor/', 'node_modules/', 'test/fixtures/', 'weights/', '.venv-ref/', 'docs/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // Unused names are the compiler's job (noUnusedLocals); `_x` marks a parameter kept on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // TypeScript itself checks every name (typescript-eslint's advice: no-undef only misfires on TS).
    files: ['**/*.ts'],
    rules: { 'no-undef': 'off' },
  },
  {
    // Lazy requires on purpose: optional native backends and Dawn, the vendored tfjs-core extras, wasm's threaded build, Node's zlib
    // where it exists (fflate elsewhere), the package version; tests load them in child processes.
    files: [
      'src/node/backend.ts',
      'src/node/tfjs-extras.ts',
      'src/node/webgpu.ts',
      'src/node/wasm-threads.ts',
      'src/cli/main.ts',
      'src/image/inflate.ts',
      'test/**/*.ts',
    ],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    // Pages that run in the browser: the inspector's page and the browser test harness.
    files: ['src/inspector/page/**/*.js', 'test/browser/pages/**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: browserGlobals },
  },
);
