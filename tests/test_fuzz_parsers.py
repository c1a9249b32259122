"""Property-based tests of every parser of user input (hypothesis): any input either parses to a
valid object or raises the project's typed error; nothing else is ever raised.

The inputs are drawn both as raw bytes and as structured JSON close to each format (the real
keys, values of every JSON type), so the checks behind the format's first line are reached.
The same targets run under the coverage-guided fuzzer: ``tests/fuzz/run_atheris.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _optional import require  # noqa: E402

hypothesis = require("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import targets as T  # noqa: E402

SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["photo.png", "circle", "flow left", "motion", "hint", "polygon", "line", "1e12"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
points = st.lists(
    st.lists(
        st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**13), 10**13),
        min_size=0,
        max_size=3,
    ),
    max_size=5,
)


def dumps(obj) -> bytes:
    return json.dumps(obj).encode()


@SETTINGS
@given(st.binary(max_size=300))
@pytest.mark.parametrize("name", sorted(T.TARGETS))
def test_raw_bytes_never_crash_a_parser(name, data):
    T.TARGETS[name](data)


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "label": st.sampled_from(["motion", "motion_water", "hint", "hint1", "other"]) | json_values,
                "points": points | json_values,
                "shape_type": st.sampled_from(["polygon", "rectangle", "line", "linestrip", "circle"])
                | json_values,
            },
        ),
        max_size=4,
    ),
    st.one_of(st.none(), st.integers(-5, 10**12), st.floats()),
    st.one_of(st.none(), st.integers(-5, 10**12), st.floats()),
)
def test_labelme_structured(shapes, iw, ih):
    doc = {"shapes": shapes}
    if iw is not None:
        doc["imageWidth"] = iw
    if ih is not None:
        doc["imageHeight"] = ih
    T.labelme(dumps(doc))


@SETTINGS
@given(
    st.sampled_from(["pixels_per_frame", "px", None]) | json_values,
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                k: st.floats(allow_nan=True) | st.integers(-(10**13), 10**13) | json_values for k in "xy"
            }
            | {k: st.floats(allow_nan=True) | json_values for k in ("dx", "dy")},
        ),
        max_size=4,
    )
    | json_values,
)
def test_hints_structured(units, items):
    T.hints(dumps({"units": units, "hints": items}))


@SETTINGS
@given(st.data())
def test_project_structured(data):
    from cinemagraph3d.project import V1_FIELDS

    keys = data.draw(st.lists(st.sampled_from(sorted(V1_FIELDS)), max_size=5, unique=True))
    obj = {"version": data.draw(st.sampled_from([1, 1, 1, 2, "1", None])), "image": "photo.png"}
    for k in keys:
        obj[k] = data.draw(json_values)
    if data.draw(st.booleans()):
        obj["regions"] = data.draw(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "mask": json_values,
                        "clicks": points,
                        "sky": json_values,
                        "prompts": st.lists(
                            st.sampled_from(["flow left", "swirl cw fast", "x"]) | json_values
                        ),
                        "video": json_values,
                        "speed": json_values,
                    },
                ),
                max_size=2,
            )
        )
    T.project(dumps(obj))


matrix_entries = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.integers(-(10**20), 10**20)


@SETTINGS
@given(
    st.lists(st.lists(st.lists(matrix_entries, min_size=4, max_size=4), min_size=4, max_size=4), max_size=4)
    | json_values,
    st.lists(st.lists(matrix_entries, min_size=3, max_size=3), min_size=3, max_size=3) | json_values,
    st.booleans(),
)
def test_trajectory_structured(poses, K, keyframes):
    if keyframes:
        doc = {
            "keyframes": [
                {"position": p[0][:3] if isinstance(p, list) and p and isinstance(p[0], list) else p}
                for p in (poses if isinstance(poses, list) and poses else [0])
            ]
        }
    else:
        doc = {"K": K, "cam_from_world": poses}
    T.trajectory(dumps(doc))


@SETTINGS
@given(st.binary(min_size=3, max_size=400))
def test_depth_arrays(data):
    T.depth_array(data)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "format_version": st.integers(-2, 3) | json_values,
            "architecture": st.sampled_from(["image_decoder", "feature_encoder", "x"]) | json_values,
            "config": st.dictionaries(st.sampled_from(["in_channels", "base_channels", "a"]), json_values)
            | json_values,
        },
    )
)
def test_weights_manifest_structured(doc):
    T.weights_manifest(dumps(doc))


@SETTINGS
@given(
    st.text(alphabet="0123456789,.-e+ infatslowmedium", max_size=20)
    | st.sampled_from(["flow left", "swirl cw fast", "ripple in 2", "fall 1e400", "drift up-left slow"])
)
def test_cli_value_text(text):
    T.cli_values(text.encode())


def test_targets_accept_valid_inputs_too():
    """The targets are not vacuous: valid documents parse (and pass the targets' own checks)."""
    from cinemagraph3d.motion import load_hints, load_labelme

    lab = {"shapes": [{"label": "motion", "shape_type": "polygon", "points": [[2, 2], [30, 2], [30, 20]]}]}
    T.labelme(dumps(lab))
    mask, _ = load_labelme(T._DIR / "l.json", T.H, T.W)
    assert int(mask.sum()) > 50
    T.hints(dumps({"units": "pixels_per_frame", "hints": [{"x": 3, "y": 4, "dx": 1, "dy": 0}]}))
    assert len(load_hints(T._DIR / "h.json", T.H, T.W)) == 1
