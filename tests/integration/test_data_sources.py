"""Calibrating and evaluating from an image folder and a CSV file, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import edgeq


def _write_digit_images(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Digits as 16x16 grey PNGs (pixels 0..16 stretched to 0..255) in one folder per class."""
    for index, (image, label) in enumerate(zip(x, y, strict=True)):
        pixels = (image[:, :, 0].astype(np.float32) * 255.0 / 16.0).round().astype(np.uint8)
        big = Image.fromarray(pixels).resize((16, 16), Image.Resampling.NEAREST)
        (folder / f"digit_{label}").mkdir(parents=True, exist_ok=True)
        big.save(folder / f"digit_{label}" / f"{index:04d}.png")


def test_image_folder_calibration_and_csv_evaluation(tmp_path, digits_model, digits_split):
    calib, test = digits_split
    with np.load(calib) as data:
        _write_digit_images(tmp_path / "images", data["x"][:300], data["y"][:300])
    with np.load(test) as data:
        x_test, y_test = data["x"], data["y"]
    header = "label," + ",".join(f"p{i}" for i in range(64))
    rows = [
        f"{label}," + ",".join(str(v) for v in image.reshape(-1))
        for image, label in zip(x_test, y_test, strict=True)
    ]
    (tmp_path / "test.csv").write_text(header + "\n" + "\n".join(rows) + "\n")

    _write_digit_images(tmp_path / "test_images", x_test, y_test)

    # PNG pixels are 0..255 and the model takes 0..1: scale 1/255 (the CSV keeps 0..16: scale 1/16)
    from_images = edgeq.convert(
        digits_model, calib=tmp_path / "images", eval=tmp_path / "test_images", mode="int8", scale=1 / 255
    )
    notes = from_images.calibration["notes"]
    assert from_images.calibration["format"] == "images" and from_images.calibration["samples"] == 200
    assert "resized 16x16 to 8x8 (bilinear)" in notes
    assert from_images.calibration["class_names"][:2] == ["digit_0", "digit_1"]
    assert from_images.reference.top1 > 0.9
    assert from_images.top1_drop_points(from_images.mode("int8")) <= 1.0

    from_csv = edgeq.convert(
        digits_model, calib=tmp_path / "test.csv", eval=tmp_path / "test.csv", mode="int8", scale=1 / 16
    )
    assert from_csv.evaluation_data["format"] == "csv" and from_csv.evaluation_data["samples"] == 359
    assert any("reshaped rows of 64 values" in note for note in from_csv.evaluation_data["notes"])
    assert from_csv.mode("int8").evaluation.top1 > 0.95
    assert from_csv.top1_drop_points(from_csv.mode("int8")) <= 1.0
