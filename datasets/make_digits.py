"""Rebuild datasets/digits.npz from the copy of the UCI digits set that scikit-learn ships.

Run once by a maintainer (needs scikit-learn); edgeq itself never downloads or rebuilds data.
The split is stratified, 20 % test, fixed by SEED, so the file is reproducible byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np

SEED = 20261123
TEST_FRACTION = 0.2


def main() -> None:
    import sklearn.datasets

    csv_path = Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"
    with gzip.open(csv_path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    images = table[:, :64].reshape(-1, 8, 8, 1).astype(np.uint8)
    labels = table[:, 64].astype(np.uint8)
    rng = np.random.default_rng(SEED)
    test_index: list[int] = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        count = round(len(members) * TEST_FRACTION)
        test_index.extend(rng.choice(members, size=count, replace=False).tolist())
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_index] = True
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=images[~is_test],
        y_train=labels[~is_test],
        x_test=images[is_test],
        y_test=labels[is_test],
    )
    out = Path(__file__).parent / "digits.npz"
    out.write_bytes(buffer.getvalue())
    print(out, hashlib.sha256(buffer.getvalue()).hexdigest(), (~is_test).sum(), is_test.sum())


if __name__ == "__main__":
    main()
