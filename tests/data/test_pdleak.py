"""A unittest module that leaks on purpose, for regrtest -R under
python-debug -X sys-compat: every run keeps five more objects."""
import unittest

_hoard = []


class Leaky(unittest.TestCase):
    def test_keeps_objects(self):
        _hoard.append([object() for i in range(5)])


class Clean(unittest.TestCase):
    def test_keeps_nothing(self):
        self.assertEqual(len([object() for i in range(5)]), 5)
