"""Every file under datasets/ is listed in MANIFEST.json with its real sha256, source and license."""

from __future__ import annotations

import hashlib
import json

from tests.conftest import REPO

DATASETS = REPO / "datasets"


def test_every_bundled_file_matches_its_manifest_entry():
    manifest = json.loads((DATASETS / "MANIFEST.json").read_text())
    entries = {entry["file"]: entry for entry in manifest["datasets"]}
    shipped = {p.name for p in DATASETS.iterdir() if p.is_file() and p.suffix not in (".py", ".json")}
    assert shipped == set(entries)
    for name, entry in entries.items():
        assert hashlib.sha256((DATASETS / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["source"] and entry["license"] and entry["rebuild"]
