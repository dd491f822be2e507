"""Load a Keras model (.keras, Keras 2 .h5) or a SavedModel folder for conversion and reference runs.

Keras' safe mode stays on: Lambda layers and unknown custom objects are refused unless the user
passes ``--unsafe`` / ``--custom-objects``. Keras 2 .h5 files whose configs Keras 3 rejects for
harmless leftovers (``groups=1`` on depthwise/separable convolutions, the unused kernel_* keys on
separable convolutions) are repaired while loading, and each repair is recorded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.conversion.quiet import import_tensorflow, quiet
from edgeq.errors import InputError, UnsupportedError, first_line
from edgeq.outputs import file_sha256
from edgeq.runtimes.tensors import output_order_key

# Keras 2 config keys that Keras 3 refuses but that carry no meaning for these layers.
_KERAS2_LEFTOVERS: dict[str, tuple[str, ...]] = {
    "DepthwiseConv2D": ("groups",),
    "DepthwiseConv1D": ("groups",),
    "SeparableConv2D": ("groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"),
    "SeparableConv1D": ("groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"),
}


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: its name, shape (None = any size) and dtype name."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


class SourceModel:
    """A loaded float model: what conversion starts from and what evaluation compares against."""

    def __init__(
        self,
        path: Path,
        kind: str,
        sha256: str,
        inputs: tuple[TensorSpec, ...],
        outputs: tuple[TensorSpec, ...],
        parameter_count: int | None,
        repairs: tuple[str, ...],
        keras_model: Any = None,
        saved_model: Any = None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.sha256 = sha256
        self.inputs = inputs
        self.outputs = outputs
        self.parameter_count = parameter_count
        self.repairs = repairs
        self._keras_model = keras_model
        self._saved_model = saved_model
        self._batch_one: Any = None

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.kind,
            "sha256": self.sha256,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "parameters": self.parameter_count,
            "repairs": list(self.repairs),
        }

    def keras_layers(self) -> list[Any]:
        """The Keras model's layers, nested models' layers included; empty for a SavedModel."""
        found: list[Any] = []
        pending = list(getattr(self._keras_model, "layers", []))
        while pending:
            layer = pending.pop(0)
            found.append(layer)
            pending.extend(getattr(layer, "layers", []))
        return found

    def output_layer_name(self) -> str | None:
        """The name of the Keras layer that produces the (first) output; None for a SavedModel."""
        outputs = getattr(self._keras_model, "outputs", None)
        history = getattr(outputs[0], "_keras_history", None) if outputs else None
        return getattr(history[0], "name", None) if history else None

    @property
    def keras_model(self) -> Any:
        """The loaded Keras model (None for a SavedModel)."""
        return self._keras_model

    def _batch_one_model(self) -> Any:
        """The Keras model called on inputs of batch size 1 (built once, sharing its weights)."""
        if self._batch_one is None:
            import keras

            inputs = [
                keras.Input(batch_shape=(1, *tensor.shape[1:]), name=tensor.name, dtype=tensor.dtype)
                for tensor in self._keras_model.inputs
            ]
            outputs = self._keras_model(inputs[0] if len(inputs) == 1 else inputs)
            self._batch_one = keras.Model(inputs, outputs, name=self._keras_model.name)
        return self._batch_one

    def predict(self, x: np.ndarray, batch_size: int = 64) -> list[np.ndarray]:
        """Run the float model on ``x``; one float32 array per output, in the model's order."""
        tf = import_tensorflow()
        chunks: list[list[np.ndarray]] = []
        for start in range(0, len(x), batch_size):
            batch = tf.constant(x[start : start + batch_size])
            if self._keras_model is not None:
                result = self._keras_model(batch, training=False)
            else:
                signature = self._saved_model.signatures["serving_default"]
                result = signature(**{self.inputs[0].name: batch})
                result = [result[key] for key in sorted(result, key=output_order_key)]
            if not isinstance(result, (list, tuple)):
                result = [result]
            chunks.append([np.asarray(tensor.numpy(), dtype=np.float32) for tensor in result])
        return [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(chunks[0]))]

    def make_converter(self, static_batch: bool = True) -> Any:
        """A fresh ``tf.lite.TFLiteConverter`` for this model.

        With ``static_batch`` a Keras model is converted with its batch dimension fixed to 1:
        the file then has static shapes, and a Flatten becomes one RESHAPE instead of the
        SHAPE / STRIDED_SLICE / PACK / RESHAPE chain a dynamic batch needs. SavedModels keep
        their signature's shapes.
        """
        tf = import_tensorflow()
        with quiet():
            if self._keras_model is not None:
                model = self._batch_one_model() if static_batch else self._keras_model
                return tf.lite.TFLiteConverter.from_keras_model(model)
            return tf.lite.TFLiteConverter.from_saved_model(
                str(self.path), signature_keys=["serving_default"]
            )


def load_model(
    path: str | Path, unsafe: bool = False, custom_objects: str | Path | None = None
) -> SourceModel:
    """Load ``path`` (.keras, .h5/.hdf5, or a SavedModel folder).

    Raises InputError when the path is missing or not a loadable model, and when safe mode
    refuses it (naming ``--unsafe`` / ``--custom-objects``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"model {path} does not exist: check the path")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise InputError(
                f"model {path} is a folder without saved_model.pb: give a .keras file, "
                "a Keras 2 .h5 file or a SavedModel folder"
            )
        return _load_saved_model(path)
    suffix = path.suffix.lower()
    if suffix not in (".keras", ".h5", ".hdf5"):
        raise InputError(
            f"model {path} has an unknown format {suffix or '(no suffix)'!r}: "
            "give a .keras file, a Keras 2 .h5 file or a SavedModel folder"
        )
    if path.stat().st_size == 0:
        raise InputError(f"model {path} is an empty file")
    _check_container(path, suffix)
    objects = _read_custom_objects(Path(custom_objects)) if custom_objects else {}
    return _load_keras(path, suffix, unsafe, objects, custom_objects is not None)


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_container(path: Path, suffix: str) -> None:
    """Refuse files whose container is wrong before Keras gives a misleading message about them."""
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise InputError(f"model {path} is not a .keras file (not a zip archive): check the file")
        return
    with path.open("rb") as handle:
        head = handle.read(len(_HDF5_SIGNATURE))
    if head != _HDF5_SIGNATURE:
        raise InputError(f"model {path} is not a Keras 2 .h5 file (no HDF5 signature): check the file")


def _load_keras(
    path: Path, suffix: str, unsafe: bool, objects: dict[str, Any], has_custom_file: bool
) -> SourceModel:
    import_tensorflow()
    import keras

    repairs: list[str] = []
    if suffix != ".keras":
        objects = {**_keras2_repair_classes(keras, repairs), **objects}
    try:
        with quiet():
            model = keras.saving.load_model(
                path, custom_objects=objects or None, compile=False, safe_mode=not unsafe
            )
    except Exception as exc:  # Keras raises many types for bad files; all mean "cannot load"
        raise _explain_load_failure(path, exc, has_custom_file) from exc
    if not isinstance(model, keras.Model):
        raise InputError(f"model {path} holds a {type(model).__name__}, not a Keras model")
    inputs = tuple(TensorSpec(name=t.name, shape=tuple(t.shape), dtype=str(t.dtype)) for t in model.inputs)
    outputs = tuple(TensorSpec(name=t.name, shape=tuple(t.shape), dtype=str(t.dtype)) for t in model.outputs)
    return SourceModel(
        path=path,
        kind="keras" if suffix == ".keras" else "keras2-h5",
        sha256=file_sha256(path),
        inputs=inputs,
        outputs=outputs,
        parameter_count=int(model.count_params()),
        repairs=tuple(dict.fromkeys(repairs)),
        keras_model=model,
    )


def _keras2_repair_classes(keras: Any, repairs: list[str]) -> dict[str, Any]:
    """Subclasses of Keras 3 layers whose ``from_config`` drops harmless Keras 2 keys."""
    classes = {}
    for name, dropped in _KERAS2_LEFTOVERS.items():
        base = getattr(keras.layers, name, None)
        if base is None:
            continue

        def from_config(cls: Any, config: dict[str, Any], _drop: tuple[str, ...] = dropped) -> Any:
            config = dict(config)
            if config.get("groups", 1) != 1:
                raise UnsupportedError(
                    f"layer {config.get('name')} ({cls.__name__}) has groups={config['groups']}, "
                    "which Keras 3 does not support for this layer"
                )
            removed = sorted(key for key in _drop if key in config)
            for key in removed:
                config.pop(key)
            if removed:
                repairs.append(f"{cls.__name__}: dropped Keras 2 config keys {', '.join(removed)}")
            return super(cls, cls).from_config(config)

        classes[name] = type(name, (base,), {"from_config": classmethod(from_config)})
    return classes


def _explain_load_failure(path: Path, exc: Exception, has_custom_file: bool) -> Exception:
    if isinstance(exc, UnsupportedError):
        return exc
    text = str(exc)
    if "Lambda" in text and "safe_mode" in text:
        return InputError(
            f"model {path} contains a Lambda layer, whose Python code Keras will not load in "
            "safe mode: pass --unsafe if you trust the file"
        )
    if "safe_mode" in text:
        return InputError(
            f"model {path} needs code that Keras will not load in safe mode: "
            "pass --unsafe if you trust the file"
        )
    missing = _unknown_object_name(text)
    if missing is not None:
        hint = (
            "the file given with --custom-objects does not define it"
            if has_custom_file
            else "pass --custom-objects module.py, a Python file that defines it"
        )
        return InputError(f"model {path} uses a custom object {missing!r} that edgeq cannot find: {hint}")
    return InputError(f"model {path} is not a loadable Keras model ({first_line(exc)})")


def _unknown_object_name(text: str) -> str | None:
    for marker in ("Could not locate class '", "Could not locate function '", "Unknown layer: '"):
        if marker in text:
            return text.split(marker, 1)[1].split("'", 1)[0]
    return None


def _read_custom_objects(module_path: Path) -> dict[str, Any]:
    """Import a user's Python file; use its ``custom_objects`` dict, else its public classes and functions."""
    if not module_path.is_file() or module_path.suffix != ".py":
        raise InputError(f"--custom-objects {module_path} is not a Python file")
    import_tensorflow()
    module_name = (
        f"edgeq_custom_objects_{hashlib.sha256(str(module_path.resolve()).encode()).hexdigest()[:12]}"
    )
    spec = importlib.util.spec_from_file_location(module_name, module_path)
    if spec is None or spec.loader is None:
        raise InputError(f"--custom-objects {module_path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's own code: report whatever it raised
        raise InputError(f"--custom-objects {module_path} failed to import ({first_line(exc)})") from exc
    declared = getattr(module, "custom_objects", None) or getattr(module, "CUSTOM_OBJECTS", None)
    if isinstance(declared, dict):
        return dict(declared)
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module_name
    }


def _load_saved_model(path: Path) -> SourceModel:
    tf = import_tensorflow()
    try:
        with quiet():
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # TensorFlow raises many types for broken folders
        raise InputError(f"model {path} is not a loadable SavedModel ({first_line(exc)})") from exc
    signature = getattr(loaded, "signatures", {}).get("serving_default")
    if signature is None:
        raise InputError(f"SavedModel {path} has no 'serving_default' signature to convert")
    input_specs = signature.structured_input_signature[1]
    inputs = tuple(
        TensorSpec(name=name, shape=tuple(spec.shape.as_list()), dtype=spec.dtype.name)
        for name, spec in sorted(input_specs.items())
    )
    output_specs = signature.structured_outputs
    outputs = tuple(
        TensorSpec(
            name=name, shape=tuple(output_specs[name].shape.as_list()), dtype=output_specs[name].dtype.name
        )
        for name in sorted(output_specs, key=output_order_key)
    )
    variables = getattr(loaded, "variables", None) or []
    parameters = int(sum(np.prod(v.shape) for v in variables)) if variables else None
    return SourceModel(
        path=path,
        kind="saved_model",
        sha256=_sha256_folder(path),
        inputs=inputs,
        outputs=outputs,
        parameter_count=parameters,
        repairs=(),
        saved_model=loaded,
    )


def _sha256_folder(path: Path) -> str:
    """Hash of every file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()
