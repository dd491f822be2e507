import pytest

from edgeq.conversion.modes import ALL_VARIANTS, Variant, parse_modes
from edgeq.errors import InputError


def test_all_is_six_variants_with_int8_twice():
    keys = [v.key for v in parse_modes("all")]
    assert keys == ["float32", "float16", "dynamic", "int8", "int8_float_io", "int16x8"]
    assert parse_modes("all") == ALL_VARIANTS


def test_integer_modes_default_to_integer_io_and_io_float_keeps_float():
    assert parse_modes("int8") == (Variant("int8", "int8"),)
    assert parse_modes("int16x8") == (Variant("int16x8", "int16"),)
    assert parse_modes("int8", io="float") == (Variant("int8", "float32"),)
    assert parse_modes("int8,float16", io="float") == (
        Variant("int8", "float32"),
        Variant("float16", "float32"),
    )


def test_comma_list_is_deduplicated_and_case_insensitive():
    assert [v.key for v in parse_modes("Float16, int8,float16")] == ["float16", "int8"]


@pytest.mark.parametrize(
    ("mode", "io", "fragment"),
    [
        ("int3", "auto", "unknown mode 'int3'"),
        ("", "auto", "--mode is empty"),
        ("int8", "int4", "unknown --io"),
        ("float16", "float", "--io float applies to int8 and int16x8"),
        ("all,int8", "auto", "--mode all stands alone"),
        ("all", "float", "--mode all stands alone"),
    ],
)
def test_bad_modes_are_refused_with_the_choices(mode, io, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_modes(mode, io)


def test_variant_rejects_impossible_io():
    with pytest.raises(InputError):
        Variant("float16", "int8")
    assert Variant("int8", "float32").label == "int8 (float I/O)"
    assert Variant("int8", "int8").needs_calibration and not Variant("dynamic", "float32").needs_calibration


def test_low_bit_modes_have_their_io_keys_and_blocks():
    int4, dynamic, blocked, int2 = (
        *parse_modes("int4,dynamic-int4"),
        *parse_modes("dynamic-int4", block=32),
        *parse_modes("dynamic-int2"),
    )
    assert (int4.io, int4.key, int4.needs_calibration, int4.lowbit) == ("int8", "int4", True, True)
    assert (dynamic.io, dynamic.key, dynamic.needs_calibration) == ("float32", "dynamic_int4", False)
    assert (blocked.key, blocked.label) == ("dynamic_int4_b32", "dynamic-int4 (block 32)")
    assert int2.key == "dynamic_int2" and not Variant("int8", "int8").lowbit


@pytest.mark.parametrize(
    ("mode", "io", "block", "fragment"),
    [
        ("int4,int8", "float", None, "mode int4 has int8 input/output only"),
        ("int8", "auto", 32, "--block applies to mode dynamic-int4"),
        ("dynamic-int4", "auto", 48, "--block must be one of 32, 64, 128"),
        ("all", "auto", 64, "--block applies to dynamic-int4, which --mode all does not include"),
    ],
)
def test_low_bit_options_that_do_not_apply_are_refused(mode, io, block, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_modes(mode, io, block)
