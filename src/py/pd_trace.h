/* pd_trace.h - one stream of executed instructions, for the debug build's
 * interpreter-level facilities: LLTRACE (pd_lltrace.c), CALL_PROFILE
 * (pd_callstats.c) and WITH_TSC (pd_tscdump.c).
 *
 * The stream comes from what the interpreter offers, one backend each,
 * chosen when this file is compiled for an interpreter:
 *   3.11   the C-level trace function (PyEval_SetTrace) with opcode events,
 *          on every thread; a frame gets opcode events only if a consumer
 *          wants it, and no line events;
 *   3.12+  sys.monitoring's INSTRUCTION event with a C callback (one per
 *          instruction; generator entries are read off the code): global for
 *          the consumers that see everything, local to the code objects of
 *          the modules that set __lltrace__ otherwise.
 * Nothing is installed until a consumer starts; when the last one stops,
 * the backend is removed.  The only thing always present under
 * python-debug is an audit hook that looks, once per module executed, for
 * the name __lltrace__ among its code's names.
 *
 * Every call here and every consumer runs with the GIL held. */
#ifndef PD_TRACE_H
#define PD_TRACE_H

#include <Python.h>

/* One instruction about to run, as dis shows it. */
typedef struct {
    PyCodeObject *code;       /* borrowed */
    PyObject *globals;        /* borrowed; NULL if unknown */
    int offset;               /* in bytes */
    int opcode;               /* the base instruction (not specialised) */
    int oparg;                /* EXTENDED_ARG prefixes folded in */
    int depth;                /* value-stack depth; -1 when not readable */
    PyObject *const *stack;   /* stack[0..depth-1], bottom first, or NULL */
} pd_insn;

/* The consumers. */
enum {
    PD_TR_LLTRACE_ALL = 1,     /* -X lltrace, pydebug.lltrace(True) */
    PD_TR_LLTRACE_MARKED = 2,  /* frames whose globals set __lltrace__ */
    PD_TR_CALLS = 4,           /* callstats */
    PD_TR_TSC = 8,             /* settscdump / tscstats */
};

/* Start or stop consumers (a mask).  0, or -1 with an exception set. */
int pd_trace_start(unsigned who);
int pd_trace_stop(unsigned who);
unsigned pd_trace_active(void);
/* What the stream comes from on this interpreter, in words. */
const char *pd_trace_backend(void);

/* Install the audit hook that notices __lltrace__ (host, after init). */
int pd_trace_init(void);

/* Instruction names and the numbers the consumers test, read from the
 * interpreter's opcode module when the stream starts; -1 when the
 * interpreter has no such instruction. */
typedef struct {
    int CALL, PRECALL, CALL_KW, CALL_FUNCTION_EX, KW_NAMES;
    int RESUME, RETURN_GENERATOR, RETURN_VALUE, RETURN_CONST, YIELD_VALUE;
} pd_opcodes;
extern pd_opcodes pd_op;
const char *pd_opname(int opcode);
int pd_op_hasarg(int opcode);

/* The call a call instruction is about to make (PRECALL on 3.11, CALL,
 * CALL_KW, CALL_FUNCTION_EX): the callable as the stack holds it, whether
 * self sits beside it (a method-form call), the number of positional
 * arguments (-1 for CALL_FUNCTION_EX), and how many values the call takes
 * off the stack.  0 if ev is not such an instruction or its stack is not
 * readable. */
typedef struct {
    PyObject *callable;
    int method_form;
    int nargs;
    int pops;
} pd_call;
int pd_insn_call(const pd_insn *ev, pd_call *out);

#endif
