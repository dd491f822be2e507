"""Calibration and evaluation data: readers for .npz, .npy, CSV and image folders, and checks."""

from edgeq.data.dataset import Dataset, Preprocessing, check_samples, prepare_dataset, read_dataset

__all__ = ["Dataset", "Preprocessing", "check_samples", "prepare_dataset", "read_dataset"]
