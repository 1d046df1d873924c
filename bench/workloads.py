"""The benchmark workloads; each runs for roughly a second under python.
Run as: python workloads.py NAME"""
import json
import re
import sys


def alloc():
    for _ in range(30):
        xs = [(i, str(i), [i]) for i in range(20000)]
        d = {i: x for i, x in enumerate(xs)}
        del xs, d


def calls():
    def f(a, b=1):
        return a + b

    class C:
        def m(self, x):
            return f(x)

    c = C()
    t = 0
    for i in range(1500000):
        t += c.m(i)


def jsonw():
    doc = {"k%d" % i: [i, str(i) * 3, {"x": i / 3, "y": [True, None]}] for i in range(2000)}
    for _ in range(40):
        json.loads(json.dumps(doc))


def regex():
    text = " ".join("word%d foo@bar%d.com 12-34-%d" % (i, i, i) for i in range(20000))
    pat = re.compile(r"(\w+)@(\w+)\.com|(\d+)-(\d+)-(\d+)")
    for _ in range(8):
        sum(1 for _ in pat.finditer(text))
        re.sub(r"word(\d+)", r"W\1", text)


def strings():
    parts = []
    for i in range(300000):
        s = "item-%d" % i
        parts.append(s.upper().replace("ITEM", "x")[::-1])
    "|".join(parts).split("|")


WORKLOADS = {"alloc": alloc, "calls": calls, "json": jsonw, "regex": regex, "strings": strings}

if __name__ == "__main__":
    WORKLOADS[sys.argv[1]]()
