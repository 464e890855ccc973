"""Hypothesis profiles: "ci" (default) is small and repeatable so the suite stays
fast; HYPOTHESIS_PROFILE=deep runs many more random examples when hunting bugs."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=120, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("deep", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
