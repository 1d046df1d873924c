"""Clean tests that use plugins in wide use: pytest-timeout and
hypothesis (skipped where they are not installed)."""
import pytest


@pytest.mark.timeout(60)
def test_timeout_mark():
    assert sum(range(10)) == 45


try:
    from hypothesis import given, settings, strategies as st
except ImportError:
    def test_hypothesis_given():
        pytest.skip("hypothesis is not installed")
else:
    @settings(max_examples=20, deadline=None, database=None)
    @given(st.lists(st.integers()))
    def test_hypothesis_given(xs):
        assert sorted(sorted(xs)) == sorted(xs)
