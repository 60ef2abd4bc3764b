/**
 * A sweep plan: optimizers ("arms") trained from the same base data, model, schedule and seeds, each
 * given the same budget of learning rates, so that no side is tuned more than another. Tuning picks each
 * arm's best learning rate on `tuneSeeds`; the final phase runs that rate on every seed of `finalSeeds`.
 *
 * The plan file is JSON (bench/plans/*.json), validated with zod; paths are relative to the repository.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type RunConfig, readConfig, validateConfig } from '../../src/cli/config.js';
import { curvatureSchema } from '../../src/config/schemas.js';

const armSchema = z.strictObject({
  /** Row label, e.g. "AdamW" or "Sophia-G, official". */
  label: z.string().min(1),
  /** Run config (a file under config/) giving model, data, optimizer, curvature and schedule. */
  config: z.string().min(1),
  /** Extra optimizer hyperparameters merged over the config's (e.g. a Sophia option). */
  optimizer: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
  /** Curvature-schedule fields merged over the config's (e.g. probes every 5 steps instead of 10). */
  curvature: curvatureSchema.partial().optional(),
  /** Peak learning rates to try: every arm must list the same number (the equal budget). */
  lrs: z.array(z.number().positive()).min(1),
  /** The arm whose best mean final loss is the target the others race to (exactly one). */
  reference: z.boolean().optional(),
});

const planSchema = z
  .strictObject({
    name: z.string().regex(/^[\w.-]+$/, 'letters, digits, ".", "_" or "-"'),
    title: z.string().min(1),
    tuneSeeds: z.array(z.number().int().min(0)).min(1),
    finalSeeds: z.array(z.number().int().min(0)).min(1),
    /** Evaluation interval of every run (default: each config's own). */
    evalEvery: z.number().int().min(1).optional(),
    /**
     * The edge rule (summary.ts nextEdgeRate), applied alike to every arm after tuning: an arm whose
     * best rate is at the edge of what it tried gets the next rate beyond it, at most this many times
     * (default 0: the grid as listed).
     */
    extendEdges: z.number().int().min(0).optional(),
    /**
     * A second arm (by label) whose mean final loss is a second target: the final table then also gives
     * each arm's steps to it and their ratio to that arm's own (e.g. Muon, beside the AdamW reference).
     */
    secondTarget: z.string().min(1).optional(),
    arms: z.array(armSchema).min(1),
  })
  .superRefine((p, ctx) => {
    const n = p.arms[0].lrs.length;
    p.arms.forEach((a, i) => {
      if (a.lrs.length !== n)
        ctx.addIssue({
          code: 'custom',
          path: ['arms', i, 'lrs'],
          message: `every arm gets the same learning-rate budget: ${n} values, got ${a.lrs.length}`,
        });
    });
    const refs = p.arms.filter((a) => a.reference).length;
    if (refs !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['arms'],
        message: `exactly one arm needs "reference": true, got ${refs}`,
      });
    if (p.secondTarget !== undefined && !p.arms.some((a) => a.label === p.secondTarget))
      ctx.addIssue({
        code: 'custom',
        path: ['secondTarget'],
        message: `no arm is labelled ${JSON.stringify(p.secondTarget)}`,
      });
    const labels = new Set(p.arms.map((a) => a.label));
    if (labels.size !== p.arms.length)
      ctx.addIssue({ code: 'custom', path: ['arms'], message: 'arm labels must be distinct' });
  });

export type Arm = z.infer<typeof armSchema>;
export type Plan = z.infer<typeof planSchema>;

export function parsePlan(raw: unknown, source: string): Plan {
  const r = planSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${['plan', ...i.path].join('.')}: ${i.message}`);
    throw new Error(`${source}: invalid sweep plan\n${lines.join('\n')}`);
  }
  return r.data;
}

export function readPlan(path: string): Plan {
  return parsePlan(JSON.parse(readFileSync(path, 'utf8')) as unknown, path);
}

/** One training run of the sweep. */
export interface RunSpec {
  arm: string;
  lr: number;
  seed: number;
  config: RunConfig;
}

/**
 * The run config of one arm at one learning rate and seed: the schedule's floor keeps its ratio to the
 * peak (e.g. 10%), `steps` (when given) shortens a smoke run, and the result is validated like any config.
 */
export function runSpec(arm: Arm, lr: number, seed: number, steps?: number, evalEvery?: number): RunSpec {
  const base = readConfig(arm.config);
  const schedule = base.schedule && {
    ...base.schedule,
    ...(base.schedule.endValue !== undefined
      ? { endValue: (base.schedule.endValue / base.optimizer.lr) * lr }
      : {}),
    ...(steps !== undefined
      ? { warmupSteps: Math.min(base.schedule.warmupSteps, Math.floor(steps / 2)) }
      : {}),
  };
  const raw = {
    ...base,
    optimizer: { ...base.optimizer, ...arm.optimizer, lr },
    ...(arm.curvature ? { curvature: { ...base.curvature, ...arm.curvature } } : {}),
    ...(schedule ? { schedule } : {}),
    seed,
    ...(steps !== undefined ? { steps } : {}),
    evalEvery: Math.min(evalEvery ?? base.evalEvery, steps ?? base.steps),
  };
  return {
    arm: arm.label,
    lr,
    seed,
    config: validateConfig(raw, `${arm.config} (sweep: lr ${lr}, seed ${seed})`),
  };
}
