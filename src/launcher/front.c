/* front.c - `python-debug`, the command users run.
 *
 *     python-debug [--python PATH] [python options] [-c cmd | -m mod | file | -] [args]
 *
 * It picks the interpreter (--python, else $PYDEBUG_PYTHON, else `python3`
 * on PATH), asks it what it is, makes sure a host built for exactly that
 * interpreter exists (building it on first use), and execs the host with
 * the remaining arguments.  Everything after the interpreter choice is
 * Python's own command line.  Exit status 2 and one line on stderr when the
 * interpreter is missing or unsupported. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PD_ROOT
#error "PD_ROOT must name the source tree"
#endif

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
        snprintf(out, len, "%.*s/%s", (int)n, path, name);
        struct stat st;
        if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
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
    const char *cache = getenv("PYDEBUG_CACHE");
    int k = snprintf(stamp, slen, "%s/%s -> %s %lld %lld", absdir, base, real,
                     (long long)st.st_size, (long long)st.st_mtime);
    if (k < 0 || (size_t)k >= slen)
        return -1;
    int n = snprintf(out, len, "%s/interp-%016llx", cache && *cache ? cache : PD_ROOT "/build/hosts",
                     (unsigned long long)fnv(stamp));
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
        /* mkdir -p without a shell: walk the components */
        for (char *c = dir + 1; *c; c++)
            if (*c == '/') {
                *c = '\0';
                mkdir(dir, 0755);
                *c = '/';
            }
        mkdir(dir, 0755);
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

/* In nanoseconds: a source changed within the second the host was built
 * in must still make the host stale. */
static long long mtime_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
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

    /* One host per interpreter binary. */
    const char *cache = getenv("PYDEBUG_CACHE");
    char dir[PATH_MAX], host[PATH_MAX + 32], stamp[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/cpython-%.20s%.8s-%016llx",
                 cache && *cache ? cache : PD_ROOT "/build/hosts", q[Q_VER], q[Q_ABI],
                 (unsigned long long)fnv(q[Q_EXE])) >= (int)sizeof dir ||
        snprintf(host, sizeof host, "%s/python-debug-host", dir) >= (int)sizeof host ||
        snprintf(stamp, sizeof stamp, "%s/build/stamp", PD_ROOT) >= (int)sizeof stamp)
        die("cache path too long: %s%s", dir, "");
    /* Builds are serialized (they share the core library and, for one
     * interpreter, the host's file); a host another process built while we
     * waited is used as it is. */
    int lock_fd = -1;
    long long built = mtime_of(host);
    if (built == 0 || built <= mtime_of(stamp)) {
        lock_fd = open(PD_ROOT "/build/.host-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd >= 0)
            flock(lock_fd, LOCK_EX);
        built = mtime_of(host);
    }
    if (built == 0 || built <= mtime_of(stamp)) {
        fprintf(stderr, "%s: building the host for %s (Python %s)...\n", prog, q[Q_EXE], q[Q_VER]);
        char py_arg[PATH_MAX + 8], dir_arg[PATH_MAX + 16];
        if (snprintf(py_arg, sizeof py_arg, "PY=%s", q[Q_EXE]) >= (int)sizeof py_arg ||
            snprintf(dir_arg, sizeof dir_arg, "HOSTDIR=%s", dir) >= (int)sizeof dir_arg)
            die("path too long: %s%s", dir, "");
        pid_t pid = fork();
        if (pid == 0) {
            dup2(2, 1); /* keep the program's stdout clean */
            execlp("make", "make", "-s", "-C", PD_ROOT, "host", py_arg, dir_arg, (char *)NULL);
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || mtime_of(host) == 0)
            die("could not build the host for %s%s (see the messages above)", q[Q_EXE], "");
    }
    if (lock_fd >= 0)
        close(lock_fd); /* releases the lock */

    setenv("PYDEBUG_EXECUTABLE", q[Q_EXE], 1);
    char **args = calloc((size_t)(argc - first + 2), sizeof *args);
    if (args == NULL)
        die("out of memory%s%s", "", "");
    args[0] = argv[0];
    for (int i = first; i < argc; i++)
        args[i - first + 1] = argv[i];
    execv(host, args);
    die("cannot run %s: %s", host, strerror(errno));
}
