// ESLint flat config: typescript-eslint's recommended rules over our TypeScript sources.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// --- Floors --------------------------------------------------------------------------------------
// The layers of ARCHITECTURE.md, enforced: a folder may not import from the folders listed for it
// (each pattern matches a relative import that reaches that top-level folder of src/; type-only
// imports count too). The step floor (src/step/) removed the cycles streams→pipeline,
// workers→pipeline and gpu→workers/train, so those rules hold; streams ↛ daemon waits for the wire
// format to move out of src/daemon (streams/from-jetstream.ts imports it).
/** `forbidden`: the top-level folders of src/ that `folder` may not import, space-separated. */
const floor = (folder, forbidden) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.split(' ').map((to) => ({
          regex: `^(\\.\\./)+${to}(/|$)`,
          message: `src/${folder} sits below src/${to} (see ARCHITECTURE.md, "Floors").`,
        })),
      },
    ],
  },
});
const floors = [
  floor('kernels', 'tensor nn optim curvature diagnostics gpu workers pipeline streams train daemon cli'),
  floor('tensor', 'nn optim curvature diagnostics gpu workers pipeline streams train daemon cli'),
  floor('optim', 'tensor nn curvature gpu workers pipeline streams train daemon cli'),
  floor('step', 'pipeline streams workers gpu train daemon cli'),
  floor('gpu', 'pipeline streams workers train daemon cli'),
  floor('workers', 'pipeline streams train daemon cli'),
  floor('streams', 'pipeline train daemon cli'),
  floor('pipeline', 'daemon cli'),
];

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
  ...floors,
);
