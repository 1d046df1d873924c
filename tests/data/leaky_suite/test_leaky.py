"""A test suite for the leak hunter's own tests: each test calls one
function of the compiled extension pdleaky (six ways C code leaks, their
clean twins, a cache that fills while warming up) or leaks in Python, and
one clean test does what once made the harness itself grow."""
import warnings

import pytest

import pdleaky

_hoard = []  # the Python-level leak keeps its objects here


def test_lk_new_reference():
    pdleaky.lk_new_reference()


def test_ok_new_reference():
    pdleaky.ok_new_reference()


def test_lk_error_path():
    with pytest.raises(TypeError):
        pdleaky.lk_error_path("not an int")


def test_ok_error_path():
    with pytest.raises(TypeError):
        pdleaky.ok_error_path("not an int")


def test_lk_container_insert():
    pdleaky.lk_container_insert([])


def test_ok_container_insert():
    pdleaky.ok_container_insert([])


def test_lk_extra_return():
    pdleaky.lk_extra_return()


def test_ok_extra_return():
    pdleaky.ok_extra_return()


def test_lk_leaked_key():
    pdleaky.lk_leaked_key({})


def test_ok_leaked_key():
    pdleaky.ok_leaked_key({})


def test_lk_dealloc():
    pdleaky.lk_dealloc()


def test_ok_dealloc():
    pdleaky.ok_dealloc()


def test_cache_fills_while_warming_up():
    pdleaky.cached_lookup()


_existing = object()  # the one whose references test_lk_existing_reference leaks


def test_lk_existing_reference():
    """A reference to an object older than the test leaked: no block
    grows, only the reference total."""
    pdleaky.leak(_existing, 1)


def test_python_level_leak():
    _hoard.append(bytearray(b"kept"))


@pytest.fixture(scope="session")
def _session_resource():
    return object()


@pytest.fixture
def _per_test(_session_resource):
    return [_session_resource]


def test_ok_harness_growth(_per_test):
    """Clean, and does what made the plugin's own harness grow once: a
    function fixture set up on a session one (pytest leaves a finalizer
    on the session fixture each run), a warning shown every time (pytest's
    capture kept every run's), and a lookup of an attribute name no class
    has (before 3.12 the type cache keeps the name string where no walk
    sees it).  Undoing any one of the plugin's three fixes makes this test
    leak (the type cache's on 3.11)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # not once per location: every run
        warnings.warn("a warning every run", UserWarning)
    assert getattr(int, "no_such_attribute_%d" % len(_per_test), None) is None
