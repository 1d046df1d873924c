"""A whole program for python-debug -m pydebug leaks: warm up, mark the
start, do N rounds of work (each leaking one dict key in C), mark the end."""
import sys

import pdleaky
import pydebug


def work():
    pdleaky.lk_leaked_key({})
    pdleaky.ok_new_reference()


for _ in range(3):
    work()
pydebug.leaks_begin()
for _ in range(int(sys.argv[1])):
    work()
pydebug.leaks_end()
print("rounds", sys.argv[1])
