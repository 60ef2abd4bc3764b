/**
 * `hessflow optimizers [name]`: what the optimizer catalog holds — every optimizer a config can name,
 * what curvature it needs, and its hyperparameters; with a name, its presets per model kind as well.
 */
import { Command } from 'commander';
import { OPTIMIZERS, type OptimizerEntry, optimizerByCliName } from '../../catalog/index.js';
import { UsageError } from '../errors.js';

function needs(e: OptimizerEntry): string {
  const c = e.curvature;
  const curvature =
    c.estimators.length === 0
      ? 'no curvature'
      : `${c.required ? 'needs' : 'can use'} ${c.estimators.map((x) => `"${x}"`).join(' or ')} curvature`;
  return e.needsLayout ? `${curvature}; needs tensor shapes` : curvature;
}

export function describeOptimizers(): string {
  const width = Math.max(...OPTIMIZERS.map((e) => e.name.length));
  const lines = OPTIMIZERS.map(
    (e) => `  ${e.name.padEnd(width)}  ${e.summary}\n  ${' '.repeat(width)}  (${needs(e)})`,
  );
  return `Optimizers (config "optimizer.name"; compare takes ${OPTIMIZERS.map((e) => e.cliName).join(', ')}):\n${lines.join('\n')}\n`;
}

export function describeOptimizer(name: string): string {
  const e = optimizerByCliName(name);
  if (!e)
    throw new UsageError(
      `unknown optimizer "${name}"; choose from ${OPTIMIZERS.map((x) => x.name).join(', ')}`,
    );
  const hyper = Object.entries(e.hyperparameters).map(([k, h]) => `  ${k}: ${h.doc}`);
  const presets = Object.entries(e.presets).map(
    ([kind, p]) =>
      `  ${kind}: ${JSON.stringify(p.optimizer)}${p.curvature ? `, curvature ${JSON.stringify(p.curvature)}` : ''}`,
  );
  return [
    `${e.label} (config name "${e.name}", compare name "${e.cliName}"): ${e.summary}`,
    `${needs(e)}; learning rate scales with the batch size by the ${e.scaling === 'linear' ? 'linear' : 'square-root'} rule`,
    'Hyperparameters (lr is required):',
    ...hyper,
    'Presets (compare uses the one for the model it trains):',
    ...presets,
    '',
  ].join('\n');
}

export function optimizersCommandSpec(): Command {
  return new Command('optimizers')
    .description('list the optimizers a config can name, or one with its hyperparameters and presets')
    .argument('[name]', 'an optimizer (config or compare name)')
    .action((name: string | undefined) => {
      process.stdout.write(name === undefined ? describeOptimizers() : describeOptimizer(name));
    });
}
