/* pd_follow.c - see pd_follow.h.
 *
 * The exec interposers run in the child of a fork (subprocess's
 * _posixsubprocess), where only async-signal-safe calls are allowed: they
 * use stat and the execve system call, and build the new argument vector
 * on their own stack from what pd_follow_start prepared. */
#define _GNU_SOURCE
#include "pd_follow.h"

#include <dlfcn.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_XOPTS 48

extern char **environ;

static int armed;
static dev_t interp_dev;
static ino_t interp_ino;
static char launcher_path[PATH_MAX];
/* "-X", value pairs, ready to splice into an argument vector, and how
 * many words they are (for the front end's --child). */
static char *xargs[2 * MAX_XOPTS];
static int nxargs;
static char nxargs_str[16];
/* Values that needed rewriting (a relative report file made absolute). */
static char owned[MAX_XOPTS][PATH_MAX + 16];

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
static spawn_fn real_spawn, real_spawnp;

static long sys_execve(const char *path, char *const argv[], char *const envp[])
{
    return syscall(SYS_execve, path, argv, envp);
}

/* Does path lead to the interpreter binary we stand for? */
static int is_interp(const char *path)
{
    struct stat st;
    return armed && path != NULL && strchr(path, '/') != NULL && stat(path, &st) == 0 &&
           st.st_dev == interp_dev && st.st_ino == interp_ino;
}

static int count(char *const argv[])
{
    int n = 0;
    while (argv != NULL && argv[n] != NULL)
        n++;
    return n;
}

/* out: launcher --python PATH --child N ARGV0 -X opt ... argv[1:] NULL
 * (the child's own argv[0] and the count of words we added: its
 * sys.orig_argv stays what it would be under python); out has room for
 * count(argv) + 6 + nxargs + 1 entries. */
#define EXTRA_WORDS 7

static void rewrite(char **out, const char *path, char *const argv[])
{
    int k = 0;
    out[k++] = launcher_path;
    out[k++] = (char *)"--python";
    out[k++] = (char *)path;
    out[k++] = (char *)"--child";
    out[k++] = nxargs_str;
    out[k++] = argv != NULL && argv[0] != NULL ? argv[0] : (char *)path;
    for (int i = 0; i < nxargs; i++)
        out[k++] = xargs[i];
    for (int i = 1, n = count(argv); i < n; i++)
        out[k++] = argv[i];
    out[k] = NULL;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    if (is_interp(path)) {
        char *nargv[count(argv) + EXTRA_WORDS + nxargs];
        rewrite(nargv, path, argv);
        return (int)sys_execve(launcher_path, nargv, envp);
    }
    return (int)sys_execve(path, argv, envp);
}

int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

static int spawn(spawn_fn real, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (real == NULL)
        return 38; /* ENOSYS: dlsym found no posix_spawn, which glibc always has */
    if (is_interp(path)) {
        char *nargv[count(argv) + EXTRA_WORDS + nxargs];
        rewrite(nargv, path, argv);
        return real(pid, launcher_path, fa, attr, nargv, envp);
    }
    return real(pid, path, fa, attr, argv, envp);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (real_spawn == NULL)
        real_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
    return spawn(real_spawn, pid, path, fa, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (real_spawnp == NULL)
        real_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
    /* A bare name is looked up on PATH by libc; only a path can be ours. */
    return spawn(real_spawnp, pid, file, fa, attr, argv, envp);
}

int pd_follow_start(int on, const char *launcher, const char *exe,
                    const char *const *xopts, int n)
{
    armed = 0;
    real_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
    real_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
    struct stat st;
    if (!on || launcher == NULL || !*launcher || exe == NULL || stat(exe, &st) != 0 ||
        snprintf(launcher_path, sizeof launcher_path, "%s", launcher) >= (int)sizeof launcher_path) {
        unsetenv("PYDEBUG_FOLLOW");
        return on ? -1 : 0;
    }
    interp_dev = st.st_dev;
    interp_ino = st.st_ino;

    /* The environment's form: the front end, then one option per line. */
    size_t len = strlen(launcher) + 1;
    char cwd[PATH_MAX] = "";
    if (getcwd(cwd, sizeof cwd) == NULL)
        cwd[0] = '\0';
    nxargs = 0;
    for (int i = 0; i < n && i < MAX_XOPTS; i++) {
        const char *o = xopts[i];
        /* A child may run elsewhere: its report goes to the same file. */
        if (!strncmp(o, "report=", 7) && o[7] != '/' && cwd[0]) {
            snprintf(owned[i], sizeof owned[i], "report=%s/%s", cwd, o + 7);
            o = owned[i];
        }
        xargs[nxargs++] = (char *)"-X";
        xargs[nxargs++] = (char *)o;
        len += strlen(o) + 1;
    }
    snprintf(nxargs_str, sizeof nxargs_str, "%d", nxargs);
    char *env = malloc(len + 1);
    if (env == NULL)
        return -1;
    char *p = env;
    p += sprintf(p, "%s", launcher);
    for (int i = 1; i < nxargs; i += 2)
        p += sprintf(p, "\n%s", xargs[i]);
    setenv("PYDEBUG_FOLLOW", env, 1);
    free(env);
    armed = 1;
    return 0;
}
