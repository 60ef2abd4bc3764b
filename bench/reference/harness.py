"""What the PyTorch reference scripts (gpt_step.py, mlp_step.py) share: their command line and timing.

Standalone (`--rounds R --steps N`) a script prints one JSON line {"ms": [ms per step of each round],
"cpuMs": [process CPU ms per step of each round],
"torch": version, "sgemmGflops": ...}. Under `--serve CMD RES` it answers requests instead:

`npm run bench` interleaves PyTorch's rounds with its own: it writes "run N" lines to the named pipe CMD
and reads one JSON line per command from the pipe RES ({"ms": wall ms per step of those N steps,
"cpuMs": process CPU ms per step, all threads: on a loaded machine it leaves out waiting for a core,
as the CPU column of our own rows does}). "sgemm"
answers {"sgemmGflops": the median float32 matmul GFLOP/s at n = 512 over SGEMM_REPEATS timings,
"sgemmRuns": each of them}, which says which BLAS torch found and how fast it runs now. "config" answers
{"torch", "threads", "blas": {library, kernel (OpenBLAS's core name), config, threads, source},
"env": the OPENBLAS_* variables this process sees, "buildBlas": the BLAS lines of
torch.__config__.show()}. "load" answers {"loadavg": [1, 5, 15 min]}. The loop ends when CMD is closed.

The benchmark starts this process with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (either one can put
OpenBLAS on a slow generic kernel) and records what "config" reports beside every PyTorch row.
"""
import argparse
import ctypes
import json
import os
import statistics
import time

import torch

SGEMM_N = 512
SGEMM_REPEATS = 21  # timings, each of SGEMM_CALLS products; the median is reported
SGEMM_CALLS = 5


def sgemm():
    """Float32 matmul GFLOP/s at n = 512: the median of SGEMM_REPEATS timings, and each of them."""
    a, b = torch.randn(SGEMM_N, SGEMM_N), torch.randn(SGEMM_N, SGEMM_N)
    for _ in range(3):
        a @ b
    runs = []
    for _ in range(SGEMM_REPEATS):
        t0 = time.perf_counter()
        for _ in range(SGEMM_CALLS):
            a @ b
        runs.append(2 * SGEMM_N**3 * SGEMM_CALLS / (time.perf_counter() - t0) / 1e9)
    return {"sgemmGflops": statistics.median(runs), "sgemmRuns": runs}


def sgemm_gflops():
    return sgemm()["sgemmGflops"]


def _loaded_blas_paths():
    """Shared libraries mapped into this process that look like a BLAS."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if ("blas" in name or "mkl" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def blas_info():
    """Which BLAS torch runs on and which kernel it chose: threadpoolctl when installed, else OpenBLAS's
    own openblas_get_corename/openblas_get_config through ctypes on the mapped library."""
    info = {"library": None, "kernel": None, "config": None, "threads": None, "source": None}
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                info.update(
                    library=pool.get("filepath"),
                    kernel=pool.get("architecture"),
                    config=f"{pool.get('internal_api')} {pool.get('version')}",
                    threads=pool.get("num_threads"),
                    source="threadpoolctl",
                )
                return info
    except Exception:  # threadpoolctl absent or failing: fall back to asking OpenBLAS
        pass
    for path in _loaded_blas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        info["library"] = os.path.realpath(path)
        info["source"] = "/proc/self/maps + ctypes"
        for field, symbol in (("kernel", "openblas_get_corename"), ("config", "openblas_get_config")):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                info[field] = fn().decode()
        fn = getattr(lib, "openblas_get_num_threads", None)
        if fn is not None:
            info["threads"] = fn()
        if info["kernel"] or info["config"]:
            break
    return info


def config():
    show = torch.__config__.show()
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_info(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS") or k in ("OMP_NUM_THREADS",)},
        "buildBlas": [line.strip() for line in show.splitlines() if "BLAS" in line.upper()],
    }


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
                reply = sgemm()
            elif words[:1] == ["config"]:
                reply = config()
            elif words[:1] == ["load"]:
                reply = {"loadavg": list(os.getloadavg())}
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
    print(json.dumps({"ms": ms, "cpuMs": cpu_ms, **config(), **sgemm(), "loadavg": list(os.getloadavg())}))
