"""python-debug demo: a compiled extension writes one byte past the end of
a 24-byte PyMem_Malloc block.  python (and PYTHONMALLOC=debug without
tracemalloc) cannot say who allocated it; python-debug names the C function
and the Python line."""
import pdbuggy

print("calling pdbuggy.overrun(): writes 25 bytes into a 24-byte block")
pdbuggy.overrun(1)
print("not reached: python-debug aborts after the report")
