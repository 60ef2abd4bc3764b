"""What the PyTorch reference scripts (gpt_step.py, mlp_step.py) share: their command line and timing.

Standalone (`--rounds R --steps N`) a script prints one JSON line {"ms": [ms per step of each round],
"cpuMs": [process CPU ms per step of each round],
"torch": version, "sgemmGflops": ...}. Under `--serve CMD RES` it answers requests instead:

`npm run bench` interleaves PyTorch's rounds with its own: it writes "run N" lines to the named pipe CMD
and reads one JSON line per command from the pipe RES ({"ms": wall ms per step of those N steps,
"cpuMs": process CPU ms per step, all threads: on a loaded machine it leaves out waiting for a core,
as the CPU column of our own rows does}). "sgemm"
answers {"sgemmGflops": float32 matmul GFLOP/s at n = 512}, which says which BLAS torch found. The loop
ends when CMD is closed.
"""
import argparse
import json
import time

import torch


def sgemm_gflops():
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    a @ b
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    return 2 * 512**3 * 10 / (time.perf_counter() - t0) / 1e9


def serve(step, cmd_path, res_path):
    with open(cmd_path, "r") as cmd, open(res_path, "w") as res:
        for line in cmd:
            words = line.split()
            if words[:1] == ["run"]:
                n = int(words[1])
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(n):
                    step()
                reply = {
                    "ms": 1000 * (time.perf_counter() - t0) / n,
                    "cpuMs": 1000 * (time.process_time() - c0) / n,
                }
            elif words[:1] == ["sgemm"]:
                reply = {"sgemmGflops": sgemm_gflops()}
            else:
                reply = {"error": f"unknown command {line.strip()!r}"}
            res.write(json.dumps(reply) + "\n")
            res.flush()


def run(step, default_steps):
    """The main of a reference script: `step()` is one training step."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=default_steps)
    ap.add_argument("--serve", nargs=2, metavar=("CMD", "RES"), help="answer run commands on these pipes")
    args = ap.parse_args()
    if args.serve:
        serve(step, *args.serve)
        return
    for _ in range(args.steps):  # warm-up round
        step()
    ms, cpu_ms = [], []
    for _ in range(args.rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step()
        ms.append(1000 * (time.perf_counter() - t0) / args.steps)
        cpu_ms.append(1000 * (time.process_time() - c0) / args.steps)
    print(json.dumps({"ms": ms, "cpuMs": cpu_ms, "torch": torch.__version__, "sgemmGflops": sgemm_gflops()}))
