"""How much compute and data: counting a model's FLOPs, and the scaling law L(N, D) = E + A/N^alpha + B/D^beta.

**Counting compute.** Almost all the work of a transformer is matrix products. A product of an (m x k) matrix
with a (k x n) one costs ``2 m k n`` floating-point operations (one multiply and one add per term). Per token,
one block of width C reading a context of T tokens does, in its forward pass:

=====================  ==============  =====================================
product                shapes          FLOPs per token
=====================  ==============  =====================================
queries, keys, values  C -> 3C         2 * C * 3C  = 6 C^2
scores q . k           T keys of C     2 * T * C
weighted sum of v      T values of C   2 * T * C
output projection      C -> C          2 * C * C   = 2 C^2
MLP up                 C -> 4C         2 * C * 4C  = 8 C^2
MLP down               4C -> C         2 * 4C * C  = 8 C^2
=====================  ==============  =====================================

so ``24 C^2 + 4 T C``; the block has ``12 C^2`` weights (+ biases and LayerNorms), so the weights cost 2 FLOPs
per weight per token. The backward pass costs twice the forward (a gradient for the input and one for the
weight of every product), so **training costs about 6 N FLOPs per token** (Kaplan et al. 2020, "Scaling Laws
for Neural Language Models"), plus the attention terms ``3 * 4 T C`` per block and the output head
``6 C V``. (The scores count all T keys, as torch's kernel computes them; a causal mask makes half of them
useless, which is why some counts halve that term.)

**The law.** Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models", the Chinchilla paper) fit

    L(N, D) = E + A / N^alpha + B / D^beta

to hundreds of runs: ``E`` the loss that no model can beat (the entropy of the text), ``A / N^alpha`` what a model
of N parameters lacks, ``B / D^beta`` what D tokens of training leave out. In our toy world ``E`` is *known*: the
entropy floor of the held-out stories. :func:`fit_law` fits the law with ``E`` free or with ``E`` fixed;
:func:`compute_optimal` minimises it along a compute budget ``C = 6 N D``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from nbutils.validate import require_int

__all__ = ["block_forward_flops", "block_params", "non_embedding_params", "forward_flops_per_token",
           "training_flops_per_token", "training_flops", "count_training_flops", "matmul_flops_per_s",
           "ScalingLaw", "CHINCHILLA_REFIT", "fit_law", "bootstrap_fits", "compute_optimal", "tokens_for_compute_optimal",
           "CHINCHILLA", "REAL_MODELS", "ACCELERATORS", "training_days"]


# ------------------------------------------------------------------------------------------ counting FLOPs
def block_forward_flops(n_embd: int, context: int) -> int:
    """FLOPs of one transformer block's matrix products for ONE token, forward pass: ``24 C^2 + 4 T C``
    (see the module docstring's table). Elementwise work (LayerNorm, GELU, softmax) is left out: it is
    a few operations per number, against C per number for a product."""
    C, T = require_int("n_embd", n_embd), require_int("context", context)
    return 6 * C * C + 2 * T * C + 2 * T * C + 2 * C * C + 8 * C * C + 8 * C * C


def block_params(n_embd: int, bias: bool = True) -> int:
    """Parameters of one block (LayerNorm, GELU MLP): ``12 C^2`` weights, and with ``bias`` 9C biases and 4C LayerNorm numbers."""
    C = require_int("n_embd", n_embd)
    return 12 * C * C + ((9 + 4) * C if bias else 2 * C)


def non_embedding_params(config) -> int:
    """N of the scaling law: every parameter of a ``GPTConfig`` model but the token and position embeddings
    (the blocks and the final LayerNorm; the output head is tied to the token embedding)."""
    C = config.n_embd
    return config.n_layer * block_params(C, config.bias) + (2 * C if config.bias else C)


def forward_flops_per_token(config, context: int | None = None) -> int:
    """Forward FLOPs per token of a ``GPTConfig`` model reading ``context`` tokens (default: its context):
    the blocks' products and the output head's ``2 C V``."""
    T = config.context_length if context is None else context
    return config.n_layer * block_forward_flops(config.n_embd, T) + 2 * config.n_embd * config.vocab_size


def training_flops_per_token(config, context: int | None = None) -> int:
    """Training FLOPs per token: forward + backward = 3 x forward (about ``6 N`` + attention + head)."""
    return 3 * forward_flops_per_token(config, context)


def training_flops(n_params: float, tokens: float) -> float:
    """The usual estimate of a whole run's training compute: ``C = 6 N D``."""
    if n_params <= 0 or tokens <= 0:
        raise ValueError(f"n_params and tokens must be > 0, got {n_params} and {tokens}")
    return 6.0 * n_params * tokens


def _cpu_attention_formulas() -> dict:
    """FLOP formulas for the CPU's fused attention kernel, which torch's counter does not know (it knows the
    GPU kernels): the same count as for those, ``sdpa_flop_count`` (``4 B H T T d`` forward)."""
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    aten = torch.ops.aten

    def forward(query, key, value, *args, out_val=None, **kwargs):
        return sdpa_flop_count(query, key, value)

    def backward(grad_out, query, key, value, *args, out_val=None, **kwargs):
        return sdpa_backward_flop_count(grad_out, query, key, value)

    return {aten._scaled_dot_product_flash_attention_for_cpu: forward,
            aten._scaled_dot_product_flash_attention_for_cpu_backward: backward}


def count_training_flops(model: torch.nn.Module, batch_size: int = 1, context: int | None = None,
                         count_attention: bool = True) -> dict[str, int]:
    """Count a model's FLOPs per token with torch's own counter (``torch.utils.flop_counter.FlopCounterMode``)
    over one forward and one backward pass of a random batch: ``{"forward": ..., "backward": ..., "total": ...}``.

    The counter sees the operations torch runs, and knows the cost of the matrix products and of the GPU's
    attention kernels; for the CPU's fused attention kernel it is given the same formula
    (``count_attention=False`` leaves it uncounted, as the counter alone would)."""
    from torch.utils.flop_counter import FlopCounterMode

    T = model.config.context_length if context is None else context
    x = torch.randint(0, model.config.vocab_size, (require_int("batch_size", batch_size), T))
    formulas = _cpu_attention_formulas() if count_attention else {}
    with FlopCounterMode(display=False, custom_mapping=formulas) as forward_only:
        model(x, x)
    with FlopCounterMode(display=False, custom_mapping=formulas) as both:
        _, loss = model(x, x)
        loss.backward()
    model.zero_grad(set_to_none=True)
    tokens = batch_size * T
    forward, total = forward_only.get_total_flops() // tokens, both.get_total_flops() // tokens
    return {"forward": forward, "backward": total - forward, "total": total}


def matmul_flops_per_s(size: int = 512, repeats: int = 10) -> float:
    """This machine's measured speed on a square float32 matrix product (``2 n^3`` FLOPs each), best of
    ``repeats``: the "peak" a training run's FLOPs per second are compared with (like an MFU)."""
    import time

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm up
    best = math.inf
    for _ in range(require_int("repeats", repeats)):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


# ------------------------------------------------------------------------------------------ the law
@dataclass
class ScalingLaw:
    """``L(N, D) = E + A / N^alpha + B / D^beta`` (losses in nats per token)."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float

    def loss(self, N, D):
        """The predicted loss of a model with N parameters trained on D tokens (numbers or arrays)."""
        return self.E + self.A / N ** self.alpha + self.B / D ** self.beta

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


#: Hoffmann et al. 2022, section 3.3 (their "approach 3" fit, N counting all parameters, loss in nats/token).
CHINCHILLA = ScalingLaw(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)
#: The same fit redone on the paper's own data by Besiroglu et al. 2024 ("Chinchilla Scaling: A replication
#: attempt"), whose optimum agrees with the paper's approaches 1 and 2 (about 20 tokens per parameter).
CHINCHILLA_REFIT = ScalingLaw(E=1.82, A=482.01, alpha=0.3478, B=2085.43, beta=0.3658)


def _huber(r: np.ndarray, delta: float) -> float:
    a = np.abs(r)
    return float(np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta)).sum())


def _grid_start(logN: np.ndarray, logD: np.ndarray, L: np.ndarray, E: float | None) -> list[np.ndarray]:
    """Starting points for the fit: for fixed exponents the law is linear in (E, A, B), so least squares on a
    grid of (alpha, beta) gives good values of the rest; the 3 best grid points (with E, A, B > 0) are kept."""
    found = []
    for alpha in np.linspace(0.05, 1.5, 30):
        for beta in np.linspace(0.05, 1.5, 30):
            columns = [np.exp(-alpha * logN), np.exp(-beta * logD)] + ([np.ones_like(L)] if E is None else [])
            X = np.stack(columns, axis=1) / L[:, None]  # relative residuals, about the errors of log L
            target = (L - (0.0 if E is None else E)) / L
            coef = np.linalg.lstsq(X, target, rcond=None)[0]
            if (coef <= 0).any():
                continue
            e = math.log(E) if E is not None else math.log(coef[2])
            found.append((float(((X @ coef - target) ** 2).sum()),
                          np.array([math.log(coef[0]), alpha, math.log(coef[1]), beta, e])))
    found.sort(key=lambda item: item[0])
    return [start for _, start in found[:3]] or [np.array([1.0, 0.3, 1.0, 0.3, math.log(E) if E else 0.0])]


def _log_law(x: np.ndarray, logN: np.ndarray, logD: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log L predicted for parameters ``x = (log A, alpha, log B, beta, log E)``, and its Jacobian."""
    terms = np.stack([x[0] - x[1] * logN, x[2] - x[3] * logD, np.full_like(logN, x[4])])
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    p = weights / total  # each term's share of the predicted loss
    jacobian = np.stack([p[0], -p[0] * logN, p[1], -p[1] * logD, p[2]], axis=1)
    return top + np.log(total), jacobian


def fit_law(N: Sequence[float], D: Sequence[float], loss: Sequence[float], E: float | None = None,
            delta: float = 1e-3, iterations: int = 300) -> ScalingLaw:
    """Fit ``L(N, D)`` to measured runs the way Hoffmann et al. 2022 do: minimise the Huber loss (``delta``)
    between the predicted and the measured ``log L``, over ``log A, alpha, log B, beta, log E``.

    The minimiser is Levenberg-Marquardt on Huber-weighted residuals (each step a small damped least-squares
    problem); the fit has local minima, so it starts from the best points of a grid (:func:`_grid_start`) and
    keeps the best end. ``E=None`` fits E too; a number fixes it (our world knows E: the entropy floor).
    """
    N_, D_, L_ = (np.asarray(v, dtype=np.float64) for v in (N, D, loss))
    if not (N_.shape == D_.shape == L_.shape) or N_.ndim != 1 or len(N_) < 3:
        raise ValueError("N, D and loss must be 1-D sequences of the same length (at least 3 runs)")
    if (N_ <= 0).any() or (D_ <= 0).any() or (L_ <= 0).any():
        raise ValueError("N, D and loss must be > 0")
    if E is not None and not 0 < E < float(L_.min()):
        raise ValueError(f"a fixed E must be > 0 and below every measured loss (min {float(L_.min()):.4f}), got {E}")
    logN, logD, logL = np.log(N_), np.log(D_), np.log(L_)
    free = [0, 1, 2, 3] + ([4] if E is None else [])
    best, best_value = None, math.inf
    for x in _grid_start(logN, logD, L_, E)[:2]:
        damping = 1e-3
        value = _huber(_log_law(x, logN, logD)[0] - logL, delta)
        for _ in range(iterations):
            predicted, jacobian = _log_law(x, logN, logD)
            r = predicted - logL
            w = np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))  # Huber as reweighted least squares
            J = jacobian[:, free]
            H, g = J.T @ (w[:, None] * J), J.T @ (w * r)
            step = np.linalg.solve(H + damping * np.diag(np.diag(H) + 1e-12), -g)
            trial = x.copy()
            trial[free] += step
            trial_value = _huber(_log_law(trial, logN, logD)[0] - logL, delta)
            if trial_value < value:
                converged = value - trial_value < 1e-14 * max(1.0, value)
                x, value, damping = trial, trial_value, max(damping / 3, 1e-9)
                if converged:
                    break
            else:
                damping *= 4
                if damping > 1e9:
                    break
        if value < best_value:
            best, best_value = x, value
    a, alpha, b, beta, e = best.tolist()
    return ScalingLaw(E=E if E is not None else math.exp(e), A=math.exp(a), alpha=alpha, B=math.exp(b), beta=beta)


def bootstrap_fits(N: Sequence[float], D: Sequence[float], loss: Sequence[float], E: float | None = None,
                   samples: int = 100, seed: int = 0) -> list[ScalingLaw]:
    """Refit the law on ``samples`` resamplings of the runs (drawn with replacement): how much the
    parameters move when the ladder had been a little different. Their spread is an interval, not an error
    bar of the truth: every resample shares the same small ladder."""
    rng = np.random.default_rng(seed)
    n = len(N)
    laws = []
    for _ in range(require_int("samples", samples)):
        pick = rng.integers(0, n, n).tolist()
        if len({(N[i], D[i]) for i in pick}) < 5:
            continue  # too few distinct runs to fit 4-5 numbers
        try:
            laws.append(fit_law([N[i] for i in pick], [D[i] for i in pick], [loss[i] for i in pick], E=E))
        except (RuntimeError, ValueError):
            continue
    return laws


def compute_optimal(law: ScalingLaw, flops: float) -> tuple[float, float]:
    """The ``(N, D)`` that minimise ``law`` at a fixed compute ``C = 6 N D``.

    With ``D = C / (6N)``, setting dL/dN = 0 gives ``alpha A / N^alpha = beta B / D^beta``, so
    ``N_opt = G (C/6)^(beta/(alpha+beta))`` with ``G = (alpha A / (beta B))^(1/(alpha+beta))``, and
    ``D_opt = C / (6 N_opt)`` (Hoffmann et al. 2022, appendix D.2)."""
    if flops <= 0:
        raise ValueError(f"flops must be > 0, got {flops}")
    G = (law.alpha * law.A / (law.beta * law.B)) ** (1.0 / (law.alpha + law.beta))
    N = G * (flops / 6.0) ** (law.beta / (law.alpha + law.beta))
    return N, flops / (6.0 * N)


def tokens_for_compute_optimal(n_params: float, tokens_per_param: float = 20.0) -> float:
    """The training tokens that make a model of ``n_params`` parameters compute-optimal by the Chinchilla rule of
    thumb: about 20 tokens per parameter (Hoffmann et al. 2022, approaches 1 and 2: N and D grow equally
    with compute, D/N about 20 at the budgets they studied)."""
    if n_params <= 0 or tokens_per_param <= 0:
        raise ValueError(f"n_params and tokens_per_param must be > 0, got {n_params} and {tokens_per_param}")
    return tokens_per_param * n_params


# ------------------------------------------------------------------------------------------ real models
#: Parameters and training tokens of three real models, with where the figures come from.
REAL_MODELS = {
    "GPT-2 124M": {"params": 124e6, "tokens": 10e9,
                   "source": "Radford et al. 2019 (size); tokens: the llm.c reproduction, 10B tokens of FineWeb "
                             "(Karpathy 2024, llm.c discussion #481)"},
    "GPT-3 175B": {"params": 175e9, "tokens": 300e9, "paper_flops": 3.14e23,
                   "source": "Brown et al. 2020, Language Models are Few-Shot Learners, table D.1"},
    "Chinchilla 70B": {"params": 70e9, "tokens": 1.4e12, "paper_flops": 5.76e23,
                       "source": "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, table 3"},
}

#: Peak dense 16-bit (bf16) tensor throughput of two accelerators, from NVIDIA's data sheets.
ACCELERATORS = {"A100 SXM": 312e12, "H100 SXM": 989e12}


def training_days(flops: float, flops_per_s: float, utilisation: float = 0.4, devices: int = 1) -> float:
    """Days a run of ``flops`` takes on ``devices`` chips of peak ``flops_per_s`` each, used at ``utilisation``
    (the share of the peak a real run reaches, its MFU; PaLM reported 46%, Chowdhery et al. 2022)."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation}")
    return flops / (flops_per_s * utilisation * require_int("devices", devices)) / 86400.0
