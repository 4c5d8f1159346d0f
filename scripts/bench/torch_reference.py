"""The reference model of `onerec bench train`, in PyTorch, for a same-run speed comparison.

Mirrors Sources/Models/Seq2Seq.swift: T5-style encoder-decoder, pre-norm RMSNorm blocks, fused qkv,
scaled dot-product attention with a learned relative position bias shared across layers, dense GELU
feed-forwards in the encoder, top-k mixture-of-GELU-experts feed-forwards in the decoder (softmax over
the chosen logits, Switch balance loss), untied output head, AdamW. With --architecture lazy, V2's lazy
decoder-only model instead: no encoder; each history item (3 code tokens and a separator) is the sum of
its codes' embeddings and a position embedding, RMS-normed, one key/value projection of it is shared
by every decoder layer, every decoder token adds the newest history item, and the cross-attention adds a
learned per-head bias by how far back each history item is. Prints "result <train s/step> <beam s/request>" last. Run with Debian's python3
and python3-torch; onerec sets OPENBLAS_CORETYPE.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--architecture", choices=["encoder-decoder", "lazy"], default="encoder-decoder")
p.add_argument("--steps", type=int, default=8)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--encoder-length", type=int, default=152)
p.add_argument("--decoder-length", type=int, default=30)
p.add_argument("--beam", type=int, default=16)
p.add_argument("--requests", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(1)

LAZY = args.architecture == "lazy"
V, D, H, L_ENC, L_DEC, FF, E, K = 776, 128, 4, 0 if LAZY else 2, 2, 512, 4, 2
BUCKETS, MAX_DIST = 32, 128
LEVELS, ITEMS = 3, args.encoder_length // 4


def buckets(tq, tk, offset, bidirectional, max_dist=MAX_DIST):
    rel = torch.arange(tk)[None, :] - (torch.arange(tq)[:, None] + offset)
    n = BUCKETS
    out = torch.zeros_like(rel)
    if bidirectional:
        n //= 2
        out += (rel > 0).long() * n
        rel = rel.abs()
    else:
        rel = (-rel).clamp(min=0)
    exact = n // 2
    large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(max_dist / exact) * (n - exact)).long()
    large = large.clamp(max=n - 1)
    return out + torch.where(rel < exact, rel, large)


class RMSNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(D))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.w


CAUSAL = {}


def causal_mask(tq, tk):
    if (tq, tk) not in CAUSAL:
        CAUSAL[(tq, tk)] = torch.ones(tq, tk, dtype=torch.bool).triu(tk - tq + 1)
    return CAUSAL[(tq, tk)]


def attend(q, k, v, bias=None, key_mask=None, causal=False):
    b, tq, _ = q.shape
    tk = k.shape[1]
    q = (q * (1 / math.sqrt(D // H))).view(b, tq, H, D // H).transpose(1, 2)
    k = k.view(b, tk, H, D // H).transpose(1, 2)
    v = v.view(b, tk, H, D // H).transpose(1, 2)
    s = q @ k.transpose(-1, -2)
    if bias is not None:
        s += bias
    if causal:
        s.masked_fill_(causal_mask(tq, tk), float("-inf"))
    if key_mask is not None:
        s.masked_fill_(~key_mask[:, None, None, :], float("-inf"))
    return (s.softmax(-1) @ v).transpose(1, 2).reshape(b, tq, D)


class MoE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.router = torch.nn.Linear(D, E, bias=False)
        self.w1 = torch.nn.Parameter(torch.randn(E, FF, D) / math.sqrt(D))
        self.w2 = torch.nn.Parameter(torch.randn(E, D, FF) / math.sqrt(FF))

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, D)
        logits = self.router(x)
        top, idx = logits.topk(K, dim=-1)
        gates = top.softmax(-1)
        out = torch.zeros_like(x)
        load = torch.zeros(E)
        for e in range(E):
            token, slot = (idx == e).nonzero(as_tuple=True)
            load[e] = token.numel()
            if token.numel() == 0:
                continue
            h = F.gelu(x[token] @ self.w1[e].t(), approximate="tanh") @ self.w2[e].t()
            out.index_add_(0, token, h * gates[token, slot][:, None])
        balance = E * (load / load.sum() * logits.softmax(-1).mean(0)).sum()
        return out.view(shape), balance


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, D)
        self.enc_bias = torch.nn.Embedding(BUCKETS, H)
        self.dec_bias = torch.nn.Embedding(BUCKETS, H)
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.enc = torch.nn.ModuleList([torch.nn.ModuleDict(dict(
            n1=RMSNorm(), qkv=lin(D, 3 * D), o=lin(D, D), n2=RMSNorm(), w1=lin(D, FF), w2=lin(FF, D))) for _ in range(L_ENC)])
        self.enc_norm = RMSNorm()
        per_layer_kv = {} if LAZY else dict(kv=lin(D, 2 * D))
        self.dec = torch.nn.ModuleList([torch.nn.ModuleDict(dict(
            n1=RMSNorm(), qkv=lin(D, 3 * D), o=lin(D, D), n2=RMSNorm(), q=lin(D, D), co=lin(D, D),
            n3=RMSNorm(), moe=MoE(), **per_layer_kv)) for _ in range(L_DEC)])
        self.dec_norm = RMSNorm()
        self.head = lin(D, V)
        if LAZY:
            self.positions = torch.nn.Embedding(ITEMS, D)
            self.context_kv = lin(D, 2 * D)
            self.recency = torch.nn.Embedding(BUCKETS, H)

    def encode(self, tokens, mask):
        if LAZY:  # one position per item: the sum of its codes' embeddings and its position's
            b, t = tokens.shape
            codes = tokens.view(b, t // (LEVELS + 1), LEVELS + 1)[:, :, :LEVELS]
            x = self.embedding(codes).sum(2) + self.positions.weight[ITEMS - t // (LEVELS + 1):]
            return self.enc_norm(x), mask.view(b, t // (LEVELS + 1), LEVELS + 1)[:, :, 0]
        x = self.embedding(tokens)
        t = tokens.shape[1]
        bias = self.enc_bias(buckets(t, t, 0, True)).permute(2, 0, 1)
        for l in self.enc:
            q, k, v = l["qkv"](l["n1"](x)).split(D, -1)
            x = x + l["o"](attend(q, k, v, bias, mask))
            x = x + l["w2"](F.gelu(l["w1"](l["n2"](x)), approximate="tanh"))
        return self.enc_norm(x), mask

    def recency_bias(self, tk):
        """(H, 1, Tk): the cross-attention's bias by how far back each context item is from the newest."""
        return self.recency(buckets(1, tk, tk - 1, False, ITEMS)).permute(2, 0, 1) if LAZY else None

    def keys_values(self, memory):
        if LAZY:
            shared = self.context_kv(memory).split(D, -1)
            return [shared for _ in self.dec]
        return [l["kv"](memory).split(D, -1) for l in self.dec]

    def decode(self, memory, mask, inputs):
        x = self.embedding(inputs)
        if LAZY:  # every token adds the newest history item
            x = x + memory[:, -1:]
        t = inputs.shape[1]
        bias = self.dec_bias(buckets(t, t, 0, False)).permute(2, 0, 1)
        balance = 0
        recency = self.recency_bias(memory.shape[1])
        for l, (ck, cv) in zip(self.dec, self.keys_values(memory)):
            q, k, v = l["qkv"](l["n1"](x)).split(D, -1)
            x = x + l["o"](attend(q, k, v, bias, causal=True))
            x = x + l["co"](attend(l["q"](l["n2"](x)), ck, cv, recency, key_mask=mask))
            y, b = l["moe"](l["n3"](x))
            x = x + y
            balance = balance + b
        return self.head(self.dec_norm(x)), balance

    @torch.no_grad()
    def beam_search(self, tokens, beam, steps):
        memory, _ = self.encode(tokens, torch.ones(1, tokens.shape[1], dtype=torch.bool))
        cross = self.keys_values(memory)
        recency = self.recency_bias(memory.shape[1])
        cache = [[torch.zeros(beam, 0, D), torch.zeros(beam, 0, D)] for _ in self.dec]
        scores = torch.zeros(beam)
        seqs = torch.zeros(beam, 0, dtype=torch.long)
        inp = torch.ones(beam, 1, dtype=torch.long)
        for step in range(steps):
            x = self.embedding(inp) + (memory[:, -1:] if LAZY else 0)
            bias = self.dec_bias(buckets(1, step + 1, step, False)).permute(2, 0, 1)
            for i, l in enumerate(self.dec):
                q, k, v = l["qkv"](l["n1"](x)).split(D, -1)
                cache[i][0] = torch.cat([cache[i][0], k], 1)
                cache[i][1] = torch.cat([cache[i][1], v], 1)
                x = x + l["o"](attend(q, cache[i][0], cache[i][1], bias))
                ck, cv = cross[i]
                cq = l["q"](l["n2"](x)).view(1, beam, D)
                x = x + l["co"](attend(cq, ck, cv, recency)).view(beam, 1, D)
                x = x + l["moe"](l["n3"](x))[0]
            logp = self.head(self.dec_norm(x))[:, 0].log_softmax(-1)
            cand = (scores[:, None] + logp)
            if step == 0:
                cand = cand[:1]
            top, flat = cand.reshape(-1).topk(beam)
            parent, token = flat // V, flat % V
            scores = top
            seqs = torch.cat([seqs[parent], token[:, None]], 1)
            for c in cache:
                c[0], c[1] = c[0][parent], c[1][parent]
            inp = token[:, None]
        return seqs, scores


model = Model()
decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-4, foreach=True)
g = torch.Generator().manual_seed(42)
enc = torch.randint(0, V, (args.batch, args.encoder_length), generator=g)
if LAZY:  # items of three codes (tokens 3...) and a separator
    enc = torch.randint(3, V, (args.batch, args.encoder_length), generator=g)
    enc[:, LEVELS::LEVELS + 1] = 2
tgt = torch.randint(0, V, (args.batch, args.decoder_length), generator=g)
inp = torch.cat([torch.ones(args.batch, 1, dtype=torch.long), tgt[:, :-1]], 1)
mask = torch.ones(args.batch, args.encoder_length, dtype=torch.bool)


def step():
    logits, balance = model.decode(*model.encode(enc, mask), inp)
    loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1)) + 0.01 * balance
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(2):
    step()
start = time.perf_counter()
for _ in range(args.steps):
    step()
train = (time.perf_counter() - start) / args.steps

times = []
for i in range(args.requests + 1):
    start = time.perf_counter()
    model.beam_search(enc[i % args.batch:i % args.batch + 1], args.beam, args.decoder_length)
    if i > 0:
        times.append(time.perf_counter() - start)
times.sort()
print("torch", torch.__version__, "threads", torch.get_num_threads(), "blas", torch.__config__.show().count("OpenBLAS") > 0)
print("result %.6f %.6f" % (train, times[len(times) // 2]))
