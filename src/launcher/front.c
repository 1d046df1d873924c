/* front.c - `python-debug`, the command users run.
 *
 *     python-debug [--python PATH] [python options] [-c cmd | -m mod | file | -] [args]
 *
 * It picks the interpreter (--python, else $PYDEBUG_PYTHON, else the
 * python3 installed beside it in its environment, else `python3` on PATH),
 * asks it what it is, makes sure a host built for exactly that interpreter
 * and this python-debug exists in the user's cache (building it on first
 * use), and execs the host with the remaining arguments.  Everything after
 * the interpreter choice is Python's own command line.  Exit status 2 and
 * one line on stderr when the interpreter is missing or unsupported.
 *
 * No path of the build machine is compiled in: the sources a host is built
 * from are found from where this program lies (a checkout's build/bin, or
 * an environment's bin beside its site-packages).
 *
 * Environment: PYDEBUG_PYTHON, PYDEBUG_CACHE (else $XDG_CACHE_HOME/
 * python-debug, else ~/.cache/python-debug), PYDEBUG_LINK (_hostbuild.py). */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *prog = "python-debug";

static _Noreturn void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(2);
}

/* Resolve a command name the way execvp would. */
static int find_in_path(const char *name, char *out, size_t len)
{
    if (strchr(name, '/')) {
        snprintf(out, len, "%s", name);
        return access(out, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        struct stat st;
        if ((size_t)snprintf(out, len, "%.*s/%s", (int)n, path, name) < len &&
            access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return 1;
        path += n + (colon != NULL);
    }
    return 0;
}

/* What the interpreter says about itself, one fact per line. */
static const char query[] =
    "import sys, sysconfig\n"
    "v = sys.version_info\n"
    "print(sys.executable)\n"
    "print(sys.implementation.name)\n"
    "print('%d.%d.%d' % v[:3])\n"
    "print(sys.hexversion)\n"
    "print(sys.abiflags)\n"
    "print(int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))\n";

enum { Q_EXE, Q_IMPL, Q_VER, Q_HEX, Q_ABI, Q_NOGIL, Q_N };

static int run_query(const char *python, char lines[Q_N][PATH_MAX])
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(python, python, "-I", "-c", query, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    int n = 0;
    while (n < Q_N && f && fgets(lines[n], PATH_MAX, f)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        n++;
    }
    if (f)
        fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    return (n == Q_N && WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

static uint64_t fnv(const char *s);

/* Where hosts and the interpreters' answers are kept: $PYDEBUG_CACHE,
 * else $XDG_CACHE_HOME/python-debug, else ~/.cache/python-debug; then
 * hosts/. */
static char hosts_dir[PATH_MAX];

static void find_cache(void)
{
    const char *c = getenv("PYDEBUG_CACHE"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if ((h == NULL || !*h) && getpwuid(getuid()) != NULL)
        h = getpwuid(getuid())->pw_dir;
    int n = c && *c ? snprintf(hosts_dir, sizeof hosts_dir, "%s/hosts", c)
          : x && *x == '/' ? snprintf(hosts_dir, sizeof hosts_dir, "%s/python-debug/hosts", x)
          : h && *h ? snprintf(hosts_dir, sizeof hosts_dir, "%s/.cache/python-debug/hosts", h)
          : -1;
    if (n < 0 || n >= (int)sizeof hosts_dir)
        die("no cache folder: set PYDEBUG_CACHE, XDG_CACHE_HOME or HOME%s%s", "", "");
}

static void mkdirs(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *c = dir + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(dir, 0755);
            *c = '/';
        }
    mkdir(dir, 0755);
}

/* The interpreter's answers are cached per binary (path, size, mtime), so
 * a launch does not pay for a second Python start.  Scripts (a pyenv shim
 * chooses its interpreter at each run) are always asked. */
static int is_script(const char *path)
{
    char magic[2] = {0, 0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 1;
    size_t n = fread(magic, 1, 2, f);
    fclose(f);
    return n == 2 && magic[0] == '#' && magic[1] == '!';
}

/* Keyed by the path as invoked (a venv's python is a link to its base
 * interpreter, but answers with its own sys.executable and prefix), checked
 * against the binary it leads to. */
static int cache_path(const char *python, char *out, size_t len, char *stamp, size_t slen)
{
    char real[PATH_MAX], dir[PATH_MAX], absdir[PATH_MAX];
    struct stat st;
    if (realpath(python, real) == NULL || stat(real, &st) != 0 || is_script(real))
        return -1;
    snprintf(dir, sizeof dir, "%s", python);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : python;
    if (slash)
        *slash = '\0';
    if (realpath(slash ? (dir[0] ? dir : "/") : ".", absdir) == NULL)
        return -1;
    int k = snprintf(stamp, slen, "%s/%s -> %s %lld %lld", absdir, base, real,
                     (long long)st.st_size, (long long)st.st_mtime);
    if (k < 0 || (size_t)k >= slen)
        return -1;
    int n = snprintf(out, len, "%s/interp-%016llx", hosts_dir, (unsigned long long)fnv(stamp));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int cached_query(const char *python, char lines[Q_N][PATH_MAX])
{
    char path[PATH_MAX], stamp[PATH_MAX + 64], got[PATH_MAX + 64];
    if (cache_path(python, path, sizeof path, stamp, sizeof stamp) != 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int ok = fgets(got, sizeof got, f) != NULL;
    got[strcspn(got, "\n")] = '\0';
    ok = ok && strcmp(got, stamp) == 0;
    for (int i = 0; ok && i < Q_N; i++) {
        ok = fgets(lines[i], PATH_MAX, f) != NULL;
        if (ok)
            lines[i][strcspn(lines[i], "\n")] = '\0';
    }
    fclose(f);
    return ok ? 0 : -1;
}

static void store_query(const char *python, char lines[Q_N][PATH_MAX])
{
    char path[PATH_MAX], tmp[PATH_MAX + 16], stamp[PATH_MAX + 64];
    if (cache_path(python, path, sizeof path, stamp, sizeof stamp) != 0)
        return;
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(dir);
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(f, "%s\n", stamp);
    for (int i = 0; i < Q_N; i++)
        fprintf(f, "%s\n", lines[i]);
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Where the host's sources are, from where this program lies:
 *   a checkout:   ROOT/build/bin/python-debug, sources in ROOT/src,
 *                 the pydebug package in ROOT/src/python;
 *   an install:   ENV/bin/python-debug, the package in
 *                 ENV/lib/python3.X/{site,dist}-packages/pydebug, its
 *                 sources in pydebug/_csrc. */
static char self_path[PATH_MAX], src_dir[PATH_MAX], py_dir[PATH_MAX + 16];

static int has_core(const char *src)
{
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/core/pd_core.h", src);
    return access(probe, R_OK) == 0;
}

static void find_sources(void)
{
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self_path - 1)
        die("cannot find where python-debug is installed (/proc/self/exe)%s%s", "", "");
    self_path[n] = '\0';
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", self_path);
    *strrchr(bin, '/') = '\0';
    char up[PATH_MAX + 16];
    snprintf(up, sizeof up, "%s/../../src", bin);
    if (realpath(up, src_dir) != NULL && has_core(src_dir)) {
        snprintf(py_dir, sizeof py_dir, "%s/python", src_dir);
        return;
    }
    static const char *const pats[] = {"%s/../lib/python3*/site-packages/pydebug/_csrc",
                                       "%s/../lib/python3*/dist-packages/pydebug/_csrc"};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        char pat[PATH_MAX + 64];
        glob_t g;
        snprintf(pat, sizeof pat, pats[i], bin);
        if (glob(pat, 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++)
                if (has_core(g.gl_pathv[k]) && strlen(g.gl_pathv[k]) < sizeof src_dir - 16) {
                    snprintf(src_dir, sizeof src_dir, "%s", g.gl_pathv[k]);
                    snprintf(py_dir, sizeof py_dir, "%s", g.gl_pathv[k]);
                    *strrchr(py_dir, '/') = '\0'; /* .../pydebug */
                    *strrchr(py_dir, '/') = '\0'; /* .../site-packages */
                    globfree(&g);
                    return;
                }
            globfree(&g);
        }
    }
    die("cannot find python-debug's sources beside %s (a damaged install?)%s", self_path, "");
}

/* What the sources are: an installed package's STAMP (a hash of their
 * content, written when the package was built), else, in a checkout, the
 * name, size and modification time of every file a host is built from. */
static void stamp_dir(const char *dir, uint64_t *h)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 256], line[PATH_MAX + 320];
        struct stat st;
        size_t len = strlen(e->d_name);
        if (len < 3 || (strcmp(e->d_name + len - 2, ".c") && strcmp(e->d_name + len - 2, ".h")))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        snprintf(line, sizeof line, "%s %lld %lld.%09ld", path, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        *h += fnv(line); /* order-free: readdir's order is the file system's */
    }
    closedir(d);
}

static void source_stamp(char *out, size_t len)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/STAMP", src_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        int ok = fgets(out, (int)len, f) != NULL;
        fclose(f);
        if (ok) {
            out[strcspn(out, "\n")] = '\0';
            return;
        }
    }
    uint64_t h = 0;
    static const char *const dirs[] = {"core", "py", "py/interp", "launcher"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", src_dir, dirs[i]);
        stamp_dir(path, &h);
    }
    /* Of the Python files, only the build script makes the host. */
    char line[PATH_MAX + 96];
    struct stat st;
    snprintf(path, sizeof path, "%s/pydebug/_hostbuild.py", py_dir);
    if (stat(path, &st) == 0) {
        snprintf(line, sizeof line, "%s %lld %lld.%09ld", path, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        h += fnv(line);
    }
    snprintf(out, len, "checkout-%016llx", (unsigned long long)h);
}

/* A host is current when its key (the sources' stamp, the interpreter's
 * binary) is the one this launch computes. */
static int key_matches(const char *keyfile, const char *key)
{
    char got[PATH_MAX * 2];
    FILE *f = fopen(keyfile, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = '\0';
    return strcmp(got, key) == 0;
}

static int write_key(const char *keyfile, const char *key)
{
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.%d", keyfile, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fputs(key, f);
    if (fclose(f) != 0 || rename(tmp, keyfile) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Build dir/python-debug-host with the interpreter's own _hostbuild.py
 * run: the compile and link flags are its sysconfig's. */
static void build_host(const char *python, const char *ver, const char *dir)
{
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/pydebug/_hostbuild.py", py_dir);
    fprintf(stderr, "%s: building the host for %s (Python %s) in %s...\n", prog, python, ver, dir);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(2, 1); /* keep the program's stdout clean */
        execl(python, python, "-I", script, src_dir, dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        die("could not build the host for %s%s", python, "");
    if (WEXITSTATUS(status) == 3) /* _hostbuild.py said what is missing */
        exit(2);
    if (WEXITSTATUS(status) != 0)
        die("could not build the host for %s%s (see the messages above)", python, "");
}

int main(int argc, char **argv)
{
    const char *python = getenv("PYDEBUG_PYTHON");
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "--python")) {
        if (argc < 3)
            die("--python needs a path%s%s", "", "");
        python = argv[2];
        first = 3;
    } else if (argc > 1 && !strncmp(argv[1], "--python=", 9)) {
        python = argv[1] + 9;
        first = 2;
    }
    /* A child that follows (src/py/pd_follow.h): N words of ours come
     * before its own arguments, and ARGV0 is its own argv[0]. */
    if (first + 2 < argc && !strcmp(argv[first], "--child")) {
        char *end;
        long n = strtol(argv[first + 1], &end, 10);
        if (*end || n < 0 || n > argc - first - 3)
            die("--child needs a word count and an argv[0]%s%s", "", "");
        setenv("PYDEBUG_CHILD_ADDED", argv[first + 1], 1);
        setenv("PYDEBUG_CHILD_ARGV0", argv[first + 2], 1);
        first += 3;
    }
    find_sources();
    find_cache();

    /* Without a choice: the environment's own interpreter. */
    char beside[PATH_MAX];
    snprintf(beside, sizeof beside, "%s", self_path);
    size_t bl = (size_t)(strrchr(beside, '/') - beside);
    if (bl + 9 > sizeof beside)
        die("path too long: %s%s", self_path, "");
    memcpy(beside + bl, "/python3", 9);
    if ((python == NULL || !*python) && access(beside, X_OK) == 0)
        python = beside;
    if (python == NULL || !*python)
        python = "python3";

    char found[PATH_MAX];
    if (!find_in_path(python, found, sizeof found))
        die("no Python interpreter at '%s'%s (use --python PATH or PYDEBUG_PYTHON)", python, "");

    static char q[Q_N][PATH_MAX];
    if (cached_query(found, q) != 0) {
        if (run_query(found, q) != 0)
            die("'%s' did not answer as a Python interpreter%s", found, "");
        store_query(found, q);
    }
    unsigned long hex = strtoul(q[Q_HEX], NULL, 10);
    if (strcmp(q[Q_IMPL], "cpython") != 0 || hex < 0x030B0000)
        die("unsupported interpreter %s (%s): python-debug needs CPython 3.11 to 3.15", found, q[Q_VER]);
    if (atoi(q[Q_NOGIL]))
        die("unsupported interpreter %s (%s): a free-threaded build (Py_GIL_DISABLED); "
            "python-debug needs a CPython with the GIL", found, q[Q_VER]);
    /* Never compiled against an older version's layouts (pd_interp.h). */
    if (hex >= 0x03100000)
        die("unsupported interpreter %s (%s): newer than CPython 3.15, the newest python-debug "
            "supports", found, q[Q_VER]);

    /* One host per interpreter binary (and libpython choice), shared by
     * the venvs made from it, rebuilt when its key changes. */
    const char *link = getenv("PYDEBUG_LINK");
    char dir[PATH_MAX], host[PATH_MAX + 32], keyfile[PATH_MAX + 32], lockfile[PATH_MAX + 32];
    char key[PATH_MAX * 2], srcstamp[256], real[PATH_MAX];
    struct stat st;
    if (realpath(q[Q_EXE], real) == NULL || stat(real, &st) != 0)
        die("cannot read the interpreter's binary %s: %s", q[Q_EXE], strerror(errno));
    source_stamp(srcstamp, sizeof srcstamp);
    /* Installed packages share a host per interpreter (their STAMP says
     * what they hold); each checkout has its own, so that two of them do
     * not rebuild one host in turn. */
    char ident[PATH_MAX * 2 + 2];
    snprintf(ident, sizeof ident, "%s\n%s", real,
             strncmp(srcstamp, "checkout-", 9) ? "" : src_dir);
    if (snprintf(dir, sizeof dir, "%s/cpython-%.20s%.8s-%016llx%s%.16s", hosts_dir, q[Q_VER],
                 q[Q_ABI], (unsigned long long)fnv(ident), link && *link ? "-" : "",
                 link ? link : "") >= (int)sizeof dir ||
        snprintf(host, sizeof host, "%s/python-debug-host", dir) >= (int)sizeof host ||
        snprintf(keyfile, sizeof keyfile, "%s/key", dir) >= (int)sizeof keyfile ||
        snprintf(lockfile, sizeof lockfile, "%s/.lock", dir) >= (int)sizeof lockfile ||
        snprintf(key, sizeof key, "sources %s\ninterpreter %s %lld %lld\n", srcstamp, real,
                 (long long)st.st_size, (long long)st.st_mtime) >= (int)sizeof key)
        die("cache path too long: %s%s", dir, "");
    /* Builds of one host are serialized; a host another process built
     * while we waited is used as it is.  The host is renamed into place
     * before its key is written: a key never names a host not there. */
    if (!key_matches(keyfile, key) || access(host, X_OK) != 0) {
        mkdirs(dir);
        int lock_fd = open(lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd < 0)
            die("cannot write to the cache folder %s: %s", dir, strerror(errno));
        flock(lock_fd, LOCK_EX);
        if (!key_matches(keyfile, key) || access(host, X_OK) != 0) {
            build_host(found, q[Q_VER], dir);
            if (write_key(keyfile, key) != 0)
                die("cannot write %s: %s", keyfile, strerror(errno));
        }
        close(lock_fd); /* releases the lock */
    }

    setenv("PYDEBUG_EXECUTABLE", q[Q_EXE], 1);
    setenv("PYDEBUG_PYDIR", py_dir, 1);
    setenv("PYDEBUG_LAUNCHER", self_path, 1);
    char **args = calloc((size_t)(argc - first + 2), sizeof *args);
    if (args == NULL)
        die("out of memory%s%s", "", "");
    args[0] = argv[0];
    for (int i = first; i < argc; i++)
        args[i - first + 1] = argv[i];
    execv(host, args);
    die("cannot run %s: %s", host, strerror(errno));
}
