"""The official PSGD-Kron Newton (Hessian-fitting) steps on a small two-matrix problem, as a fixture for
test/optim/psgd-kron-official.test.ts.

    /usr/bin/python3 bench/reference/psgd_kron_newton_fixture.py --psgd DIR --out test/optim/fixtures/psgd-kron-newton.json

(psgd.py imports opt_einsum: `pip install --target DIR2 opt-einsum` and PYTHONPATH=DIR2 where it is missing.)

--psgd is a folder holding an unmodified psgd.py of lixilinx/psgd_torch (checked out of the mirror:
`git --git-dir=/work/.mirror/lixilinx+psgd_torch/repo show HEAD:psgd.py > DIR/psgd.py`); nothing of it
is copied here. It runs psgd.KronNewton.step itself on f(W1, W2) = sum_i 1/2 vec(Wi)^T H_i vec(Wi) - b_i^T
vec(Wi) (H_i SPD, not Kronecker-structured), W1 3x4, W2 5x2, with:

- dQ "EQ" (dQ = E*Q on triangular factors, the geometry our src/optim/psgd-fit.ts implements) and
  preconditioner_max_skew inf (every dimension a dense factor, as our planTensor gives here);
- the on-the-fly initial scale (preconditioner_init_scale None), lr_params 0.01 (the default),
  lr_preconditioner 0.1, betaL 0.9, no momentum, no clipping: KronNewton's defaults;
- the probe directions v given (torch.randn_like answers the class's draws of v with the fixture's v, in
  parameter order, and its damping draws with zeros, so the pair fed to the fit is exactly (v, H v)).

The gradient and H v come from the class's own autograd (float32). Written per step: the gradient, v, H v
(the class's), theta after the step, the preconditioned gradient (theta_before - theta_after)/lr, and the
Lipschitz estimates L of every factor. The fit's norm lower bound (norm_lower_bound_spd) draws a random
32-dim subspace; seeded here, so the fixture is reproducible.
"""
import argparse
import json
import os
import sys

import torch

SHAPES = [(3, 4), (5, 2)]
STEPS = 6


def spd(n, gen, cond):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    lam = cond ** (-torch.arange(n, dtype=torch.float64) / (n - 1))
    return (q * lam) @ q.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--psgd", required=True, help="folder holding the official psgd.py")
    ap.add_argument("--out", required=True, help="the fixture file to write")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.psgd))
    import psgd  # the official file, unmodified

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    H = [spd(m * n, gen, 100.0) for m, n in SHAPES]
    b = [torch.randn(m * n, generator=gen, dtype=torch.float64) for m, n in SHAPES]
    theta0 = [torch.randn(m, n, generator=gen, dtype=torch.float64) * 0.5 for m, n in SHAPES]
    vs = [[torch.randn(m, n, generator=gen, dtype=torch.float64).float() for m, n in SHAPES] for _ in range(STEPS)]
    Hf = [h.float() for h in H]
    bf = [x.float() for x in b]
    params = [torch.nn.Parameter(t.float().clone()) for t in theta0]

    def closure():
        return sum(0.5 * w.reshape(-1) @ (h @ w.reshape(-1)) - c @ w.reshape(-1) for w, h, c in zip(params, Hf, bf))

    opt = psgd.KronNewton(params, preconditioner_max_skew=float("inf"), dQ="EQ")
    real_randn_like = torch.randn_like
    record = []
    for k in range(STEPS):
        draws = {"n": 0}

        def randn_like(x, *a, **kw):
            i = draws["n"]
            draws["n"] += 1
            return vs[k][i].clone() if i < len(params) else torch.zeros_like(x)

        before = [p.detach().clone() for p in params]
        with torch.enable_grad():
            loss = closure()
            grads = torch.autograd.grad(loss, params, create_graph=True)
            hvs = torch.autograd.grad(grads, params, vs[k])
        torch.randn_like = randn_like
        try:
            opt.step(closure)
        finally:
            torch.randn_like = real_randn_like
        after = [p.detach().clone() for p in params]
        record.append({
            "grad": [g.detach().reshape(-1).tolist() for g in grads],
            "v": [v.reshape(-1).tolist() for v in vs[k]],
            "hv": [h.reshape(-1).tolist() for h in hvs],
            "theta": [a.reshape(-1).tolist() for a in after],
            "precondGrad": [((x - a) / opt.lr_params).reshape(-1).tolist() for x, a in zip(before, after)],
            "lipschitz": [[float(l) for l in ql[0][1]] for ql in opt._QLs_exprs],
        })
    with open(args.out, "w") as f:
        json.dump({
        "source": "lixilinx/psgd_torch psgd.py KronNewton(dQ='EQ', preconditioner_max_skew=inf), defaults otherwise",
        "torch": torch.__version__,
        "shapes": SHAPES,
        "lrParams": opt.lr_params,
        "lrPreconditioner": opt.lr_preconditioner,
        "betaL": opt.betaL,
        "damping": opt.damping,
        "theta0": [t.float().reshape(-1).tolist() for t in theta0],
        "steps": record,
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
