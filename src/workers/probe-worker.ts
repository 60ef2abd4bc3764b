/**
 * piscina entry point of the probe worker: one curvature estimate (GNB, Hutchinson or an hvp-pair) on the private
 * θ snapshot it was sent and the whole batch, exactly `estimateCurvature` of the synchronous loop.
 * With `gpu` other than 'cpu' the worker holds the process's one GPU device (src/gpu/host/probe-host.ts):
 * the probes it supports run there, the rest (and all after a device failure) on the CPU, and the
 * reply says which backend computed the estimate. The task's fields arrive as a msgpack head beside
 * its transferred arrays; the reply likewise.
 */
import { GpuProbeHost } from '../gpu/host/probe-host.js';
import { NonFiniteError } from '../tensor/errors.js';
import {
  type CurvatureEstimate,
  estimateCurvature,
  estimateFinite,
  resolveCurvature,
} from '../step/curvature-schedule.js';
import { Errors } from './errors.js';
import { checkFailureHook } from './failure-hook.js';
import {
  type ProbeHead,
  type ProbeReply,
  type ProbeReplyHead,
  type ProbeWire,
  decodeHead,
  encodeHead,
  serializeError,
} from './protocol.js';
import { withTransfer } from './transfer.js';
import { getWorkerModel, workerInit } from './worker-context.js';

// One device per process, opened lazily by the first probe; null keeps the CPU path exactly as it was.
const gpu =
  workerInit.gpu !== undefined && workerInit.gpu !== 'cpu'
    ? new GpuProbeHost({
        preference: workerInit.gpu,
        ...(workerInit.gpuFailOn ? { failOn: workerInit.gpuFailOn } : {}),
      })
    : null;

function reply(
  head: ProbeReplyHead,
  diag: Float32Array,
  grad?: Float32Array,
  pair?: CurvatureEstimate['pair'],
): ProbeReply {
  const r: ProbeReply = { head: encodeHead(head), diag };
  if (grad) r.grad = grad;
  if (pair) [r.v, r.hv] = [pair.v, pair.hv];
  const buffers = [diag, grad, pair?.v, pair?.hv].flatMap((a) => (a ? [a.buffer] : []));
  return withTransfer(r, buffers);
}

export default async function probeTask(wire: ProbeWire): Promise<ProbeReply> {
  const req = decodeHead<ProbeHead>(wire.head);
  if (req.kind !== 'probe') throw Errors.UnknownTask(req.kind);
  checkFailureHook(workerInit.failOn, req.step, req.attempt);
  const empty = new Float32Array(0);
  try {
    const model = await getWorkerModel();
    if (wire.params.length !== model.layout.size)
      throw Errors.LayoutMismatch(model.layout.size, wire.params.length);
    const c = resolveCurvature({ estimator: req.estimator, probes: req.probes, every: 1, first: 0 });
    const batch = {
      inputs: wire.inputs,
      inputShape: req.inputShape,
      targets: wire.targets,
      targetShape: req.targetShape,
    };
    let e: CurvatureEstimate;
    let head: ProbeReplyHead = { step: req.step, nonFinite: false, error: null };
    // The estimate's own computation, from the model in hand to the diagonal: no queueing, no transfer.
    const started = performance.now();
    if (gpu) {
      const h = await gpu.estimate(c, model, wire.params, batch, req.seed, req.step);
      e = h.estimate;
      head = {
        ...head,
        backend: h.backend,
        ...(h.notes.length > 0 ? { notes: h.notes } : {}),
        seconds: (performance.now() - started) / 1000,
      };
      // The CPU ops raise NonFiniteError on NaN/Inf; a device estimate is checked here instead, so the
      // coordinator drops it exactly as it drops a non-finite CPU estimate.
      if (!estimateFinite(e)) return reply({ ...head, nonFinite: true }, new Float32Array(0));
    } else {
      e = estimateCurvature(c, model, wire.params, batch, req.seed, req.step);
      head = { ...head, seconds: (performance.now() - started) / 1000 };
    }
    if (e.grad && e.loss !== undefined) return reply({ ...head, loss: e.loss }, e.diag, e.grad);
    return reply(head, e.diag, undefined, e.pair);
  } catch (e) {
    if (e instanceof NonFiniteError) return reply({ step: req.step, nonFinite: true, error: null }, empty);
    return reply({ step: req.step, nonFinite: false, error: serializeError(e) }, empty);
  }
}
