"""Clean tests, one per pytest feature that keeps something per run (an
output buffer, a log record, a warning, a temporary folder, a finalizer,
a report...).  None of them leaks: under --leaks each must be cleared
(tests/test_leaks.py, test_pytest_features_are_not_leaks)."""
import logging
import os
import sys
import unittest
import warnings

import pytest

log = logging.getLogger("feature_suite")


def test_print():
    print("some output", list(range(5)))


def test_stderr_write():
    sys.stderr.write("to stderr\n")


def test_capsys(capsys):
    print("captured")
    assert capsys.readouterr().out == "captured\n"


def test_capfd(capfd):
    os.write(1, b"fd output\n")
    assert capfd.readouterr().out == "fd output\n"


def test_capsysbinary(capsysbinary):
    print("bytes")
    assert capsysbinary.readouterr().out == b"bytes\n"


def test_caplog(caplog):
    with caplog.at_level(logging.INFO):
        log.info("a record %d", 1)
    assert "a record 1" in caplog.text


def test_logging_warning():
    log.warning("a warning record every run")


def test_logging_exception():
    try:
        raise ValueError("logged")
    except ValueError:
        log.exception("with a traceback")


def test_recwarn(recwarn):
    warnings.warn("recorded", UserWarning)
    assert len(recwarn) == 1


def test_pytest_warns():
    with pytest.warns(DeprecationWarning):
        warnings.warn("deprecated", DeprecationWarning)


def test_warning_not_caught():
    warnings.warn("shown in the summary", UserWarning)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_filterwarnings_mark():
    warnings.warn("ignored", UserWarning)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_filterwarnings_error():
    with pytest.raises(RuntimeWarning):
        warnings.warn("an error", RuntimeWarning)


def test_tmp_path(tmp_path):
    (tmp_path / "f.txt").write_text("x" * 100)
    assert (tmp_path / "f.txt").read_text() == "x" * 100


def test_tmpdir(tmpdir):
    tmpdir.join("g.txt").write("y")


def test_tmp_path_factory(tmp_path_factory):
    d = tmp_path_factory.mktemp("made")
    (d / "h").write_bytes(b"z")


def test_monkeypatch(monkeypatch):
    monkeypatch.setenv("PYDEBUG_FEATURE", "1")
    monkeypatch.setattr(os, "sep", "/")
    monkeypatch.setitem(sys.modules, "feature_fake", object())
    monkeypatch.syspath_prepend("/nonexistent-feature-dir")
    monkeypatch.chdir("/")
    assert os.environ["PYDEBUG_FEATURE"] == "1"


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("s", ["a", "b"])
def test_parametrized(n, s):
    assert len(s * n) == n


@pytest.mark.parametrize("obj", [object(), [1, 2], {"k": "v"}], ids=["obj", "list", "dict"])
def test_parametrized_objects(obj):
    assert obj is not None


class TestClassBased:
    def setup_method(self):
        self.data = [1, 2, 3]

    def teardown_method(self):
        del self.data

    def test_method(self):
        assert sum(self.data) == 6

    def test_class_fixture(self, class_res):
        assert class_res == ["class"]


class TestClassSetup:
    @classmethod
    def setup_class(cls):
        cls.shared = {"a": 1}

    def test_uses_shared(self):
        assert self.shared["a"] == 1


class UnitTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = [1]

    def setUp(self):
        self.items = list(range(3))

    def tearDown(self):
        self.items = None

    def test_assertions(self):
        self.assertEqual(len(self.items), 3)
        with self.assertRaises(KeyError):
            {}["missing"]

    def test_subtest(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 3)

    @unittest.skip("skipped by unittest")
    def test_unittest_skip(self):
        pass

    def test_addcleanup(self):
        box = []
        self.addCleanup(box.clear)
        box.append(1)


def test_fixtures_of_every_scope(session_auto, package_res, module_res, function_auto):
    assert module_res["module"] and package_res and session_auto


@pytest.fixture
def yielding():
    res = {"open": True}
    yield res
    res["open"] = False


def test_yield_fixture(yielding):
    assert yielding["open"]


@pytest.fixture
def with_finalizer(request):
    box = [1]
    request.addfinalizer(box.clear)
    return box


def test_addfinalizer(with_finalizer):
    assert with_finalizer == [1]


def test_skip_inside():
    pytest.skip("skipped from inside the test")


def test_xfail_inside():
    pytest.xfail("xfailed from inside the test")


@pytest.mark.xfail(reason="fails on purpose", strict=True)
def test_xfail_mark():
    assert False


@pytest.mark.skipif(True, reason="a skipif mark")
def test_skipif_mark():
    pass


def test_raises_match():
    with pytest.raises(ValueError, match="bad"):
        raise ValueError("bad value")


def test_approx():
    assert 0.1 + 0.2 == pytest.approx(0.3)


def test_request_node(request):
    request.node.user_properties.append(("k", "v"))
    assert request.node.name == "test_request_node"


def test_record_property(record_property):
    record_property("key", "value")


def test_doctest_like():
    """A docstring is no doctest here; square's below is."""
    assert square(3) == 9


def square(x):
    """
    >>> square(4)
    16
    """
    return x * x
