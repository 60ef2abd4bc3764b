// ESLint flat config: typescript-eslint's recommended rules over our TypeScript sources.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', 'coverage/**', 'runs/**', 'scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },

  // The step floor and the floors that use it (src/step/README.md): these folders never import from a
  // floor above them, so the cycles streams→pipeline, workers→pipeline and gpu→workers/train cannot
  // come back. typescript-eslint's form of the rule, so type-only imports count too, and so it stays
  // apart from any core `no-restricted-imports` block over the same files.
  ...[
    ['src/step/**', ['pipeline', 'streams', 'workers', 'gpu', 'train', 'daemon', 'cli']],
    ['src/streams/**', ['pipeline', 'train']],
    ['src/workers/**', ['pipeline', 'streams', 'train']],
    ['src/gpu/**', ['pipeline', 'streams', 'workers', 'train']],
  ].map(([files, above]) => ({
    files: [files],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: above.map((f) => `../${f}/*`),
              message: `${files.slice(4, -3)} is below ${above.join(', ')}: import from src/step or a lower floor`,
            },
          ],
        },
      ],
    },
  })),
);
