"""The one Jinja2 loader for every file edgeq generates: firmware bundles, the C engine, benchmark
harnesses, the Android module and the HTML report.

Templates are package data read through ``importlib.resources``, so they are found the same way
from a checkout, an editable install or a wheel installed anywhere. Every environment uses
``StrictUndefined``: a missing variable is an error, never an empty string.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

FIRMWARE = "edgeq.firmware_templates"  # the repository's firmware_templates/, shipped in the wheel


def template_root(package: str = FIRMWARE) -> resources.abc.Traversable:
    """The folder of package data holding ``package``'s templates."""
    return resources.files(package)


def environment(
    package: str = FIRMWARE, *, autoescape: bool = False, block_lines: bool = False
) -> jinja2.Environment:
    """A Jinja2 environment over ``package``'s files.

    ``autoescape`` for HTML (off for C, Kotlin and text); ``block_lines`` when block tags sit on
    lines of their own and must leave no blank line behind (Jinja2's trim_blocks and lstrip_blocks).
    """
    import jinja2

    root = template_root(package)

    def load(name: str) -> tuple[str, None, None]:
        node = root
        for part in name.split("/"):
            if part in ("", ".", ".."):
                raise jinja2.TemplateNotFound(name)
            node = node / part
        if not node.is_file():
            raise jinja2.TemplateNotFound(name)
        return node.read_text(encoding="utf-8"), None, None

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=autoescape,
        trim_blocks=block_lines,
        lstrip_blocks=block_lines,
    )


def read_text(package: str, name: str) -> str:
    """A package-data file as text (a stylesheet, a C source)."""
    return (template_root(package) / name).read_text(encoding="utf-8")
