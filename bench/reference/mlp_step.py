"""PyTorch step time of the MLP 784-256-256-10 (tanh) Adam step, for the tfjs suite of `npm run bench`.

The same work as that suite's other rows: loss (softmax cross-entropy), gradient, Adam update (lr 1e-3,
no weight decay) and parameter write, at batch 128 in float32 on fixed random data, one thread. Prints
one JSON line: {"ms": [...], "torch": version, "sgemmGflops": float32 matmul GFLOP/s at n = 512}.

Run: python3 bench/reference/mlp_step.py --rounds 7 --steps 20
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from harness import run


def build_step():
    """The model, optimizer and data of the step; returns the step function."""
    torch.set_num_threads(1)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(128, 784)
    y = torch.randint(0, 10, (128,))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


if __name__ == "__main__":
    run(build_step(), default_steps=20)
