"""Fit a runtime's free parameters to measured latencies (``memsim calibrate``).

Free parameters (all positive, fitted in log space): ``op_overhead_s`` (fixed time per executed
op), ``barrier_s`` (one step of the per-layer thread barrier), ``allcore_clock_fraction``
(compute clock with several threads busy, for rows on more than one thread),
``efficiency_<kernel>`` for the kernel classes the measured networks spend time in, and
``dram_fraction`` (the sustained share of the preset's DRAM bandwidth). The objective is a
robust (Huber, δ = ln 1.25) least-squares fit of ``log predicted − log measured``.

Predictions come from the full simulator, which is too slow to call inside an optimiser, so the
fit alternates: simulate every measurement at the current parameters, build a *layer surrogate*
from the per-layer table (exact at those parameters), fit the surrogate by Levenberg-Marquardt
with Huber weights, and repeat from the new parameters until they move by less than 0.1 %
(Gauss-Newton with re-linearisation: when the data come from the model, the true parameters
are a fixed point, since the surrogate is exact where it is anchored). Surrogate of one layer
at parameters θ, from its compute time ``c``, memory stall ``s`` (stall minus the runtime's
fixed costs), per-op overhead ``f`` and barrier ``g`` at θ₀:
``t = f·o/o₀ + g·b/b₀ + c·e₀/e + s·d₀/d`` (``o`` the per-op overhead, ``b`` the barrier step,
``e`` the efficiency of the layer's kernel class, ``d`` the DRAM fraction). It ignores how overlap
of compute and memory changes between anchors; the re-simulation corrects that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from memsim.runtime.profiles import KERNELS

#: Huber threshold in log space: residuals beyond a 1.25x error count linearly.
HUBER_DELTA = math.log(1.25)
#: Parameter bounds (lower, upper) in their own units.
BOUNDS = {"op_overhead_s": (1e-8, 1e-2), "barrier_s": (1e-8, 1e-2), "dram_fraction": (0.05, 1.0),
          "allcore_clock_fraction": (0.1, 1.0),
          **{f"efficiency_{k}": (0.02, 4.0) for k in KERNELS}}
#: Share of a row's time a parameter must touch in some row to be identifiable by the data.
MIN_SHARE = 0.02


@dataclass
class LayerTerms:
    """One layer of one measurement at the anchor parameters (seconds)."""

    kernel: str
    compute_s: float
    memory_s: float
    fixed_s: float
    barrier_s: float = 0.0


@dataclass
class RowModel:
    """Surrogate of one measurement: its layers at the anchor parameters ``anchor``."""

    layers: list[LayerTerms]
    anchor: dict
    multithread: bool = False

    def predict(self, theta: dict) -> float:
        """Predicted seconds at parameters ``theta`` (see the module docstring)."""
        a = self.anchor
        o = theta.get("op_overhead_s", a["op_overhead_s"]) / a["op_overhead_s"] \
            if a["op_overhead_s"] > 0 else 1.0
        b = theta.get("barrier_s", a["barrier_s"]) / a["barrier_s"] if a.get("barrier_s") else 1.0
        d = a["dram_fraction"] / theta.get("dram_fraction", a["dram_fraction"])
        f = (a["allcore_clock_fraction"] / theta.get("allcore_clock_fraction",
                                                    a["allcore_clock_fraction"])
             if self.multithread else 1.0)
        total = 0.0
        for lt in self.layers:
            key = f"efficiency_{lt.kernel}"
            e = a[key] / theta.get(key, a[key]) * f
            total += lt.fixed_s * o + lt.barrier_s * b + lt.compute_s * e + lt.memory_s * d
        return total

    def shares(self) -> dict:
        """Fraction of the anchor time each parameter acts on."""
        total = sum(lt.fixed_s + lt.barrier_s + lt.compute_s + lt.memory_s
                    for lt in self.layers) or 1.0
        out = {"op_overhead_s": sum(lt.fixed_s for lt in self.layers) / total,
               "barrier_s": sum(lt.barrier_s for lt in self.layers) / total,
               "dram_fraction": sum(lt.memory_s for lt in self.layers) / total,
               "allcore_clock_fraction": (sum(lt.compute_s for lt in self.layers) / total
                                          if self.multithread else 0.0)}
        for k in KERNELS:
            out[f"efficiency_{k}"] = sum(lt.compute_s for lt in self.layers
                                         if lt.kernel == k) / total
        return out


@dataclass
class Fit:
    """A calibration result: ``params``, per-row ``predicted_s`` and ``residuals`` (log),
    leave-one-out factors ``loo_factors`` (None until computed), outer ``iterations``."""

    params: dict
    names: tuple[str, ...]
    predicted_s: list[float]
    residuals: list[float]
    iterations: int
    loo_factors: list[float] | None = None
    models: list[RowModel] = field(default_factory=list)

    @property
    def median_factor(self) -> float:
        """Median error factor ``exp|residual|`` of the fitted rows."""
        return float(np.median(np.exp(np.abs(self.residuals)))) if self.residuals else 1.0

    @property
    def loo_median_factor(self) -> float | None:
        """Median leave-one-out error factor."""
        return float(np.median(self.loo_factors)) if self.loo_factors else None


def free_parameters(models: list[RowModel], candidates: tuple[str, ...] | None = None
                    ) -> tuple[str, ...]:
    """The parameters the measurements can identify: those acting on at least ``MIN_SHARE`` of
    some row's time (optionally restricted to ``candidates``), in ``BOUNDS`` order."""
    names = []
    for p in BOUNDS:
        if candidates is not None and p not in candidates:
            continue
        if any(m.shares().get(p, 0.0) >= MIN_SHARE for m in models):
            names.append(p)
    return tuple(names)


def _huber_weights(r: np.ndarray) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= HUBER_DELTA, 1.0, HUBER_DELTA / np.maximum(a, 1e-300))


def fit_surrogate(models: list[RowModel], measured_s: list[float], names: tuple[str, ...],
                  start: dict, iterations: int = 60) -> dict:
    """Levenberg-Marquardt with Huber (IRLS) weights on the surrogates, in log space, bounded."""
    if not names:
        return dict(start)
    lo = np.log([BOUNDS[n][0] for n in names])
    hi = np.log([BOUNDS[n][1] for n in names])
    x = np.clip(np.log([start[n] for n in names]), lo, hi)
    y = np.log(measured_s)

    def resid(v):
        theta = {**start, **dict(zip(names, np.exp(v)))}
        return np.log([max(m.predict(theta), 1e-15) for m in models]) - y

    lam = 1e-3
    r = resid(x)
    w = _huber_weights(r)
    cost = float(np.sum(w * r * r))
    for _ in range(iterations):
        jac = np.empty((len(models), len(names)))
        for j in range(len(names)):
            h = 1e-6
            xp, xm = x.copy(), x.copy()
            xp[j] += h
            xm[j] -= h
            jac[:, j] = (resid(xp) - resid(xm)) / (2 * h)
        jw = jac * w[:, None]
        a = jac.T @ jw
        g = jw.T @ r
        step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), -g)
        xn = np.clip(x + step, lo, hi)
        rn = resid(xn)
        wn = _huber_weights(rn)
        cn = float(np.sum(wn * rn * rn))
        if cn <= cost:
            done = np.max(np.abs(xn - x)) < 1e-10
            x, r, w, cost, lam = xn, rn, wn, cn, max(lam / 3, 1e-9)
            if done:
                break
        else:
            lam *= 4
            if lam > 1e8:
                break
    return {**start, **{n: float(v) for n, v in zip(names, np.exp(x))}}


def fit(simulate_rows, measured_s: list[float], start: dict, names: tuple[str, ...],
        max_outer: int = 6, tol: float = 1e-3, models: list | None = None) -> Fit:
    """Fit ``names`` by alternating simulation and surrogate fits (module docstring).

    ``simulate_rows(theta) -> list[RowModel]`` simulates every measurement at ``theta``;
    ``models``: those at ``start`` when already simulated.
    """
    theta = dict(start)
    models = models if models is not None else simulate_rows(theta)
    it = 0
    for it in range(1, max_outer + 1):
        new = fit_surrogate(models, measured_s, names, theta)
        moved = max((abs(math.log(new[n] / theta[n])) for n in names), default=0.0)
        theta = new
        models = simulate_rows(theta)
        if moved < tol:
            break
    predicted = [m.predict(theta) for m in models]
    residuals = [math.log(p / m) for p, m in zip(predicted, measured_s)]
    return Fit(theta, names, predicted, residuals, it, models=models)


def leave_one_out(result: Fit, measured_s: list[float], groups: list | None = None) -> list[float]:
    """Error factor of each row predicted by a fit without it (or without its ``groups`` entry),
    refitted on the surrogates at the full fit (one linearisation, no further simulation)."""
    groups = groups if groups is not None else list(range(len(measured_s)))
    factors = []
    for i, g in enumerate(groups):
        keep = [j for j, h in enumerate(groups) if h != g]
        if not keep:
            factors.append(float("nan"))
            continue
        theta = fit_surrogate([result.models[j] for j in keep], [measured_s[j] for j in keep],
                              result.names, result.params)
        p = result.models[i].predict(theta)
        factors.append(max(p / measured_s[i], measured_s[i] / p))
    return factors


def rows_needed(n_params: int) -> int:
    """Measurements needed to fit ``n_params`` parameters and still check the fit: one more
    than the parameters (a residual degree of freedom, so leave-one-out predicts a row with all
    parameters still determined)."""
    return n_params + 1
