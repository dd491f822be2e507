"""Small real data sets edgeq ships (package data, ``edgeq.datasets`` in the wheel); each file's
source, license and sha256 are in MANIFEST.json."""
