"""The official Muon (KellerJordan/Muon's muon.py, SingleDeviceMuonWithAuxAdam) training the reference
char-GPT on exactly our data, from exactly our initial weights (bench/reference/muon-official-export.ts
writes them), for bench/muon-official.ts.

    /usr/bin/python3 bench/reference/muon_official.py --data DIR --muon DIR [--ns bf16|fp32] [--eval-every 50]

--muon is a folder holding an unmodified muon.py from the official repository (the driver checks it out of
the mirror into a temp folder); nothing of it is copied here. The model is gpt_step.py's Gpt (the same
architecture as our src/nn/models/gpt.ts). Param groups as our catalog's Muon: hidden matrices (role
`matrix`) -> Muon (lr, momentum, weight decay of the config; the official update is always Nesterov),
embeddings (the tied head) and vectors -> the class's auxiliary Adam (adamLr, betas, eps, weight decay).
Every step: loss, backward, torch.nn.utils.clip_grad_norm_ at the config's clip, both groups' rates set to
peak * lr_factor[step] (our schedule, exported), step. Evaluates the fixed held-out batches every
--eval-every steps and at the end.

--ns bf16 (default) runs the official Newton-Schulz as written (bfloat16). --ns fp32 swaps in the same
quintic iteration in float32 (muon_check.py's zeropower_via_newtonschulz5_f32: the official function with
G.float() for G.bfloat16()) to tell bfloat16's rounding apart from any other difference.

Before training it checks step 0 against ours: the loss and gradient of batch 0 at theta0, and theta after
one and two official steps against our theta1/theta2. Prints one JSON line:
{"ns", "torch", "threads", "check": {...}, "evals": [{"step", "loss"}], "final", "seconds"}.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt_step import Gpt  # noqa: E402
from muon_check import zeropower_via_newtonschulz5_f32  # noqa: E402


def read(path, dtype, shape=None):
    a = np.fromfile(path, dtype=dtype)
    return a if shape is None else a.reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--muon", required=True, help="folder holding the official muon.py")
    ap.add_argument("--ns", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--steps", type=int, default=None, help="at most the exported steps")
    args = ap.parse_args()

    torch.set_num_threads(1)
    sys.path.insert(0, os.path.abspath(args.muon))
    import muon  # the official file, unmodified

    if args.ns == "fp32":
        muon.zeropower_via_newtonschulz5 = zeropower_via_newtonschulz5_f32

    d = args.data
    man = json.load(open(os.path.join(d, "manifest.json")))
    cfg, spec = man["config"], man["model"]
    steps = man["steps"] if args.steps is None else min(args.steps, man["steps"])
    B, T = man["batch"], spec["blockSize"]
    if not spec.get("tied", True):
        raise SystemExit("muon_official.py: the reference module has a tied head only")

    model = Gpt(spec["vocabSize"], T, spec["nLayer"], spec["nHead"], spec["nEmbd"])
    named = dict(model.named_parameters())
    tensors = man["tensors"]
    if sorted(t["torchName"] for t in tensors) != sorted(named):
        raise SystemExit(f"muon_official.py: parameter names differ: ours {[t['torchName'] for t in tensors]}, module {sorted(named)}")

    def load(flat):
        with torch.no_grad():
            for t in tensors:
                named[t["torchName"]].copy_(torch.from_numpy(flat[t["offset"] : t["offset"] + t["size"]].reshape(t["shape"])))

    def flatten(per_name):
        out = np.zeros(sum(t["size"] for t in tensors), dtype=np.float32)
        for t in tensors:
            out[t["offset"] : t["offset"] + t["size"]] = per_name(t["torchName"]).detach().reshape(-1).numpy()
        return out

    theta0 = read(os.path.join(d, "theta0.f32"), np.float32)
    load(theta0)
    tx = torch.from_numpy(read(os.path.join(d, "train_x.i32"), np.int32, (-1, B, T)).astype(np.int64))
    ty = torch.from_numpy(read(os.path.join(d, "train_y.i32"), np.int32, (-1, B, T)).astype(np.int64))
    ex = torch.from_numpy(read(os.path.join(d, "eval_x.i32"), np.int32, (-1, B, T)).astype(np.int64))
    ey = torch.from_numpy(read(os.path.join(d, "eval_y.i32"), np.int32, (-1, B, T)).astype(np.int64))
    factor = read(os.path.join(d, "lr_factor.f64"), np.float64)

    o = cfg["optimizer"]
    by_role = lambda roles: [named[t["torchName"]] for t in tensors if t["role"] in roles]  # noqa: E731
    muon_group = dict(params=by_role({"matrix"}), lr=o["lr"], momentum=o.get("momentum", 0.95),
                      weight_decay=o.get("weightDecay", 0), use_muon=True)
    adam_group = dict(params=by_role({"embedding", "head", "vector"}), lr=o.get("adamLr", 3e-4),
                      betas=(o.get("adamB1", 0.9), o.get("adamB2", 0.95)), eps=o.get("adamEps", 1e-10),
                      weight_decay=o.get("adamWeightDecay", 0), use_muon=False)
    if not o.get("nesterov", True) or o.get("nsSteps", 5) != 5:
        raise SystemExit("muon_official.py: the official class runs Nesterov with 5 Newton-Schulz steps only")
    peaks = [muon_group["lr"], adam_group["lr"]]
    opt = muon.SingleDeviceMuonWithAuxAdam([muon_group, adam_group])
    clip = cfg.get("clip")

    def evaluate():
        with torch.no_grad():
            return float(np.mean([model(ex[i], ey[i]).item() for i in range(ex.shape[0])]))

    def step(k):
        loss = model(tx[k], ty[k])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = flatten(lambda n: named[n].grad) if k == 0 else None
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for g, peak in zip(opt.param_groups, peaks):
            g["lr"] = peak * factor[k]
        opt.step()
        return loss.item(), grad

    check = {"eval0": evaluate(), "ourEval0": man["eval0"], "ourLoss0": man["loss0"]}
    started = time.perf_counter()
    evals = []
    for k in range(steps):
        loss, grad = step(k)
        if k == 0:
            g0 = read(os.path.join(d, "grad0.f32"), np.float32)
            check.update(loss0=loss, gradMaxAbsDiff=float(np.abs(grad - g0).max()), gradMaxAbs=float(np.abs(g0).max()))
        if k in (0, 1):
            ours = read(os.path.join(d, f"theta{k + 1}.f32"), np.float32)
            p = flatten(lambda n: named[n])
            prev = theta0 if k == 0 else read(os.path.join(d, "theta1.f32"), np.float32)
            for role in ("matrix", "other"):
                idx = np.concatenate([np.arange(t["offset"], t["offset"] + t["size"]) for t in tensors
                                      if (t["role"] == "matrix") == (role == "matrix")])
                check[f"step{k + 1}_{role}"] = {
                    "maxAbsDiff": float(np.abs(p[idx] - ours[idx]).max()),
                    "maxAbsStep": float(np.abs(ours[idx] - prev[idx]).max()),
                }
        if not math.isfinite(loss):
            break
        if (k + 1) % args.eval_every == 0 or k + 1 == steps:
            evals.append({"step": k + 1, "loss": evaluate()})
    print(json.dumps({
        "ns": args.ns, "torch": torch.__version__, "threads": torch.get_num_threads(), "check": check,
        "evals": evals, "final": evals[-1]["loss"] if evals else None,
        "seconds": time.perf_counter() - started,
    }))


if __name__ == "__main__":
    main()
