import numpy as np
import pytest

from omamori.errors import Cancelled, InputError, ParamError
from omamori.filters.base import CancelToken, Filter
from omamori.i18n import Text
from omamori.params import Param
from omamori.pipeline import build_steps, run_steps
from omamori.registry import Registry

T = Text("t", "t")


class Brighten(Filter):
    """Adds `amount` and also (wrongly) tries to change alpha: the pipeline must stop that."""
    name = "brighten"
    params = (Param("amount", "float", 0.1, T, T, min=0, max=1),)

    def apply(self, rgba, settings, ctx):
        ctx.report(0.5, "half")
        return np.clip(rgba + settings["amount"], 0, 1).astype(np.float32)


class Mutator(Filter):
    name = "mutator"

    def apply(self, rgba, settings, ctx):
        rgba[0, 0, 0] = 1.0
        return rgba


class Noisy(Filter):
    name = "noisy"

    def apply(self, rgba, settings, ctx):
        return np.clip(rgba + ctx.rng().normal(0, 0.1, rgba.shape), 0, 1).astype(np.float32)


@pytest.fixture
def registry():
    reg = Registry()
    for f in (Brighten(), Mutator(), Noisy()):
        reg.add(f)
    return reg


def test_steps_run_in_order_and_keep_alpha(rgba, registry):
    steps = build_steps([{"filter": "brighten", "params": {"amount": 0.2}}, {"filter": "brighten"}], registry)
    before = rgba.copy()
    out = run_steps(rgba, steps)
    np.testing.assert_array_equal(rgba, before)
    np.testing.assert_allclose(out[..., :3], np.clip(np.clip(rgba[..., :3] + 0.2, 0, 1) + 0.1, 0, 1), atol=1e-6)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


def test_filters_get_a_read_only_input(rgba, registry):
    with pytest.raises(ValueError, match="read-only"):
        run_steps(rgba, build_steps([{"filter": "mutator"}], registry))


def test_progress_is_monotonic_and_ends_at_one(rgba, registry):
    seen = []
    run_steps(rgba, build_steps([{"filter": "brighten"}] * 3, registry), progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 6


def test_cancel_stops_and_leaves_input(rgba, registry):
    token = CancelToken()
    token.cancel()
    before = rgba.copy()
    with pytest.raises(Cancelled):
        run_steps(rgba, build_steps([{"filter": "brighten"}], registry), cancel=token)
    np.testing.assert_array_equal(rgba, before)


class CancelledMeanwhile(Filter):
    """Finishes its work although cancel was pressed while it ran (it never looks at the token)."""
    name = "late"

    def apply(self, rgba, settings, ctx):
        ctx.cancel.cancel()
        return np.clip(rgba + 0.1, 0, 1).astype(np.float32)


def test_a_result_finished_after_cancel_is_not_returned(rgba):
    registry = Registry()
    registry.add(CancelledMeanwhile())
    with pytest.raises(Cancelled):
        run_steps(rgba, build_steps([{"filter": "late"}], registry))


def test_deterministic_for_a_seed(rgba, registry):
    steps = build_steps([{"filter": "noisy"}], registry)
    np.testing.assert_array_equal(run_steps(rgba, steps, seed=3), run_steps(rgba, steps, seed=3))
    assert not np.array_equal(run_steps(rgba, steps, seed=3), run_steps(rgba, steps, seed=4))


def test_mask_limits_the_effect_to_the_selection(rgba, registry):
    mask = np.zeros(rgba.shape[:2], np.float32)
    mask[:, :32] = 1.0
    out = run_steps(rgba, build_steps([{"filter": "brighten", "params": {"amount": 0.3}}], registry), mask=mask)
    np.testing.assert_array_equal(out[:, 32:], rgba[:, 32:])
    assert np.all(out[:, :32, :3] >= rgba[:, :32, :3]) and not np.array_equal(out[:, :32], rgba[:, :32])


def test_bad_steps_are_reported_before_running(registry):
    with pytest.raises(ParamError, match="unknown filter 'nope'"):
        build_steps([{"filter": "nope"}], registry)
    with pytest.raises(ParamError, match=r"p.json: step 2 \(brighten\): amount"):
        build_steps([{"filter": "brighten"}, {"filter": "brighten", "params": {"amount": 5}}], registry, "p.json: ")


def test_rejects_pixels_that_are_not_float_rgba(registry):
    with pytest.raises(InputError):
        run_steps(np.zeros((4, 4, 3), np.float32), [])
