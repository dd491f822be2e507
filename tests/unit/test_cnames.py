import pytest

from edgeq.cnames import c_bytes, c_float, c_identifier, c_string, suggest_identifier
from edgeq.errors import InputError


@pytest.mark.parametrize("name", ["kws", "digits_cnn", "_private", "Model2"])
def test_valid_identifiers_pass(name):
    assert c_identifier(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("int", "keyword or reserved"),
        ("class", "keyword or reserved"),
        ("main", "keyword or reserved"),
        ("1model", "not a C identifier"),
        ("a-b", "try 'a_b'"),
        ("", "is empty"),
        ("__x", "reserved to the compiler"),
        ("_Model", "reserved to the compiler"),
        ("naïve", "not a C identifier"),
    ],
)
def test_bad_identifiers_are_refused_with_a_reason(name, fragment):
    with pytest.raises(InputError, match=fragment):
        c_identifier(name)


def test_suggestions_are_valid():
    for text in ("1model", "a-b", "int", "my model.v2", "---"):
        assert c_identifier(suggest_identifier(text))


def test_string_escapes_quotes_backslashes_newlines_and_utf8():
    assert c_string('say "hi"') == '"say \\"hi\\""'
    assert c_string("a\\b") == '"a\\\\b"'
    assert c_string("two\nlines") == '"two\\012lines"'
    assert c_string("??=") == '"\\077\\077="'
    assert c_string("é") == '"\\303\\251"'


def test_float_literals_round_trip_float32():
    import numpy as np

    for value in (0.00392156886, 1.0, 1e-8, 123456.789):
        text = c_float(value)
        assert text.endswith("f")
        assert np.float32(float(text[:-1])) == np.float32(value)
    with pytest.raises(InputError):
        c_float(float("nan"))


def test_byte_array_lines():
    assert c_bytes(bytes(range(14)), per_line=12) == (
        "  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,\n  0x0c, 0x0d,"
    )
