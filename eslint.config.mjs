// Lint: ESLint's and typescript-eslint's recommended rules; `any` is an error (the code has none).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  ['require', 'module', 'exports', 'process', 'console', '__dirname', '__filename', 'Buffer', 'setTimeout', 'clearTimeout', 'URL'].map(
    (name) => [name, 'readonly'],
  ),
);

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'weights/', '.venv-ref/', 'docs/'] },
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
    // Lazy requires on purpose: optional native backends, wasm's threaded build, the package version.
    files: ['src/backend.ts', 'src/wasm-threads.ts', 'src/cli/main.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
