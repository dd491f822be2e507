"""The results edgeq returns and the JSON files it writes, as frozen typed data with ``to_dict`` and
``from_dict``: below the stages that compute them (conversion, inspection, bench, pipeline) and the
report that reads them back. ``schema`` holds every file's kind and schema_version."""

from edgeq.results.convert import ConvertResult, ModeResult, SizeBaseline
from edgeq.results.mixed import MixedPrecision
from edgeq.results.qat import QATReport

__all__ = ["ConvertResult", "MixedPrecision", "ModeResult", "QATReport", "SizeBaseline"]
