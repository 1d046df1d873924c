# The project examples/github-actions.yml is run on in tests/test_examples.py:
# one C extension (tests/ext/pdleaky.c, copied in by the test) and a suite
# that leaks.
from setuptools import Extension, setup

setup(name="pdleaky-project", version="0", ext_modules=[Extension("pdleaky", ["pdleaky.c"])])
