"""The leak hunter: run something WARMUP times, then REPEAT times, and call
it leaking only when it grows in every measured run - the rule of
CPython's refleak hunter (regrtest -R), so caches that fill while warming
up are not leaks.  Then say what leaked: the objects by type, and for a
sample of them where they were allocated and why they are still alive:

  orphan     its reference count is higher than the references live
             objects and running frames hold to it: nobody can give the
             extra ones back - the signature of a missing Py_DECREF in C;
  reachable  every reference is accounted for: a container holds it, and
             the chain of referrers up to a module, class or frame says
             which one (a cache, or a leak in Python code).

Facts come from _pydebug (the python-debug host): the reference total and
live objects from object accounting, allocation sites and block counts
from the debug allocator.  Under -X malloc=objects there are no sites and
no serial numbers: leaked objects are then found by address, and the
result says which figures are approximate."""
import array
import collections
import gc
import itertools
import sys
import types

import _pydebug

__all__ = ["LeakResult", "LeakedObject", "leakcheck", "leaks_begin", "leaks_end"]


def _blocks_and_bytes():
    """Live mem and object blocks, and their bytes.  Blocks of the
    interpreter's allocator (made while python-debug stood aside, see
    _pydebug._step_in) are not counted, but their frees are taken off: a
    run that frees an old block and makes a new one holds as many.  Their
    bytes are not known: bytes count ours only."""
    if _pydebug.active:
        st = _pydebug.allocator_stats()["domains"]
        return (st["mem"]["blocks"] + st["object"]["blocks"]
                - st["mem"]["foreign_frees"] - st["object"]["foreign_frees"],
                st["mem"]["bytes"] + st["object"]["bytes"])
    return sys.getallocatedblocks(), 0


# Collections that look only at what is new -------------------------------
# A full collection walks every object the collector tracks: in a pytest
# process tens of thousands, most of them pytest's and the suite's modules',
# there before the check began and alive after it.  Frozen (gc.freeze:
# moved to the collector's permanent generation, a splice of its lists),
# they are no longer walked: each collection after a run then costs what
# the runs made, not the heap.  Exact for the measurement: every object a
# run made is still collected after it.  An old object that becomes
# garbage while frozen is not collected until it is thawed; it only stays,
# so it can add to a run's growth (a possible extra check), never hide it.
# What the program froze itself (CPython 3.12 freezes a few hundred objects
# at start-up) is thawed with the rest after the check.
_frozen = False   # gc.freeze() was ours
_checks = 0       # checks since the last thaw
_many = False     # checks follow one another (a test session): stay frozen


def many_checks(on):
    """Stay frozen between checks (on), or thaw now (off): the pytest
    plugin's checks follow one another, and what survives one test is
    frozen before the next, the rest of the heap staying frozen."""
    global _many
    _many = bool(on)
    if not _many:
        _thaw()


def _freeze_old():
    """Before a check: collect what is new, then freeze all that is left.
    Every THAW_EVERY checks thaw first, so that old objects that became
    garbage meanwhile are collected (one full collection)."""
    global _frozen, _checks
    _checks += 1
    if _frozen and _checks >= THAW_EVERY:
        _thaw()
        _checks = 0
    gc.collect()
    gc.freeze()
    _frozen = True


def _thaw():
    """Back to one heap for the collector (gc.get_objects() and
    gc.get_referrers() see only what is not frozen)."""
    global _frozen
    if _frozen:
        gc.unfreeze()
        _frozen = False


THAW_EVERY = 256


def _settle():
    """After each run: empty the type attribute cache, whose entries hold
    references to attribute names from a static C array (a fresh name per
    lookup before 3.12: invisible holders, seen as orphans that grow), then
    collect.  CPython's refleak hunter clears it too.  3.14 deprecates
    _clear_type_cache for _clear_internal_caches (a warning per call, which
    pytest keeps: a leak of our own making)."""
    (getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache)()
    gc.collect()


# Extra sets of measured runs for a mixed verdict (see _leakcheck).
RETRIES = 2


def _grows(deltas):
    """The rule: grew in every measured run."""
    return all(d >= 1 for d in deltas)


class LeakedObject:
    """One leaked object of the sample."""

    def __init__(self, obj, kind, refcount, held, chain, site):
        self.type_name = type(obj).__qualname__ if type(obj).__module__ == "builtins" \
            else "%s.%s" % (type(obj).__module__, type(obj).__qualname__)
        self.address = id(obj)
        try:
            self.repr = repr(obj)[:200]
        except Exception as e:  # a broken __repr__ must not stop the report
            self.repr = "<repr failed: %s>" % type(e).__name__
        self.kind = kind          # "orphan" or "reachable"
        self.refcount = refcount  # references it has
        self.held = held          # references found from objects and frames
        self.chain = chain        # reachable: referrers, innermost first
        self.site = site          # allocation site text, or None
        self.keeps = {}           # type name -> leaked objects it keeps alive
        self.contents = []        # a sample of those it holds itself

    def as_dict(self):
        d = {k: getattr(self, k) for k in
             ("type_name", "address", "repr", "kind", "refcount", "held", "chain", "site",
              "keeps")}
        d["contents"] = [o.as_dict() for o in self.contents]
        return d

    def describe(self, indent="  "):
        out = ["%s%s at %#x: %s (%s: %d references, %d found)" % (
            indent, self.type_name, self.address, self.repr, self.kind, self.refcount, self.held)]
        if self.chain:
            out.append(indent + "  held by: " + " <- ".join(self.chain))
        if self.site:
            out += [indent + "  " + line for line in self.site.rstrip("\n").split("\n")]
        if self.keeps:
            out.append(indent + "  keeps alive: " + ", ".join(
                "%d %s" % (n, t) for t, n in sorted(self.keeps.items(), key=lambda kv: -kv[1])))
        for o in self.contents:
            out.append(o.describe(indent + "    "))
        return "\n".join(out)


class LeakResult:
    """What leakcheck() found."""

    def __init__(self, name, warmup, repeat):
        self.name = name
        self.warmup = warmup
        self.repeat = repeat
        self.refs = []      # growth in each measured run
        self.blocks = []
        self.bytes = []
        self.by_type = {}   # type name -> objects left per run (may be fractional)
        self.objects = []   # LeakedObject sample
        self.approximate = []  # names of figures that are not exact here
        self.error = None   # the exception a run raised, if any
        self.runs = 0       # how many times it ran to be measured
        self.cleared = False  # cleared by the screen (refs/blocks: its runs)
        self.interned = 0   # strings CPython keeps forever, left per run (not a leak)

    @property
    def leaked(self):
        if self.error is not None or not self.refs:
            return False
        return _grows(self.refs) or _grows([b - self.interned for b in self.blocks])

    def as_dict(self):
        return {"name": self.name, "leaked": self.leaked, "warmup": self.warmup,
                "repeat": self.repeat, "refs": self.refs, "blocks": self.blocks,
                "bytes": self.bytes, "by_type": self.by_type,
                "objects": [o.as_dict() for o in self.objects],
                "approximate": self.approximate, "runs": self.runs,
                "cleared_by_screen": self.cleared, "interned_forever": self.interned,
                "error": None if self.error is None else repr(self.error)}

    def report(self):
        if not self.leaked:
            return "%s: no leak (references %s, blocks %s per run%s%s)" % (
                self.name, self.refs, self.blocks,
                ", cleared after %d runs" % self.runs if self.cleared else "",
                ", of which %g interned strings CPython keeps forever" % self.interned
                if self.interned else "")
        out = ["%s leaked: %s references, %s blocks, %s bytes per run" % (
            self.name, self.refs, self.blocks, self.bytes)]
        if self.approximate:
            out.append("  approximate here: " + ", ".join(self.approximate))
        if self.by_type:
            out.append("  objects left per run, by type: " + ", ".join(
                "%s %g" % kv for kv in sorted(self.by_type.items(), key=lambda kv: -kv[1])))
        for o in self.objects:
            out.append(o.describe())
        return "\n".join(out)

    def __repr__(self):
        return "<LeakResult %s leaked=%s refs=%s>" % (self.name, self.leaked, self.refs)


def _referrers(targets, ignore):
    """[(references, found, holders)] per target; ignore: a tuple or list of
    our own objects, which hold no one."""
    if isinstance(ignore, list):
        ignore = tuple(ignore) + (ignore,)
    tracked = gc.get_objects()
    try:
        return _pydebug._referrers(targets, ignore, tracked)
    finally:
        del tracked


def _is_root(o):
    return isinstance(o, (types.ModuleType, type, types.FrameType))


def _describe_holder(holder, held):
    """A short name for one link of a referrer chain."""
    if isinstance(holder, types.ModuleType):
        return "module %s" % holder.__name__
    if isinstance(holder, type):
        return "class %s" % holder.__qualname__
    if isinstance(holder, types.FrameType):
        return "frame %s (%s:%d)" % (holder.f_code.co_name, holder.f_code.co_filename,
                                     holder.f_lineno)
    if isinstance(holder, dict):
        for k, v in holder.items():
            if v is held:
                return "dict[%r]" % (k,)
        return "dict (as a key)"
    if isinstance(holder, (list, tuple)):
        for i in range(len(holder)):
            if holder[i] is held:
                return "%s[%d]" % (type(holder).__name__, i)
    return "%s at %#x" % (type(holder).__qualname__, id(holder))


def _module_of_namespace(d, ignore=()):
    """The module whose __dict__ d is, or None."""
    for m in list(sys.modules.values()):
        if isinstance(m, types.ModuleType) and getattr(m, "__dict__", None) is d:
            return m
    return None


def _best_holder(holders, ignore):
    """Prefer the holders that end a chain: modules' namespaces, classes."""
    holders = [h for h in holders if not any(h is x for x in ignore)]
    for h in holders:
        if _is_root(h):
            return h
    for h in holders:
        if isinstance(h, dict) and _module_of_namespace(h, ignore) is not None:
            return h
    return holders[0] if holders else None


def _chain(obj, holders, ignore, limit=8):
    """Follow the best referrer at a time up to a module, class or frame."""
    chain, held = [], obj
    holder = _best_holder(holders, ignore)
    seen = [obj]
    while holder is not None and len(chain) < limit and not any(holder is x for x in seen):
        seen.append(holder)
        if isinstance(holder, dict):
            owner = _module_of_namespace(holder, ignore)
            if owner is not None:
                name = next((k for k, v in holder.items() if v is held), "?")
                chain.append("module %s, global %r" % (owner.__name__, name))
                return chain
        chain.append(_describe_holder(holder, held))
        if _is_root(holder):
            return chain
        held = holder
        holder = _best_holder(_referrers([held], ignore)[0][2], ignore)
    return chain


def _sets(raw):
    return [frozenset(memoryview(b).cast("Q")) for b in raw]


def _born_in(a, snaps):
    """The run after which the object at a appeared and stayed (1..), or 0
    if it was there before the first run or came after the last."""
    j = len(snaps) - 1
    if a not in snaps[j]:
        return 0
    while j > 0 and a in snaps[j - 1]:
        j -= 1
    return j


def _type_name(t):
    return t.__qualname__ if t.__module__ == "builtins" else "%s.%s" % (t.__module__, t.__qualname__)


def _leak_tree(left):
    """Which leaked objects hold which: {id(holder): [held]}, and the ids of
    the leaked objects another leaked object holds."""
    ids = {id(o) for o in left}
    kids, held = {}, set()
    for o in left:
        for r in gc.get_referents(o):
            if r is not o and id(r) in ids:
                kids.setdefault(id(o), []).append(r)
                held.add(id(r))
    return kids, held


def _kept_by(root, kids):
    """Type name -> count of the leaked objects root keeps alive."""
    seen, todo, counts = {id(root)}, [root], collections.Counter()
    while todo:
        for k in kids.get(id(todo.pop()), ()):
            if id(k) not in seen:
                seen.add(id(k))
                todo.append(k)
                counts[_type_name(type(k))] += 1
    return dict(counts)


def _describe_leftovers(res, left, per, sample):
    """Fill res.by_type (objects per run) and res.objects (a classified
    sample with sites) from the leaked objects `left`.  The sample leads
    with the roots, the leaked objects no other leaked object holds (in a
    C leak, the orphan nobody can release); what each keeps alive is
    listed under it."""
    counts = collections.Counter(type(o) for o in left)
    res.by_type = {_type_name(t): n / per for t, n in counts.items()}
    kids, held = _leak_tree(left)
    roots = [o for o in left if id(o) not in held] or list(left)
    root_counts = collections.Counter(type(o) for o in roots)
    picked = []
    for t, _ in root_counts.most_common():
        picked += [o for o in roots if type(o) is t][:sample]
        if len(picked) >= 3 * sample:
            break
    inner = [kids.get(id(o), [])[:sample] for o in picked]
    keeps = [_kept_by(o, kids) for o in picked]
    del roots, kids, held
    left.clear()
    flat = picked + [k for ks in inner for k in ks]
    infos = _referrers(flat, ())
    ignore = [picked, flat, inner, infos, res.objects, counts] + infos + inner
    ignore.append(ignore)
    chains = 0
    at = len(picked)
    for i, o in enumerate(picked):
        refcount, nheld, holders = infos[i]
        # more references than anything holds: nobody can give them back
        kind = "orphan" if refcount > nheld else "reachable"
        chain = []
        if kind == "reachable" and chains < 3:  # each link is a heap walk
            chain = _chain(o, holders, ignore)
            chains += 1
        lo = LeakedObject(o, kind, refcount, nheld, chain, _pydebug.allocation_site(o))
        lo.keeps = keeps[i]
        for k in inner[i]:  # held by o: no chain to follow
            refcount, nheld, _ = infos[at]
            at += 1
            lo.contents.append(LeakedObject(k, "orphan" if refcount > nheld else "reachable",
                                            refcount, nheld, [], _pydebug.allocation_site(k)))
        res.objects.append(lo)


def leakcheck(func, *args, warmup=3, repeat=3, sample=3, name=None, screen=True, **kwargs):
    """Call func(*args, **kwargs) warmup times, then repeat times; return a
    LeakResult.  It leaks when references (or blocks) grew in every one of
    the repeat runs.  With screen (and warmup >= 1), a function that grew
    in neither after its first run is cleared there (see _leakcheck)."""
    return _check(func, args, kwargs, warmup, repeat, sample, name, screen, 0)


def check_after_run(func, warmup, repeat, name):
    """leakcheck(func), the screen on, for a func the caller has just run
    once: that run is the first warm-up (the pytest plugin's reported run)."""
    return _check(func, (), {}, warmup, repeat, 3, name, True, 1)


def _check(func, args, kwargs, warmup, repeat, sample, name, screen, warmed):
    # Where the interpreter tells of births (the reference tracer, 3.13.3+
    # while CPython's free lists are on), record them: a tuple taken from a
    # free list then names its own birth site, not an older tuple's.
    births = _pydebug._births(True)
    try:
        _freeze_old()
        return _leakcheck(func, args, kwargs, warmup, repeat, sample, name, screen, warmed)
    finally:
        if not _many:
            _thaw()
        if births:
            _pydebug._births(False)


def _other_threads():
    """Another thread can make or free objects while a run is measured."""
    import threading
    return threading.active_count() > 1


def _leakcheck(func, args, kwargs, warmup, repeat, sample, name, screen, warmed):
    if warmup < 0 or repeat < 1:
        raise ValueError("leakcheck: warmup must be >= 0 and repeat >= 1")
    res = LeakResult(name or getattr(func, "__qualname__", repr(func)), warmup, repeat)
    if not _pydebug.active:
        res.approximate += ["bytes (no debug allocator)",
                            "allocation sites (none without the debug allocator)"]
    if _pydebug.accounting()["objects"] == "unavailable":
        raise RuntimeError("leakcheck needs python-debug with -X malloc=on or -X malloc=objects")
    # Measurements go to C arrays: no object is created or kept between two
    # of them (an int kept for the next subtraction would count as growth).
    threaded = _other_threads()
    # room for the screen's two measured runs too (REPEAT may be 1)
    vals = array.array("q", bytes(8 * 4 * (max(repeat, 2) + 1)))
    gettotal, blocks_bytes = _pydebug.gettotalrefcount, _blocks_and_bytes
    # Blocks other threads allocated and freed: a run in which they touched
    # none was measured as if this thread were alone.  Without the debug
    # allocator nobody counts them: every run is taken as touched.
    others = _pydebug._others if _pydebug.active else itertools.count().__next__

    def measured(n):
        """n runs, measured before the first and after each: the growth
        in each run, as three lists, and whether another thread touched
        the heap during each."""
        for k in range(n + 1):
            if k:
                func(*args, **kwargs)
                _settle()
            vals[4 * k + 3] = others()
            vals[4 * k] = gettotal()
            vals[4 * k + 1], vals[4 * k + 2] = blocks_bytes()
        return ([vals[4 * k + 4] - vals[4 * k] for k in range(n)],
                [vals[4 * k + 5] - vals[4 * k + 1] for k in range(n)],
                [vals[4 * k + 6] - vals[4 * k + 2] for k in range(n)],
                [threaded and vals[4 * k + 7] != vals[4 * k + 3] for k in range(n)])

    try:
        done = 0
        # The screen: one warm-up, then one measured run (two when another
        # thread allocated or freed during it, which can hide the run's
        # growth by freeing what it made before).  A leak grows in every
        # run once warm, so a run in which neither the references nor the
        # blocks grew clears the test; anything else goes on to the full
        # rule below, the screen's runs counted as warm-ups.  Most tests
        # are clean: they cost two runs instead of WARMUP + REPEAT.
        if screen and warmup >= 1:
            if not warmed:
                func(*args, **kwargs)
            _settle()
            refs, blocks, nbytes, busy = measured(1)
            done = 2
            if busy[0]:
                refs, blocks, nbytes, busy = measured(2)
                done = 4
            res.runs = done
            if not any(d >= 1 for d in refs + blocks):
                res.refs, res.blocks, res.bytes = refs, blocks, nbytes
                res.cleared = True
                return res
        for i in range(max(0, warmup - done)):
            func(*args, **kwargs)
        _settle()
        # Counts are the whole process's: another thread (pytest-xdist's
        # channel reader, say) can free or make objects during a run and
        # hide one run's growth.  When one did, a mixed verdict - some
        # runs grew, some did not - is measured again, up to RETRIES more
        # times; a set in which every run grew is a leak.  A clean test,
        # which grows in no run, is measured once, and so is every set of
        # runs no other thread touched the heap during.
        retries = RETRIES if threaded else 0
        for attempt in range(retries + 1):
            refs, blocks, nbytes, busy = measured(repeat)
            if attempt == 0 or _grows(refs) or _grows(blocks):
                res.refs, res.blocks, res.bytes = refs, blocks, nbytes
            if res.leaked or not any(d >= 1 for d in refs + blocks) or not any(busy):
                break
        res.runs = max(warmup, done) + repeat * (attempt + 1)
    except BaseException as e:  # the caller decides what a failure means
        res.error = e
        return res
    if not res.leaked:
        return res
    # What leaked: run it again, noting the live objects after each run;
    # keep the types that kept objects born in every run (one run's objects
    # replaced by the next run's are state, not a leak).  The collector
    # sees the whole heap again: holders are searched for among all.
    _thaw()
    raw = [None] * (repeat + 1)  # sorted addresses after each run, as bytes
    try:
        _settle()
        raw[0] = _pydebug._addresses()
        for k in range(repeat):
            func(*args, **kwargs)
            _settle()
            raw[k + 1] = _pydebug._addresses()
    except BaseException as e:
        res.error = e
        return res
    mine = (refs, blocks, nbytes, res, vals, raw) + tuple(raw)
    objs = _pydebug.getobjects()
    snaps = _sets(raw)  # after the walk: the sets are not in it
    runs = collections.defaultdict(set)
    left = []
    for o in objs:
        if any(o is m for m in mine) or isinstance(o, types.FrameType):
            continue
        born = _born_in(id(o), snaps)
        if born:
            left.append(o)
            runs[type(o)].add(born)
    left = [o for o in left if len(runs[type(o)]) == repeat]
    del runs, snaps, mine, objs
    # An address is not an identity: state a run replaces (pytest's logging
    # capture gives its handlers a new list of records in every run) is
    # often made where the object it replaces was, from CPython's free
    # list, and so looks born once and alive since.  One more run tells
    # them apart, the objects held here so none is freed: what the run lets
    # go of loses a reference; what leaked keeps every one it had.
    if left:
        had = [sys.getrefcount(o) for o in left]
        try:
            func(*args, **kwargs)
            _settle()
        except BaseException as e:
            res.error = e
            return res
        now = [sys.getrefcount(o) for o in left]  # counted as `had` was
        left = [o for o, n, m in zip(left, had, now) if m >= n]
        del had, now
    # A string CPython interned and made immortal stays to the end of the
    # process, by design: CPython 3.12 does so for every string sys.intern()
    # is given, and pathlib interns each part of a path (a new numbered
    # tmp_path folder per run is one more each run).  Such strings are not
    # counted; what grows besides them is.
    forever = _pydebug._interned_forever
    res.interned = sum(1 for o in left if forever(o)) / repeat
    if res.interned:
        left = [o for o in left if not forever(o)]
        if not res.leaked:
            return res
    _describe_leftovers(res, left, repeat, sample)
    del left
    return res


# Whole programs: two points the program marks ------------------------------
# python-debug -m pydebug leaks -- PROGRAM: the program calls leaks_begin()
# once it is warm and leaks_end() where everything it made since should be
# gone; whatever is left is reported (see __main__.py).

_begin = None  # (addresses alive at the start, measurements at start, at end)
_last = None   # the last leaks_end() result, for python-debug -m pydebug leaks


def _measure(v):
    """references, blocks, bytes into the array v: no object is kept."""
    v[1], v[2] = _blocks_and_bytes()
    v[0] = _pydebug.gettotalrefcount()


def _point(k):
    """Measure at the start (k=0) or the end (k=1).  Between settling and
    measuring, both run the same lookups (which refill the type cache) and
    have the same objects alive: the addresses noted at the start are
    taken through a name bound before settling, so no lookup is added."""
    global _begin
    if k == 0:
        _begin = [None, array.array("q", bytes(24)), array.array("q", bytes(24))]
    slot = _begin[1 + k]
    note = _pydebug._addresses if k == 0 else None
    _settle()
    if note is not None:
        _begin[0] = note()
    _measure(slot)


def leaks_begin():
    """Mark the start of the stretch to check: measure, note what is alive."""
    _pydebug._births(True)  # see leakcheck
    _point(0)


def leaks_end():
    """Mark the end: a LeakResult for what grew since leaks_begin()."""
    if _begin is None:
        raise RuntimeError("leaks_end() without leaks_begin()")
    _point(1)
    try:
        return _result(leaks_name, 3)
    finally:
        _pydebug._births(False)


leaks_name = "program"  # what leaks_end()'s result is called


def _result(name, sample):
    global _begin, _last
    ids, start, end = _begin
    res = LeakResult(name, 0, 1)
    if not _pydebug.active:
        res.approximate += ["bytes (no debug allocator)",
                            "allocation sites (none without the debug allocator)"]
    res.refs = [end[0] - start[0]]
    res.blocks = [end[1] - start[1]]
    res.bytes = [end[2] - start[2]]
    if res.leaked:
        objs = _pydebug.getobjects()
        before = frozenset(memoryview(ids).cast("Q"))  # after the walk: not in it
        mine = (res, res.refs, res.blocks, res.bytes, res.approximate, res.objects,
                res.by_type, _begin, ids, start, end, objs,
                *res.refs, *res.blocks, *res.bytes)  # the figures are ours too
        left = []
        for o in objs:
            if id(o) in before or isinstance(o, types.FrameType):
                continue
            for m in mine:
                if o is m:
                    break
            else:
                left.append(o)
        del objs, before, mine, o
        _describe_leftovers(res, left, 1, sample)
    _begin = None
    _last = res
    return res
