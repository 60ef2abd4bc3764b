import { muon } from '../optim/muon.js';
import type { OptimizerEntry } from './entry.js';
import { auxAdamHyperparameters, auxAdamLr } from './aux-adam.js';
import { bool, integer, num } from './hyper.js';

export const muonEntry: OptimizerEntry = {
  name: 'muon',
  label: 'Muon',
  cliName: 'muon',
  summary:
    'orthogonalised Nesterov momentum (Newton–Schulz) for hidden matrices, AdamW for the rest (KellerJordan/Muon, MuonWithAuxAdam)',
  hyperparameters: {
    momentum: num('momentum', 'momentum β (default 0.95)'),
    nesterov: bool('Nesterov momentum (default true)'),
    nsSteps: integer(1, 'Newton–Schulz iterations (default 5)'),
    weightDecay: num('weightDecay', "Muon's decoupled decay on the matrices: p ← p·(1 − lr·wd) (default 0)"),
    ...auxAdamHyperparameters('default 3e-4'),
  },
  curvature: { estimators: [], required: false },
  needsLayout: true,
  scaling: 'sqrt',
  presets: {
    // Muon's official default rate; the auxiliary AdamW at the AdamW preset's rate for each model.
    mlp: { optimizer: { name: 'muon', lr: 0.02, adamLr: 1e-3 } },
    gpt: { optimizer: { name: 'muon', lr: 0.02, adamLr: 0.016, adamB1: 0.9, adamB2: 0.95 } },
  },
  build({ hyper, lr, lrFactor }) {
    const adamLr = auxAdamLr(hyper, lr, lrFactor);
    return muon({ ...hyper, lr, ...(adamLr === undefined ? {} : { adamLr }) });
  },
  preconditioner: () =>
    "Muon's step on a matrix is an orthogonalised momentum (all singular values ≈ 1), not a diagonal preconditioning: no diagonal form",
};
