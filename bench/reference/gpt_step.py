"""PyTorch step time of the reference char-GPT, for the gpt suite of `npm run bench` (bench/suites/gpt.ts).

The same model and step as config/gpt-reference-adamw.json: 2 layers, 4 heads, n_embd 64, block 64,
batch 32, tied embeddings, pre-LayerNorm blocks with a 4x GELU (tanh) MLP, biases, no dropout; AdamW
beta (0.9, 0.95), weight decay 0.1 on linear weights only, gradient clipping at global norm 1.0, one
thread. Tokens are drawn from a fixed random corpus of the same vocabulary (89 characters): the data
does not change the arithmetic of a step. Prints one JSON line (harness.py): {"ms": [...], "cpuMs": [...],
"torch", "threads", "blas" (library and OpenBLAS kernel), "env", "sgemmGflops" (median float32 matmul
GFLOP/s at n = 512), "sgemmRuns", "loadavg"} -- sgemm says which BLAS torch found and how fast it runs
now: about 4 with Debian's reference BLAS, 50-90 with OpenBLAS on a quiet core (apt install
libopenblas0-pthread); below 45, or with a load average above 0.5, the bench marks a row not comparable.

Run: python3 bench/reference/gpt_step.py --rounds 5 --steps 10
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from harness import run


class Block(nn.Module):
    def __init__(self, c, heads, block):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)
        self.register_buffer("mask", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def attention(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :t, :t] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, block, layers, heads, c):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(block, c)
        self.blocks = nn.ModuleList([Block(c, heads, block) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.register_buffer("pos", torch.arange(block))

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(self.pos[:t])
        for blk in self.blocks:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied output head
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def build_step():
    """The model, optimizer and data of the step; returns the step function."""
    torch.set_num_threads(1)
    torch.manual_seed(1)
    vocab, block, batch = 89, 64, 32
    model = Gpt(vocab, block, 2, 4, 64)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "wte" not in n and "wpe" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
        lr=1.6e-2,
        betas=(0.9, 0.95),
    )
    corpus = torch.randint(0, vocab, (200_000,))

    def step():
        starts = torch.randint(0, corpus.numel() - block - 1, (batch,))
        x = torch.stack([corpus[s : s + block] for s in starts])
        y = torch.stack([corpus[s + 1 : s + 1 + block] for s in starts])
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    return step


if __name__ == "__main__":
    run(build_step(), default_steps=10)
