"""Small Gaussian colour models for the classical parser: fit on a few thousand pixels, score all.

Full-covariance Gaussians separate a dark-brown lock from a navy dress far
better than coarse colour histograms do: the two differ along one oblique
direction in Lab, which a histogram cell 16 levels wide averages away.
Fitting is k-means (deterministic init along lightness) plus one
covariance per cluster, which is all a mixture needs here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR = 3.0  # minimum spread per channel: JPEG noise and shading never vanish


@dataclass
class Gmm:
    means: np.ndarray  # k×3
    inv: np.ndarray  # k×3×3 inverse covariances
    logdet: np.ndarray  # k
    logw: np.ndarray  # k log weights
    _white: tuple | None = None  # cached whitening (matrix, offset)

    def mahalanobis(self, x: np.ndarray, min_weight: float = 0.0) -> np.ndarray:
        """Squared Mahalanobis distance of each row of x to its nearest component of at least `min_weight`.

        Ignoring small components asks "is this one of the colours that make
        up most of the region?": an arm lying on a shirt may earn a small
        component of the shirt's model, never a large one.
        """
        return self._nearest(self._m2(x), min_weight)

    def loglik(self, x: np.ndarray) -> np.ndarray:
        return self._loglik(self._m2(x))

    def scores(self, x: np.ndarray, min_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(log-likelihood, nearest squared Mahalanobis distance) in one pass."""
        m2 = self._m2(x)
        return self._loglik(m2), self._nearest(m2, min_weight)

    def _nearest(self, m2: np.ndarray, min_weight: float) -> np.ndarray:
        keep = np.nonzero(np.exp(self.logw) >= min_weight)[0]
        cols = keep if len(keep) else range(m2.shape[1])
        # Column by column: numpy reduces a short trailing axis far slower than it combines columns.
        out = None
        for j in cols:
            out = m2[:, j].copy() if out is None else np.minimum(out, m2[:, j], out=out)
        return out

    def _loglik(self, m2: np.ndarray) -> np.ndarray:
        ll = -0.5 * (m2 + self.logdet[None]) + self.logw[None]
        if ll.shape[1] == 1:
            return ll[:, 0]
        top = ll[:, 0].copy()
        for j in range(1, ll.shape[1]):
            np.maximum(top, ll[:, j], out=top)
        acc = np.zeros_like(top)
        for j in range(ll.shape[1]):
            acc += np.exp(ll[:, j] - top)
        return top + np.log(acc)

    def _m2(self, x: np.ndarray) -> np.ndarray:
        # Whitening by the Cholesky factor of each inverse covariance turns every quadratic form into
        # one matrix product for all components at once (BLAS) instead of an einsum per pixel.
        if self._white is None:
            chol = np.linalg.cholesky(self.inv.astype(np.float64)).astype(np.float32)  # k×3×3
            w = np.concatenate(list(chol), axis=1)  # 3×3k
            self._white = (w, np.concatenate([m @ c for m, c in zip(self.means, chol)]))
        w, offset = self._white
        y = x @ w - offset
        y *= y
        return y[:, 0::3] + y[:, 1::3] + y[:, 2::3]  # a strided add beats a reduce over a length-3 axis


def _assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = (centres * centres).sum(1)[None] - 2.0 * x @ centres.T
    return np.argmin(d, axis=1)


def fit(x: np.ndarray, k: int = 3, iters: int = 5, max_points: int = 1500, floor: float = FLOOR) -> Gmm | None:
    """Fit a k-component model to the rows of x (N×3 float32); None if x is empty."""
    if len(x) == 0:
        return None
    if len(x) > max_points:
        x = x[:: len(x) // max_points + 1]  # a strided sample is deterministic and spatially even
    x = np.ascontiguousarray(x, np.float32)
    k = max(1, min(k, len(x) // 8 or 1))
    order = np.argsort(x[:, 0], kind="stable")
    centres = x[order[((np.arange(k) + 0.5) / k * len(x)).astype(int)]].copy()
    for _ in range(iters if k > 1 else 0):
        lab = _assign(x, centres)
        counts = np.bincount(lab, minlength=k).astype(np.float32)
        sums = np.stack([np.bincount(lab, weights=x[:, c], minlength=k) for c in range(3)], 1)
        ok = counts > 0
        centres[ok] = (sums[ok] / counts[ok, None]).astype(np.float32)
    lab = _assign(x, centres) if k > 1 else np.zeros(len(x), int)
    means, invs, logdets, logws = [], [], [], []
    for j in range(k):
        pts = x[lab == j]
        if len(pts) < 4:
            continue
        mu = pts.mean(0)
        d = (pts - mu).astype(np.float64)
        cov = d.T @ d / max(1, len(pts) - 1) + np.eye(3) * floor ** 2
        means.append(mu)
        invs.append(np.linalg.inv(cov))
        logdets.append(np.linalg.slogdet(cov)[1])
        logws.append(np.log(len(pts) / len(x)))
    if not means:
        cov = np.eye(3) * floor ** 2
        return Gmm(x.mean(0, keepdims=True), np.linalg.inv(cov)[None], np.array([np.linalg.slogdet(cov)[1]]),
                   np.zeros(1))
    return Gmm(np.array(means, np.float32), np.array(invs, np.float32), np.array(logdets, np.float32),
               np.array(logws, np.float32))
