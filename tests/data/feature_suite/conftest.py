"""Fixtures of every scope, autouse ones and yield ones, for the feature
suite (test_features.py): each holds something for the length of its
scope, as real suites' fixtures do."""
import pytest


@pytest.fixture(scope="session", autouse=True)
def session_auto():
    yield {"session": [1, 2, 3]}


@pytest.fixture(scope="package")
def package_res():
    return ["package"]


@pytest.fixture(scope="module")
def module_res():
    res = {"module": bytearray(16)}
    yield res
    res.clear()


@pytest.fixture(scope="class")
def class_res():
    return ["class"]


@pytest.fixture(autouse=True)
def function_auto(session_auto):
    yield [session_auto]
