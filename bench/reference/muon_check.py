"""Compares hessflow's `muon` with the official Muon semantics in PyTorch on the same inputs.

Input: a JSON case {options, layout, params, grads: [g0, g1, ...], final} as written by
`npx tsx bench/muon-step.ts --dump case.json` or test/optim/muon-torch.test.ts: `final` is what hessflow's
muon(options) produced from `params` after one update per gradient.

This script runs KellerJordan/Muon's SingleDeviceMuonWithAuxAdam step, re-implemented line for line
from muon.py (zeropower_via_newtonschulz5, muon_update, adam_update and the step loop) with one change:
Newton-Schulz in float32 instead of bfloat16, as hessflow does. With `--official muon.py` it also runs
the official class itself from that file (bfloat16 Newton-Schulz; e.g. `git show HEAD:muon.py` of the
fetched repository) to show what the bfloat16 rounding alone changes.

Prints one JSON line: {"torch": version, "steps": n, "float32": {...}, "official_bf16": {...}?} where
each entry has maxRelUpdateDiff = max|Δ_ours - Δ_torch| / max|Δ_torch| over all coordinates (Δ = final
params - initial params) and maxAbsParamDiff = max|p_ours - p_torch|.
"""
import argparse
import importlib.util
import json

import torch


def zeropower_via_newtonschulz5_f32(G, steps):
    # muon.py's function with G.float() where the official has G.bfloat16().
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.float()
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(-2) > G.size(-1):
        X = X.mT
    return X


def muon_update(grad, momentum, beta, ns_steps, nesterov):
    momentum.lerp_(grad, 1 - beta)
    update = grad.lerp_(momentum, beta) if nesterov else momentum
    update = zeropower_via_newtonschulz5_f32(update, steps=ns_steps)
    update *= max(1, grad.size(-2) / grad.size(-1)) ** 0.5
    return update


def adam_update(grad, buf1, buf2, step, betas, eps):
    buf1.lerp_(grad, 1 - betas[0])
    buf2.lerp_(grad.square(), 1 - betas[1])
    buf1c = buf1 / (1 - betas[0] ** step)
    buf2c = buf2 / (1 - betas[1] ** step)
    return buf1c / (buf2c.sqrt() + eps)


def options_of(case):
    o = case["options"]
    return dict(
        lr=o.get("lr", 0.02),
        momentum=o.get("momentum", 0.95),
        nesterov=o.get("nesterov", True),
        ns_steps=o.get("nsSteps", 5),
        weight_decay=o.get("weightDecay", 0),
        adam_lr=o.get("adamLr", 3e-4),
        betas=(o.get("adamB1", 0.9), o.get("adamB2", 0.95)),
        eps=o.get("adamEps", 1e-10),
        adam_weight_decay=o.get("adamWeightDecay", 0),
    )


def tensors_of(case, flat):
    return [flat[s["offset"] : s["offset"] + s["size"]].view(*s["shape"]).clone() for s in case["layout"]]


def run_reimplementation(case):
    o = options_of(case)
    flat = torch.tensor(case["params"], dtype=torch.float32)
    params = tensors_of(case, flat)
    is_muon = [s["role"] == "matrix" for s in case["layout"]]
    state = [{} for _ in params]
    for g_list in case["grads"]:
        grads = tensors_of(case, torch.tensor(g_list, dtype=torch.float32))
        for p, g, st, use_muon in zip(params, grads, state, is_muon):
            if use_muon:
                if not st:
                    st["momentum_buffer"] = torch.zeros_like(p)
                update = muon_update(g, st["momentum_buffer"], o["momentum"], o["ns_steps"], o["nesterov"])
                p.mul_(1 - o["lr"] * o["weight_decay"])
                p.add_(update.reshape(p.shape), alpha=-o["lr"])
            else:
                if not st:
                    st["exp_avg"], st["exp_avg_sq"], st["step"] = torch.zeros_like(p), torch.zeros_like(p), 0
                st["step"] += 1
                update = adam_update(g, st["exp_avg"], st["exp_avg_sq"], st["step"], o["betas"], o["eps"])
                p.mul_(1 - o["adam_lr"] * o["adam_weight_decay"])
                p.add_(update, alpha=-o["adam_lr"])
    return params


def run_official(case, path):
    spec = importlib.util.spec_from_file_location("official_muon", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    o = options_of(case)
    if o["ns_steps"] != 5 or not o["nesterov"]:
        raise SystemExit("the official class fixes nsSteps 5 and nesterov true")
    flat = torch.tensor(case["params"], dtype=torch.float32)
    params = [torch.nn.Parameter(t) for t in tensors_of(case, flat)]
    is_muon = [s["role"] == "matrix" for s in case["layout"]]
    groups = []
    if any(is_muon):
        muon_params = [p for p, m in zip(params, is_muon) if m]
        groups.append(dict(params=muon_params, lr=o["lr"], momentum=o["momentum"],
                           weight_decay=o["weight_decay"], use_muon=True))
    if not all(is_muon):
        adam_params = [p for p, m in zip(params, is_muon) if not m]
        groups.append(dict(params=adam_params, lr=o["adam_lr"], betas=o["betas"], eps=o["eps"],
                           weight_decay=o["adam_weight_decay"], use_muon=False))
    opt = module.SingleDeviceMuonWithAuxAdam(groups)
    for g_list in case["grads"]:
        for p, g in zip(params, tensors_of(case, torch.tensor(g_list, dtype=torch.float32))):
            p.grad = g
        opt.step()
    return [p.detach() for p in params]


def compare(case, params):
    torch_final = torch.cat([p.reshape(-1) for p in params]).double()
    # Params in layout order; scatter back to flat offsets.
    flat = torch.tensor(case["params"], dtype=torch.float64).clone()
    at = 0
    for s in case["layout"]:
        flat[s["offset"] : s["offset"] + s["size"]] = torch_final[at : at + s["size"]]
        at += s["size"]
    p0 = torch.tensor(case["params"], dtype=torch.float64)
    ours = torch.tensor(case["final"], dtype=torch.float64)
    d_torch, d_ours = flat - p0, ours - p0
    return {
        "maxRelUpdateDiff": ((d_ours - d_torch).abs().max() / d_torch.abs().max()).item(),
        "maxAbsParamDiff": (ours - flat).abs().max().item(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case", help="JSON case file")
    parser.add_argument("--official", help="path of the official muon.py to run as well (bfloat16)")
    args = parser.parse_args()
    with open(args.case) as f:
        case = json.load(f)
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "steps": len(case["grads"]),
           "float32": compare(case, run_reimplementation(case))}
    if args.official:
        out["official_bf16"] = compare(case, run_official(case, args.official))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
