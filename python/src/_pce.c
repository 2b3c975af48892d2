/*
 * _pce.c - the CPython binding of libpce (module pce._pce; pce/__init__.py
 * re-exports it as pce).
 *
 * Objects
 *   Cache  owns one struct pce_cache and the Python callables it calls back.
 *   Pin    one live pin (of a pinned lookup, or of the holder a store
 *          pinned); holds a strong reference to its Cache, so a cache is
 *          never destroyed while a Pin object can still release into it.  An
 *          unreleased Pin releases itself when it is garbage collected.
 *   Match  a struct pce_match plus its Pin (or None); a context manager that
 *          releases the pin on exit.
 *   Router owns one struct pce_router and its callables (on_event, clock),
 *          with a Cache's protocol below (busy count, GIL, callbacks, fork);
 *          its match() returns a MatchResult of Overlap struct sequences.
 *
 * Tokens
 *   Any C-contiguous one-dimensional buffer of 4-byte unsigned ints (format
 *   'I', '=I', '<I', '=L', ...: array('I'), numpy.uint32, memoryview) is read
 *   in place, without a copy.  Any other sequence of ints is converted once
 *   into a uint32_t array, each id range-checked (ValueError outside
 *   [0, 2**32)).  A buffer is held (exported) for the whole call.
 *
 * GIL protocol
 *   Calls that libpce documents as lock-free (lookup, pin release, stats,
 *   a router's match and stats) run with the GIL held: they cannot wait on
 *   anything.  Every call that can take a writer lock, wait for the
 *   reclaimer or a grace period, or run a callback (store, remove,
 *   remove_prefix, touch, clear, evict, set_budgets, reclaim, audit, dedup,
 *   destroy, the batch calls; a router's add, remove, clears, reclaim,
 *   audit, destroy and match_many) releases the GIL first.  Otherwise a
 *   thread holding a shard lock inside on_event, waiting for the GIL, and
 *   the GIL holder waiting for that lock would deadlock.
 *
 * Close protocol
 *   busy counts calls in progress (changed with the GIL held), and close()
 *   refuses while it is non-zero, so libpce is never destroyed under a
 *   running call.  A Cache's close() runs pce_cache_destroy() with the GIL
 *   released and can still fail (PCE_EBUSY: live pins), so it sets closing
 *   for that time and every call on the Cache first waits, GIL released,
 *   in wait_closing() until closing is clear (cache_enter(), and a Pin's
 *   release), then sees the outcome: none runs on a cache being destroyed,
 *   none is told "closed" by a close() that then fails.  A callback of
 *   that destroy itself (in_hook) does not wait (it would wait for
 *   itself); cache_enter() refuses it with BusyError.  A Router's destroy
 *   cannot fail, so its close() clears the pointer before releasing the
 *   GIL and a concurrent call is told "closed" at once.
 *
 * Callbacks
 *   on_release, on_event and clock are Python callables that libpce calls
 *   from its own threads: the reclaim thread (evictions, TTL expiry and
 *   on_release), the thread that made the change (on_event of a store,
 *   remove or clear), the thread that runs reclaim() or close().  Each call
 *   takes the GIL with PyGILState_Ensure(), so the callables run with it
 *   held.  An exception a callable raises goes to sys.unraisablehook and the
 *   cache goes on.  A callable calling into its own cache gets BusyError
 *   (in_hook): it runs under libpce's locks or in the thread close() joins.
 *   The callables live in a struct hooks of their own, outside the Cache
 *   object, so libpce never sees a freed context.
 *
 * Shutdown
 *   The interpreter cannot take callbacks once it finalizes (a non-Python
 *   thread that asks for the GIL then is terminated in place, possibly
 *   holding libpce's locks).  pce registers _shutdown() with atexit: it
 *   sets cb_closing, then waits, with the GIL released, until no callback
 *   is in flight.  A callback counts itself in flight before it tests
 *   cb_closing (both sequentially consistent), so after _shutdown() returns
 *   no libpce thread enters Python again; later events, releases and clock
 *   reads are dropped (the clock repeats its last value).
 *
 * fork()
 *   In a child process every call on a Cache inherited from the parent
 *   raises ForkedError (libpce's PCE_EFORKED), close() included; its
 *   deallocation abandons libpce's copy quietly, as libpce asks.  The child
 *   has only the forking thread, so what the parent's other threads were
 *   doing never ends there: a pthread_atfork handler sets the in-flight
 *   count to the forking thread's own callbacks (hook_depth), or
 *   _shutdown() would wait forever, and starts a new fork generation: a
 *   Cache of an older one answers PCE_EFORKED itself where its own state
 *   (busy, budgets_lock) was left mid-call by a thread the child lacks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include <pce/pce.h>

#if PY_VERSION_HEX >= 0x030D0000
#define py_finalizing() Py_IsFinalizing()
#else
#define py_finalizing() _Py_IsFinalizing()
#endif

#if PY_VERSION_HEX < 0x030A0000 /* 3.9 */
#define Py_NewRef(o) (Py_INCREF(o), (PyObject *)(o))
#define Py_XNewRef(o) (Py_XINCREF(o), (PyObject *)(o))
static int PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *v)
{
	Py_XINCREF(v);
	if (PyModule_AddObject(m, name, v) < 0) {
		Py_XDECREF(v);
		return -1;
	}
	return 0;
}
#endif

/* ---- errors ---------------------------------------------------------------- */

/* One Python class per PCE_E* code.  A code added to PCE_ERRNO_MAP without a
 * row here fails to compile (PY_ERR_<name> undefined). */
static PyObject *no_base; /* stays NULL: pce.Error only */
#define PY_ERR_EINVAL "InvalidArgumentError", PyExc_ValueError
#define PY_ERR_ENOMEM "OutOfMemoryError", PyExc_MemoryError
#define PY_ERR_EEXIST "ExistsError", no_base
#define PY_ERR_ENOENT "NotFoundError", PyExc_LookupError
#define PY_ERR_EBUSY "BusyError", no_base
#define PY_ERR_ENOSPC "NoSpaceError", no_base
#define PY_ERR_ESTALE "StaleError", no_base
#define PY_ERR_E2BIG "TooBigError", PyExc_ValueError
#define PY_ERR_ESHORT "TooShortError", PyExc_ValueError
#define PY_ERR_ENOPINS "NoPinsError", no_base
#define PY_ERR_ECORRUPT "CorruptError", no_base
#define PY_ERR_ETHREAD "ThreadError", no_base
#define PY_ERR_EFORKED "ForkedError", no_base
#define PY_ERR_EBADSNAP "BadSnapshotError", no_base
#define PY_ERR_EIO "SnapshotIOError", no_base
#define PY_ERR_EEVBATCH "EventBatchError", no_base
#define PY_ERR_EZMQ "ZmqError", no_base
#define PY_ERR_ETIMEDOUT "TimedOutError", PyExc_TimeoutError
#define PY_ERR_EUNAVAIL "UnavailableError", no_base

struct err_row {
	int code;
	const char *py_name;
	PyObject **builtin; /* a second base, or NULL */
	PyObject *cls;
};

#define ERR_ROW_(name, value, msg) ERR_ROW2_(PCE_##name, PY_ERR_##name)
#define ERR_ROW2_(...) ERR_ROW3_(__VA_ARGS__)
#define ERR_ROW3_(code, py_name, base) {code, py_name, &base, NULL},
static struct err_row err_rows[] = {PCE_ERRNO_MAP(ERR_ROW_)};
#undef ERR_ROW_
#undef ERR_ROW2_
#undef ERR_ROW3_
#define N_ERRS (sizeof(err_rows) / sizeof(err_rows[0]))

static PyObject *Error; /* pce.Error, base of every class above */

static PyObject *err_class(int rc)
{
	for (size_t i = 0; i < N_ERRS; i++)
		if (err_rows[i].code == rc)
			return err_rows[i].cls;
	return Error;
}

/* Raise the class of @rc with @msg (NULL: libpce's message); returns NULL. */
static PyObject *raise_rc(int rc, const char *msg)
{
	PyErr_Format(err_class(rc), "%s (%s)", msg ? msg : pce_strerror(rc), pce_err_name(rc));
	return NULL;
}

static int init_errors(PyObject *m)
{
	Error = PyErr_NewExceptionWithDoc(
		"pce.Error",
		"Base class of every libpce error.  Each subclass stands for one PCE_E*\n"
		"code of pce/errors.h; `code` is that (negative) code and `name` its\n"
		"symbol.  The message is libpce's, followed by the symbol.",
		NULL, NULL);
	if (!Error || PyModule_AddObjectRef(m, "Error", Error) < 0)
		return -1;
	for (size_t i = 0; i < N_ERRS; i++) {
		struct err_row *r = &err_rows[i];
		char qual[64], doc[160];
		PyObject *bases, *code, *name;
		int rc;

		snprintf(qual, sizeof(qual), "pce.%s", r->py_name);
		snprintf(doc, sizeof(doc), "%s: %s.", pce_err_name(r->code), pce_strerror(r->code));
		bases = *r->builtin ? PyTuple_Pack(2, Error, *r->builtin) : PyTuple_Pack(1, Error);
		if (!bases)
			return -1;
		r->cls = PyErr_NewExceptionWithDoc(qual, doc, bases, NULL);
		Py_DECREF(bases);
		if (!r->cls)
			return -1;
		code = PyLong_FromLong(r->code);
		name = PyUnicode_FromString(pce_err_name(r->code));
		rc = !code || !name || PyObject_SetAttrString(r->cls, "code", code) < 0 ||
		     PyObject_SetAttrString(r->cls, "name", name) < 0 ||
		     PyModule_AddObjectRef(m, r->py_name, r->cls) < 0;
		Py_XDECREF(code);
		Py_XDECREF(name);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- arguments --------------------------------------------------------------- */

/*
 * parse_args - Bind the arguments of a METH_FASTCALL | METH_KEYWORDS call to
 * @names, in order: the first @npos may be positional, the first @nreq are
 * required.  @out receives borrowed references; slots not given stay NULL.
 */
static int parse_args(const char *fn, PyObject *const *args, Py_ssize_t nargs,
		      PyObject *kwnames, const char *const *names, int npos, int nreq,
		      PyObject **out)
{
	int n = 0;

	while (names[n])
		n++;
	memset(out, 0, (size_t)n * sizeof(*out));
	if (nargs > npos) {
		PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)",
			     fn, npos, nargs);
		return -1;
	}
	for (Py_ssize_t i = 0; i < nargs; i++)
		out[i] = args[i];
	if (kwnames) {
		Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
		for (Py_ssize_t k = 0; k < nkw; k++) {
			PyObject *key = PyTuple_GET_ITEM(kwnames, k);
			int j = 0;
			while (j < n && !PyUnicode_CompareWithASCIIString(key, names[j]) == 0)
				j++;
			if (j == n) {
				PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
					     fn, key);
				return -1;
			}
			if (out[j]) {
				PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
					     fn, names[j]);
				return -1;
			}
			out[j] = args[nargs + k];
		}
	}
	for (int i = 0; i < nreq; i++)
		if (!out[i]) {
			PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fn, names[i]);
			return -1;
		}
	return 0;
}

/* An unsigned integer argument in [0, @max]; @o NULL or None gives @dflt.
 * Out of range is a ValueError, never a wrapped value. */
static int get_uint(PyObject *o, uint64_t max, uint64_t dflt, const char *what, uint64_t *out)
{
	unsigned long long v;
	PyObject *i;
	int overflow = 0;

	if (!o || o == Py_None) {
		*out = dflt;
		return 0;
	}
	i = PyNumber_Index(o);
	if (!i)
		return -1;
	/* Negative and too large both raise OverflowError here. */
	v = PyLong_AsUnsignedLongLong(i);
	Py_DECREF(i);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return -1;
		PyErr_Clear();
		overflow = 1;
	} else if (v > max) {
		overflow = 1;
	} else {
		*out = v;
	}
	if (overflow) {
		PyErr_Format(PyExc_ValueError, "%s must be in [0, %llu]", what,
			     (unsigned long long)max);
		return -1;
	}
	return 0;
}

static int get_bool(PyObject *o, int *out)
{
	int v = o ? PyObject_IsTrue(o) : 0;

	if (v < 0)
		return -1;
	*out = v;
	return 0;
}

/* ---- tokens ----------------------------------------------------------------- */

#define TOKS_SMALL 64

/* A token sequence as libpce reads it: borrowed from a buffer, or converted. */
struct toks {
	const uint32_t *p;
	size_t n;
	Py_buffer view;  /* view.obj != NULL: a buffer is exported to us */
	uint32_t *heap;  /* conversion larger than small[] (PyMem_Free) */
	uint32_t small[TOKS_SMALL];
};

static const uint32_t no_tokens[1];

/* A 4-byte unsigned struct format, native or little-endian on this machine. */
static int format_is_u32(const char *f)
{
	if (!f)
		return 0;
	if (*f == '@' || *f == '=' || (*f == '<' && PY_LITTLE_ENDIAN) || (*f == '>' && PY_BIG_ENDIAN))
		f++;
	return (f[0] == 'I' || f[0] == 'L') && f[1] == 0;
}

static int token_of(PyObject *o, Py_ssize_t idx, uint32_t *out)
{
	long v;

	if (PyLong_CheckExact(o)) {
		v = PyLong_AsLong(o);
	} else {
		PyObject *i = PyNumber_Index(o);
		if (!i) {
			if (PyErr_ExceptionMatches(PyExc_TypeError)) {
				PyErr_Clear();
				PyErr_Format(PyExc_TypeError,
					     "token at index %zd is %.100s, not an int", idx,
					     Py_TYPE(o)->tp_name);
			}
			return -1;
		}
		v = PyLong_AsLong(i);
		Py_DECREF(i);
	}
	if (v == -1 && PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return -1;
		PyErr_Clear();
		v = -1;
	} else if (v >= 0 && (unsigned long)v <= UINT32_MAX) {
		*out = (uint32_t)v;
		return 0;
	}
	PyErr_Format(PyExc_ValueError, "token at index %zd is out of range [0, 2**32)", idx);
	return -1;
}

static void toks_put(struct toks *t)
{
	if (t->view.obj)
		PyBuffer_Release(&t->view);
	PyMem_Free(t->heap);
	t->heap = NULL;
}

/* Borrow @obj's buffer or convert its ints; on error nothing is held. */
static int toks_get(PyObject *obj, struct toks *t)
{
	PyObject *seq;
	PyObject **items;
	uint32_t *dst;
	Py_ssize_t n;

	t->view.obj = NULL;
	t->heap = NULL;
	if (PyObject_CheckBuffer(obj)) {
		if (PyObject_GetBuffer(obj, &t->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
			return -1;
		if (t->view.ndim > 1 || t->view.itemsize != 4 || !format_is_u32(t->view.format)) {
			PyErr_Format(PyExc_TypeError,
				     "token buffer must be one-dimensional 32-bit unsigned ints "
				     "(format 'I'), not format '%s' with itemsize %zd",
				     t->view.format ? t->view.format : "B", t->view.itemsize);
			PyBuffer_Release(&t->view);
			t->view.obj = NULL;
			return -1;
		}
		t->n = (size_t)(t->view.len / 4);
		t->p = t->n ? t->view.buf : no_tokens;
		return 0;
	}
	seq = PySequence_Fast(obj, "tokens must be a buffer of uint32 or a sequence of ints");
	if (!seq)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	items = PySequence_Fast_ITEMS(seq);
	dst = t->small;
	if (n > TOKS_SMALL) {
		dst = t->heap = PyMem_Malloc((size_t)n * sizeof(uint32_t));
		if (!dst) {
			Py_DECREF(seq);
			PyErr_NoMemory();
			return -1;
		}
	}
	for (Py_ssize_t i = 0; i < n; i++)
		if (token_of(items[i], i, &dst[i]) < 0) {
			Py_DECREF(seq);
			toks_put(t);
			return -1;
		}
	Py_DECREF(seq);
	t->p = n ? dst : no_tokens;
	t->n = (size_t)n;
	return 0;
}

/*
 * A list of token sequences, plus per-sequence namespaces (@ns_obj: an int
 * for all, or a sequence of one int each).  The toks structs are never
 * moved after toks_get (small[] may be pointed at), hence one allocation.
 */
struct batch {
	Py_ssize_t n;
	struct toks *t;
	uint64_t *ns;
};

static void batch_put(struct batch *b)
{
	for (Py_ssize_t i = 0; i < b->n; i++)
		toks_put(&b->t[i]);
	PyMem_Free(b->t);
	PyMem_Free(b->ns);
	b->t = NULL;
	b->ns = NULL;
	b->n = 0;
}

/* Fill @out from @list: ints given as one int or one per sequence. */
static int per_item_uint(PyObject *obj, Py_ssize_t n, uint64_t max, const char *what,
			 uint64_t *out)
{
	PyObject *seq;

	if (!obj || obj == Py_None || PyIndex_Check(obj)) {
		uint64_t v;
		if (get_uint(obj, max, 0, what, &v) < 0)
			return -1;
		for (Py_ssize_t i = 0; i < n; i++)
			out[i] = v;
		return 0;
	}
	seq = PySequence_Fast(obj, "expected an int or a sequence of ints");
	if (!seq)
		return -1;
	if (PySequence_Fast_GET_SIZE(seq) != n) {
		PyErr_Format(PyExc_ValueError, "%s has %zd items for %zd sequences", what,
			     PySequence_Fast_GET_SIZE(seq), n);
		Py_DECREF(seq);
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		if (get_uint(PySequence_Fast_GET_ITEM(seq, i), max, 0, what, &out[i]) < 0) {
			Py_DECREF(seq);
			return -1;
		}
	Py_DECREF(seq);
	return 0;
}

static int batch_get(PyObject *list, PyObject *ns_obj, struct batch *b)
{
	PyObject *seq = PySequence_Fast(list, "expected a sequence of token sequences");
	Py_ssize_t n;

	b->n = 0;
	b->t = NULL;
	b->ns = NULL;
	if (!seq)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	b->t = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*b->t));
	b->ns = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*b->ns));
	if (!b->t || !b->ns) {
		Py_DECREF(seq);
		batch_put(b);
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		if (toks_get(PySequence_Fast_GET_ITEM(seq, i), &b->t[i]) < 0) {
			Py_DECREF(seq);
			batch_put(b);
			return -1;
		}
		b->n = i + 1;
	}
	Py_DECREF(seq);
	if (per_item_uint(ns_obj, n, UINT64_MAX, "ns", b->ns) < 0) {
		batch_put(b);
		return -1;
	}
	return 0;
}

/* ---- callbacks ----------------------------------------------------------------- */

/* The Python side of a cache's callbacks; see "Callbacks" above.  Fields
 * are read and written with the GIL held. */
struct hooks {
	PyObject *on_release;
	PyObject *on_event;
	PyObject *clock;
	uint64_t clock_last; /* the clock never goes back, and repeats this on error */
};

/* The hooks whose callable this thread is running, if any.  libpce calls
 * back under its own locks (a shard's writer lock, the reclaim lock) or from
 * the reclaim thread, which close() would join: a callable that called into
 * its own cache would deadlock, so cache_enter() refuses. */
static _Thread_local struct hooks *in_hook;

static int cb_closing;           /* set by _shutdown() */
static unsigned long cb_inflight; /* callbacks between hook_enter and hook_leave */
static _Thread_local unsigned long hook_depth; /* this thread's share of cb_inflight */
static unsigned long fork_generation; /* fork()s in this process's ancestry */

/* The child of a fork() has only the forking thread (see "fork()" above). */
static void after_fork_child(void)
{
	__atomic_store_n(&cb_inflight, hook_depth, __ATOMIC_SEQ_CST);
	fork_generation++;
}

static PyObject *reason_str[PCE_REASON_COUNT];
static PyObject *kind_str[2];

/* What a callback saves on entry and restores on exit. */
struct hook_frame {
	PyGILState_STATE gil;
	PyObject *et, *ev, *tb; /* an exception already set on this thread */
	struct hooks *outer;    /* in_hook before */
};

/* Take the GIL to run a callable of @h: 0 if Python no longer takes calls. */
static int hook_enter(struct hooks *h, struct hook_frame *f)
{
	hook_depth++;
	__atomic_add_fetch(&cb_inflight, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&cb_closing, __ATOMIC_SEQ_CST) || py_finalizing()) {
		__atomic_sub_fetch(&cb_inflight, 1, __ATOMIC_SEQ_CST);
		hook_depth--;
		return 0;
	}
	f->gil = PyGILState_Ensure();
	/* A destroy from a deallocation may run with an exception set. */
	PyErr_Fetch(&f->et, &f->ev, &f->tb);
	f->outer = in_hook;
	in_hook = h;
	return 1;
}

static void hook_leave(struct hook_frame *f)
{
	in_hook = f->outer;
	PyErr_Restore(f->et, f->ev, f->tb);
	PyGILState_Release(f->gil);
	__atomic_sub_fetch(&cb_inflight, 1, __ATOMIC_SEQ_CST);
	hook_depth--;
}

static PyObject *reason_of(enum pce_reason r)
{
	return (unsigned)r < PCE_REASON_COUNT ? reason_str[r] : Py_None;
}

static PyTypeObject EventType, ReleasedType, StoreResultType, EvictedType;

static PyStructSequence_Field event_fields[] = {
	{"kind", "'stored' (visible to lookups from now) or 'removed' (no longer)"},
	{"reason", "why it was removed ('capacity', 'ttl', ...); None for 'stored'"},
	{"ns", "namespace"},
	{"value", "the entry's value"},
	{"kv_bytes", "the entry's KV bytes"},
	{"len", "the entry's length in tokens"},
	{"tokens", "'stored': a read-only memoryview (format 'I') of a copy of the "
		   "stored tokens; 'removed': None"},
	{"id", "the entry's id: never 0, unique among the entries a cache ever "
	       "stores (a replacement is a new entry); its 'removed' event and its "
	       "Released carry the id its 'stored' event did.  Opaque, not ordered"},
	{"owner", "a Router's event: the holding's owner; 0 for a Cache"},
	{"tier", "a Router's event: the holding's tier; 0 for a Cache"},
	{NULL, NULL}};
static PyStructSequence_Desc event_desc = {
	"pce.Event", "A change of the index, passed to on_event.", event_fields, 10};

static PyStructSequence_Field released_fields[] = {
	{"ns", "namespace"},
	{"value", "the value stored with the entry"},
	{"kv_bytes", "the entry's KV bytes"},
	{"len", "the entry's length in tokens"},
	{"reason", "why it left: 'capacity', 'ttl', 'removed', 'cleared', 'replaced', 'destroyed'"},
	{"id", "the entry's id, as its events carried it (see Event.id)"},
	{NULL, NULL}};
static PyStructSequence_Desc released_desc = {
	"pce.Released", "A value leaving the cache, passed to on_release exactly once.",
	released_fields, 6};

/* Fill a struct sequence from a format of 'K' (uint64), 'n' (size_t), 'd'
 * (double) and 'O' (borrowed object) items. */
static PyObject *struct_seq(PyTypeObject *type, const char *fmt, ...)
{
	PyObject *o = PyStructSequence_New(type);
	va_list ap;

	if (!o)
		return NULL;
	va_start(ap, fmt);
	for (Py_ssize_t i = 0; fmt[i]; i++) {
		PyObject *v;
		switch (fmt[i]) {
		case 'K':
			v = PyLong_FromUnsignedLongLong(va_arg(ap, unsigned long long));
			break;
		case 'n':
			v = PyLong_FromSize_t(va_arg(ap, size_t));
			break;
		case 'd':
			v = PyFloat_FromDouble(va_arg(ap, double));
			break;
		default:
			v = Py_NewRef(va_arg(ap, PyObject *));
			break;
		}
		if (!v) {
			va_end(ap);
			Py_DECREF(o);
			return NULL;
		}
		PyStructSequence_SET_ITEM(o, i, v);
	}
	va_end(ap);
	return o;
}

/* Call @fn(@arg) (stealing @arg); an exception goes to sys.unraisablehook. */
static void hook_call(PyObject *fn, PyObject *arg)
{
	PyObject *res;

	if (!arg) {
		PyErr_WriteUnraisable(fn);
		return;
	}
	res = PyObject_CallOneArg(fn, arg);
	Py_DECREF(arg);
	if (res)
		Py_DECREF(res);
	else
		PyErr_WriteUnraisable(fn);
}

static void release_cb(void *ctx, const struct pce_released *r)
{
	struct hooks *h = ctx;
	struct hook_frame f;
	PyObject *fn;

	if (!hook_enter(h, &f))
		return;
	fn = Py_XNewRef(h->on_release);
	if (fn) {
		hook_call(fn, struct_seq(&ReleasedType, "KKKnOK", (unsigned long long)r->ns,
					 (unsigned long long)r->value,
					 (unsigned long long)r->kv_bytes, r->len, reason_of(r->reason),
					 (unsigned long long)r->id));
		Py_DECREF(fn);
	}
	hook_leave(&f);
}

/* A read-only memoryview (format 'I') of a copy of @n tokens. */
static PyObject *tokens_copy(const uint32_t *tokens, size_t n)
{
	PyObject *bytes = PyBytes_FromStringAndSize((const char *)tokens, (Py_ssize_t)(n * 4));
	PyObject *mv = bytes ? PyMemoryView_FromObject(bytes) : NULL;
	PyObject *cast = mv ? PyObject_CallMethod(mv, "cast", "s", "I") : NULL;

	Py_XDECREF(bytes);
	Py_XDECREF(mv);
	return cast;
}

static void event_cb(void *ctx, const struct pce_event *e)
{
	struct hooks *h = ctx;
	struct hook_frame f;
	PyObject *fn;

	if (!hook_enter(h, &f))
		return;
	fn = Py_XNewRef(h->on_event);
	if (fn) {
		int stored = e->kind == PCE_EVENT_STORED;
		PyObject *toks = stored && e->tokens ? tokens_copy(e->tokens, e->len)
						     : Py_NewRef(Py_None);
		PyObject *arg = NULL;

		if (toks)
			arg = struct_seq(&EventType, "OOKKKnOKKK", kind_str[!stored],
					 stored ? Py_None : reason_of(e->reason),
					 (unsigned long long)e->ns, (unsigned long long)e->value,
					 (unsigned long long)e->kv_bytes, e->len, toks,
					 (unsigned long long)e->id, (unsigned long long)e->owner,
					 (unsigned long long)e->tier);
		Py_XDECREF(toks);
		hook_call(fn, arg);
		Py_DECREF(fn);
	}
	hook_leave(&f);
}

static uint64_t clock_cb(void *ctx)
{
	struct hooks *h = ctx;
	struct hook_frame f;
	PyObject *fn;
	uint64_t now;

	if (!hook_enter(h, &f))
		return __atomic_load_n(&h->clock_last, __ATOMIC_RELAXED);
	now = h->clock_last;
	fn = Py_XNewRef(h->clock);
	if (fn) {
		PyObject *res = PyObject_CallNoArgs(fn);
		uint64_t v;
		if (res && get_uint(res, UINT64_MAX, 0, "clock()", &v) == 0) {
			if (v > now)
				now = v;
		} else {
			PyErr_WriteUnraisable(fn);
		}
		Py_XDECREF(res);
		Py_DECREF(fn);
	}
	__atomic_store_n(&h->clock_last, now, __ATOMIC_RELAXED);
	hook_leave(&f);
	return now;
}

/* ---- Cache ---------------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	struct pce_cache *cache; /* NULL: not created yet, or closed */
	struct hooks *hooks;
	unsigned busy;           /* calls in progress; see "GIL protocol" */
	int closing;             /* close() is destroying it with the GIL released */
	PyObject *weakrefs;
	unsigned long generation; /* fork_generation at creation */
	/* The budgets in force, which set_budgets() completes with the fields
	 * it is not given; read and written under budgets_lock (GIL released,
	 * since the call it guards can run callbacks). */
	pthread_mutex_t budgets_lock;
	struct pce_budgets budgets;
} CacheObject;

typedef struct {
	PyObject_HEAD
	CacheObject *owner;
	struct pce_pin pin; /* id 0: released */
} PinObject;

typedef struct {
	PyObject_HEAD
	struct pce_match m;
	PyObject *pin; /* a Pin, or None */
} MatchObject;

static PyTypeObject CacheType, PinType, MatchType;

/* While close() runs pce_cache_destroy() with the GIL released, other
 * threads may take the GIL: each call waits (GIL released) for the outcome,
 * so none runs on a cache being destroyed, and none is told "closed" by a
 * close() that then fails (live pins). */
static void wait_closing(CacheObject *self)
{
	if (in_hook && in_hook == self->hooks)
		return; /* a callback of the destroy itself: it must not wait */
	while (self->closing) {
		Py_BEGIN_ALLOW_THREADS
		nanosleep(&(struct timespec){0, 50000}, NULL);
		Py_END_ALLOW_THREADS
	}
}

/* Start a call on @self: fails on a closed cache (libpce's NULL cache). */
static int cache_enter(CacheObject *self)
{
	wait_closing(self);
	if (!self->cache) {
		raise_rc(PCE_EINVAL, "the cache is closed");
		return -1;
	}
	if (in_hook && in_hook == self->hooks) {
		raise_rc(PCE_EBUSY, "a callback must not call into its own cache");
		return -1;
	}
	self->busy++;
	return 0;
}

static void cache_leave(CacheObject *self)
{
	self->busy--;
}

static PyObject *pin_new(CacheObject *owner, struct pce_pin pin)
{
	PinObject *p = PyObject_GC_New(PinObject, &PinType);

	if (!p) {
		pce_pin_release(owner->cache, pin);
		return NULL;
	}
	p->owner = (CacheObject *)Py_NewRef(owner);
	p->pin = pin;
	PyObject_GC_Track(p);
	return (PyObject *)p;
}

/* A Match for @m; takes ownership of its pin (released on failure). */
static PyObject *match_new(CacheObject *owner, const struct pce_match *m)
{
	MatchObject *o = PyObject_New(MatchObject, &MatchType);

	if (!o) {
		if (m->pin.id)
			pce_pin_release(owner->cache, m->pin);
		return NULL;
	}
	o->m = *m;
	o->pin = m->pin.id ? pin_new(owner, m->pin) : Py_NewRef(Py_None);
	if (!o->pin) {
		o->pin = Py_NewRef(Py_None);
		Py_DECREF(o);
		return NULL;
	}
	return (PyObject *)o;
}

/* Integer fields of struct pce_config settable by keyword. */
static const struct cfg_field {
	const char *name;
	size_t off;
	size_t size;
	uint64_t max;
} cfg_fields[] = {
#define F32_(f) {#f, offsetof(struct pce_config, f), 4, UINT32_MAX}
#define F64_(f) {#f, offsetof(struct pce_config, f), 8, UINT64_MAX}
	F32_(shards), F32_(min_prefix_len), F32_(block_size), F32_(max_pins),
	F64_(kv_bytes_per_token), F64_(kv_budget), F64_(index_budget), F64_(max_entries),
	F32_(high_watermark_pct), F32_(low_watermark_pct), F64_(default_ttl_ns),
	F64_(default_pin_lease_ns), F64_(reclaim_interval_ns),
#undef F32_
#undef F64_
};

/* Words accepted for the enum fields. */
static const struct cfg_word {
	const char *field;
	const char *word;
	int value;
} cfg_words[] = {
	{"policy", "lru", PCE_POLICY_CLOCK_LRU},
	{"policy", "lfu", PCE_POLICY_CLOCK_LFU},
	{"kv_mode", "declared", PCE_KV_DECLARED},
	{"kv_mode", "per_token", PCE_KV_PER_TOKEN},
};

/* Set the integer field @k of the config @cfg (a Cache's or a Router's, described
 * by @fields) from @val: 1 done, 0 no such field, -1 error. */
static int cfg_field_set(void *cfg, const struct cfg_field *fields, size_t n, const char *k,
			 PyObject *val)
{
	for (size_t i = 0; i < n; i++) {
		const struct cfg_field *f = &fields[i];
		uint64_t v;
		if (strcmp(k, f->name))
			continue;
		if (get_uint(val, f->max, 0, f->name, &v) < 0)
			return -1;
		if (f->size == 4)
			*(uint32_t *)((char *)cfg + f->off) = (uint32_t)v;
		else
			*(uint64_t *)((char *)cfg + f->off) = v;
		return 1;
	}
	return 0;
}

/* Set the callable @slot (keyword @k) of a struct hooks from @val (None: unset). */
static int hook_set(PyObject **slot, const char *k, PyObject *val)
{
	if (val != Py_None && !PyCallable_Check(val)) {
		PyErr_Format(PyExc_TypeError, "%s must be callable or None", k);
		return -1;
	}
	Py_XSETREF(*slot, val == Py_None ? NULL : Py_NewRef(val));
	return 0;
}

static int cfg_set(void *cfgp, struct hooks *h, PyObject *key, PyObject *val)
{
	struct pce_config *cfg = cfgp;
	const char *k = PyUnicode_AsUTF8(key);
	int rc;

	if (!k)
		return -1;
	rc = cfg_field_set(cfg, cfg_fields, sizeof(cfg_fields) / sizeof(cfg_fields[0]), k, val);
	if (rc)
		return rc < 0 ? -1 : 0;
	if (!strcmp(k, "policy") || !strcmp(k, "kv_mode")) {
		for (size_t i = 0; i < sizeof(cfg_words) / sizeof(cfg_words[0]); i++) {
			const struct cfg_word *w = &cfg_words[i];
			if (strcmp(k, w->field) || !PyUnicode_Check(val) ||
			    PyUnicode_CompareWithASCIIString(val, w->word) != 0)
				continue;
			if (k[0] == 'p')
				cfg->policy = (enum pce_policy)w->value;
			else
				cfg->kv_mode = (enum pce_kv_mode)w->value;
			return 0;
		}
		PyErr_Format(PyExc_ValueError, "%s must be %s, not %R", k,
			     k[0] == 'p' ? "'lru' or 'lfu'" : "'declared' or 'per_token'", val);
		return -1;
	}
	if (!strcmp(k, "background_reclaim"))
		return get_bool(val, &cfg->background_reclaim);
	if (!strcmp(k, "on_release") || !strcmp(k, "on_event") || !strcmp(k, "clock"))
		return hook_set(k[0] == 'c' ? &h->clock : k[3] == 'r' ? &h->on_release : &h->on_event,
				k, val);
	PyErr_Format(PyExc_TypeError, "Cache() got an unexpected keyword argument '%s'", k);
	return -1;
}

static void hooks_free(struct hooks *h)
{
	if (!h)
		return;
	Py_CLEAR(h->on_release);
	Py_CLEAR(h->on_event);
	Py_CLEAR(h->clock);
	PyMem_RawFree(h);
}

/* The keyword arguments of Cache() or Router() (@what), set by @set into
 * @cfg (already initialized) and into the returned hooks; NULL with an
 * exception on a bad argument. */
static struct hooks *open_args(const char *what, PyObject *args, PyObject *kwds, void *cfg,
			       int (*set)(void *, struct hooks *, PyObject *, PyObject *))
{
	struct hooks *h;
	PyObject *key, *val;
	Py_ssize_t pos = 0;

	if (PyTuple_GET_SIZE(args)) {
		PyErr_Format(PyExc_TypeError, "%s() takes keyword arguments only", what);
		return NULL;
	}
	h = PyMem_RawCalloc(1, sizeof(*h));
	if (!h) {
		PyErr_NoMemory();
		return NULL;
	}
	while (kwds && PyDict_Next(kwds, &pos, &key, &val))
		if (set(cfg, h, key, val) < 0) {
			hooks_free(h);
			return NULL;
		}
	return h;
}

/* Cache(**config), or with @path Cache.restore(path, **config): the cache
 * restored from the snapshot at @path instead of an empty one. */
static int cache_open(CacheObject *self, PyObject *args, PyObject *kwds, const char *path)
{
	struct pce_config cfg;
	struct hooks *h;
	const char *why;
	int rc;

	if (self->cache || self->hooks) {
		PyErr_SetString(PyExc_RuntimeError, "Cache.__init__ called twice");
		return -1;
	}
	pce_config_init(&cfg);
	h = open_args("Cache", args, kwds, &cfg, cfg_set);
	if (!h)
		return -1;
	if (h->on_release) {
		cfg.on_release = release_cb;
		cfg.release_ctx = h;
	}
	if (h->on_event) {
		cfg.on_event = event_cb;
		cfg.event_ctx = h;
	}
	if (h->clock) {
		cfg.clock = clock_cb;
		cfg.clock_ctx = h;
	}
	why = pce_config_error(&cfg);
	if (why) {
		hooks_free(h);
		raise_rc(PCE_EINVAL, why);
		return -1;
	}
	self->hooks = h;
	self->generation = fork_generation;
	self->budgets = (struct pce_budgets){cfg.kv_budget, cfg.index_budget, cfg.max_entries,
					     cfg.high_watermark_pct, cfg.low_watermark_pct};
	/* The reclaim thread may call back at once. */
	Py_BEGIN_ALLOW_THREADS
	rc = path ? pce_cache_snapshot_restore(&cfg, path, NULL, NULL, &self->cache)
		  : pce_cache_create(&cfg, &self->cache);
	Py_END_ALLOW_THREADS
	if (rc) {
		self->cache = NULL;
		self->hooks = NULL;
		hooks_free(h);
		raise_rc(rc, NULL);
		return -1;
	}
	return 0;
}

static int Cache_init(CacheObject *self, PyObject *args, PyObject *kwds)
{
	return cache_open(self, args, kwds, NULL);
}

/* Destroy libpce's cache (GIL released: on_release calls and the reclaim
 * thread's last callback need it).  0, or the code of a refusal. */
static int cache_destroy(CacheObject *self)
{
	struct pce_cache *c = self->cache;
	int rc;

	if (!c)
		return 0;
	if (self->generation != fork_generation)
		return PCE_EFORKED;
	if (self->busy || (in_hook && in_hook == self->hooks))
		return PCE_EBUSY;
	self->busy++;
	self->closing = 1;
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_destroy(c);
	Py_END_ALLOW_THREADS
	self->closing = 0;
	self->busy--;
	if (rc == 0)
		self->cache = NULL;
	return rc;
}

static PyObject *Cache_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	CacheObject *self = (CacheObject *)PyType_GenericNew(type, args, kwds);

	if (self)
		pthread_mutex_init(&self->budgets_lock, NULL);
	return (PyObject *)self;
}

static int Cache_traverse(CacheObject *self, visitproc visit, void *arg)
{
	if (self->hooks) {
		Py_VISIT(self->hooks->on_release);
		Py_VISIT(self->hooks->on_event);
		Py_VISIT(self->hooks->clock);
	}
	return 0;
}

static int Cache_clear(CacheObject *self)
{
	if (self->hooks) {
		Py_CLEAR(self->hooks->on_release);
		Py_CLEAR(self->hooks->on_event);
		Py_CLEAR(self->hooks->clock);
	}
	return 0;
}

static void Cache_dealloc(CacheObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);
	int rc;

	PyObject_GC_UnTrack(self);
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* Every pin is held by a Pin object, which holds this cache: none is
	 * live here.  Should libpce still refuse, the cache and its hooks
	 * (emptied) are leaked rather than left pointing at freed memory. */
	rc = cache_destroy(self);
	if (rc && rc != PCE_EFORKED) {
		PyErr_Format(err_class(rc), "pce.Cache: destroy failed: %s", pce_strerror(rc));
		PyErr_WriteUnraisable(NULL);
		Cache_clear(self);
	} else {
		/* PCE_EFORKED: the parent's cache, inherited by this child
		 * process; libpce abandons it and never calls back into it. */
		hooks_free(self->hooks);
	}
	self->hooks = NULL;
	pthread_mutex_destroy(&self->budgets_lock);
	tp->tp_free((PyObject *)self);
}

static PyObject *Cache_close(CacheObject *self, PyObject *unused)
{
	int rc;

	(void)unused;
	if (in_hook && in_hook == self->hooks)
		return raise_rc(PCE_EBUSY, "a callback must not call into its own cache");
	if (self->busy && self->generation == fork_generation)
		return raise_rc(PCE_EBUSY, "the cache is in use by another call");
	rc = cache_destroy(self);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

static PyObject *Cache_enter(CacheObject *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

static PyObject *Cache_exit(CacheObject *self, PyObject *args)
{
	(void)args;
	return Cache_close(self, NULL);
}

static PyObject *Cache_get_closed(CacheObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->cache == NULL);
}

/* ---- store ----- */

/* The StoreResult of a store into @owner that returned @rc; takes ownership
 * of r->holder_pin (released on failure). */
static PyObject *store_result(CacheObject *owner, int rc, const struct pce_store_result *r)
{
	PyObject *existing = rc == PCE_EEXIST || r->replaced
				     ? PyLong_FromUnsignedLongLong(r->existing_value)
				     : Py_NewRef(Py_None);
	PyObject *holder_pin = r->holder_pin.id ? pin_new(owner, r->holder_pin) : Py_NewRef(Py_None);
	PyObject *error = Py_None, *res = NULL;

	if (!holder_pin)
		goto out; /* pin_new released the pin */
	if (!existing)
		goto out;
	if (rc && rc != PCE_EEXIST) {
		error = PyObject_CallFunction(err_class(rc), "N",
					      PyUnicode_FromFormat("%s (%s)", pce_strerror(rc),
								   pce_err_name(rc)));
		if (!error)
			goto out;
	} else {
		Py_INCREF(error);
	}
	res = struct_seq(&StoreResultType, "OOOnOnnKKO", rc == 0 ? Py_True : Py_False,
			 r->replaced ? Py_True : Py_False, existing, r->new_tokens, error,
			 r->holder_tokens, r->holder_len, (unsigned long long)r->holder_value,
			 (unsigned long long)r->holder_id, holder_pin);
	Py_DECREF(error);
out:
	Py_XDECREF(existing);
	Py_XDECREF(holder_pin); /* a Pin dropped here releases itself */
	return res;
}

/* Options of store() and store_many(): a[0] replace, a[1] ttl_ns,
 * a[2] pin_holder, a[3] lease_ns. */
static int store_opts(PyObject *const *a, struct pce_store_opts *o)
{
	int rep, pin;

	if (get_bool(a[0], &rep) < 0 || get_uint(a[1], UINT64_MAX, 0, "ttl_ns", &o->ttl_ns) < 0 ||
	    get_bool(a[2], &pin) < 0 ||
	    get_uint(a[3], UINT64_MAX, 0, "lease_ns", &o->pin_lease_ns) < 0)
		return -1;
	o->flags = (rep ? PCE_STORE_REPLACE : 0) | (pin ? PCE_STORE_PIN_HOLDER : 0);
	return 0;
}

static PyObject *Cache_store(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	static const char *const names[] = {"tokens", "value",      "kv_bytes", "ns", "replace",
					    "ttl_ns", "pin_holder", "lease_ns", NULL};
	PyObject *a[8];
	struct pce_store_opts o;
	struct pce_store_result r;
	uint64_t value, kv, ns;
	struct toks t;
	int rc;

	if (parse_args("store", args, nargs, kwnames, names, 3, 2, a) < 0 ||
	    get_uint(a[1], UINT64_MAX, 0, "value", &value) < 0 ||
	    get_uint(a[2], UINT64_MAX, 0, "kv_bytes", &kv) < 0 ||
	    get_uint(a[3], UINT64_MAX, 0, "ns", &ns) < 0 || store_opts(a + 4, &o) < 0)
		return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	if (toks_get(a[0], &t) < 0) {
		cache_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_store(self->cache, ns, t.p, t.n, value, kv, &o, &r);
	Py_END_ALLOW_THREADS
	toks_put(&t);
	cache_leave(self);
	if (rc && rc != PCE_EEXIST)
		return raise_rc(rc, NULL); /* libpce kept no holder pin */
	return store_result(self, rc, &r);
}

static PyObject *Cache_store_many(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	static const char *const names[] = {"seqs",   "values",     "kv_bytes", "ns", "replace",
					    "ttl_ns", "pin_holder", "lease_ns", NULL};
	PyObject *a[8], *out = NULL;
	struct pce_store_opts o;
	struct pce_store_result *r = NULL;
	uint64_t *val = NULL, *kv = NULL;
	int *rc = NULL;
	struct batch b;

	if (parse_args("store_many", args, nargs, kwnames, names, 3, 2, a) < 0 ||
	    store_opts(a + 4, &o) < 0)
		return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	if (batch_get(a[0], a[3], &b) < 0) {
		cache_leave(self);
		return NULL;
	}
	val = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*val));
	kv = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*kv));
	r = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*r));
	rc = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*rc));
	if (!val || !kv || !r || !rc) {
		PyErr_NoMemory();
		goto out;
	}
	if (!a[1] || PyIndex_Check(a[1])) {
		PyErr_SetString(PyExc_TypeError, "store_many() values must be a sequence of ints");
		goto out;
	}
	if (per_item_uint(a[1], b.n, UINT64_MAX, "values", val) < 0 ||
	    per_item_uint(a[2], b.n, UINT64_MAX, "kv_bytes", kv) < 0)
		goto out;
	Py_BEGIN_ALLOW_THREADS
	for (Py_ssize_t i = 0; i < b.n; i++)
		rc[i] = pce_cache_store(self->cache, b.ns[i], b.t[i].p, b.t[i].n, val[i], kv[i], &o,
					&r[i]);
	Py_END_ALLOW_THREADS
	out = PyList_New(b.n);
	for (Py_ssize_t i = 0; i < b.n; i++) {
		PyObject *res;
		/* After a failure, the holder pins of the rest go back. */
		if (!out) {
			if (r[i].holder_pin.id)
				pce_pin_release(self->cache, r[i].holder_pin);
			continue;
		}
		res = store_result(self, rc[i], &r[i]);
		if (!res)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, i, res);
	}
out:
	batch_put(&b);
	cache_leave(self);
	PyMem_Free(val);
	PyMem_Free(kv);
	PyMem_Free(r);
	PyMem_Free(rc);
	return out;
}

/* ---- lookup ----- */

static int lookup_opts(PyObject *const *a, struct pce_lookup_opts *o)
{
	int pin, whole, peek;

	if (get_bool(a[0], &pin) < 0 || get_bool(a[1], &whole) < 0 || get_bool(a[2], &peek) < 0 ||
	    get_uint(a[3], UINT64_MAX, 0, "lease_ns", &o->pin_lease_ns) < 0)
		return -1;
	o->flags = (pin ? PCE_LOOKUP_PIN : 0) | (whole ? PCE_LOOKUP_WHOLE : 0) |
		   (peek ? PCE_LOOKUP_PEEK : 0);
	return 0;
}

static PyObject *Cache_lookup(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	static const char *const names[] = {"tokens", "ns", "pin", "whole", "peek", "lease_ns",
					    NULL};
	PyObject *a[6];
	struct pce_lookup_opts o;
	struct pce_match m;
	uint64_t ns;
	struct toks t;
	int rc;

	if (kwnames || nargs != 1) {
		if (parse_args("lookup", args, nargs, kwnames, names, 1, 1, a) < 0 ||
		    get_uint(a[1], UINT64_MAX, 0, "ns", &ns) < 0 || lookup_opts(a + 2, &o) < 0)
			return NULL;
	} else {
		/* The common call, lookup(tokens), skips the parsing. */
		a[0] = args[0];
		ns = 0;
		o.flags = 0;
		o.pin_lease_ns = 0;
	}
	if (cache_enter(self) < 0)
		return NULL;
	if (toks_get(a[0], &t) < 0) {
		cache_leave(self);
		return NULL;
	}
	/* Wait-free: the GIL stays held. */
	rc = pce_cache_lookup(self->cache, ns, t.p, t.n, &o, &m);
	toks_put(&t);
	cache_leave(self);
	if (rc)
		return raise_rc(rc, NULL);
	return match_new(self, &m);
}

static PyObject *Cache_lookup_many(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	static const char *const names[] = {"seqs", "ns", "pin", "whole", "peek", "lease_ns",
					    NULL};
	PyObject *a[6], *out = NULL;
	struct pce_lookup_opts o;
	struct pce_match *m;
	int *rc;
	struct batch b;
	Py_ssize_t i;

	if (parse_args("lookup_many", args, nargs, kwnames, names, 1, 1, a) < 0 ||
	    lookup_opts(a + 2, &o) < 0)
		return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	if (batch_get(a[0], a[1], &b) < 0) {
		cache_leave(self);
		return NULL;
	}
	m = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*m));
	rc = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*rc));
	if (!m || !rc) {
		PyErr_NoMemory();
		goto out;
	}
	Py_BEGIN_ALLOW_THREADS
	for (i = 0; i < b.n; i++)
		rc[i] = pce_cache_lookup(self->cache, b.ns[i], b.t[i].p, b.t[i].n, &o, &m[i]);
	Py_END_ALLOW_THREADS
	out = PyList_New(b.n);
	for (i = 0; i < b.n; i++) {
		PyObject *res;
		/* PCE_ENOPINS is a miss without a pin: the other pins stand.
		 * Any other failure raises, after giving back every pin. */
		if (!out || (rc[i] && rc[i] != PCE_ENOPINS)) {
			if (rc[i] == 0 && m[i].pin.id)
				pce_pin_release(self->cache, m[i].pin);
			if (out) {
				raise_rc(rc[i], NULL);
				Py_CLEAR(out);
			}
			continue;
		}
		res = match_new(self, &m[i]); /* gives the pin back on failure */
		if (!res)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, i, res);
	}
out:
	batch_put(&b);
	cache_leave(self);
	PyMem_Free(m);
	PyMem_Free(rc);
	return out;
}

/* ---- remove, clear, reclaim ----- */

static PyObject *Cache_remove(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	static const char *const names[] = {"tokens", "ns", NULL};
	PyObject *a[2];
	uint64_t ns, value = 0;
	struct toks t;
	int rc;

	if (parse_args("remove", args, nargs, kwnames, names, 1, 1, a) < 0 ||
	    get_uint(a[1], UINT64_MAX, 0, "ns", &ns) < 0)
		return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	if (toks_get(a[0], &t) < 0) {
		cache_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_remove(self->cache, ns, t.p, t.n, &value);
	Py_END_ALLOW_THREADS
	toks_put(&t);
	cache_leave(self);
	return rc ? raise_rc(rc, NULL) : PyLong_FromUnsignedLongLong(value);
}

static PyObject *Cache_clear_m(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			       PyObject *kwnames)
{
	static const char *const names[] = {"ns", NULL};
	PyObject *a[1];
	uint64_t ns, removed = 0;
	int rc;

	if (parse_args("clear", args, nargs, kwnames, names, 1, 0, a) < 0 ||
	    get_uint(a[0], UINT64_MAX, 0, "ns", &ns) < 0 || cache_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = a[0] && a[0] != Py_None ? pce_cache_clear_ns(self->cache, ns, &removed)
				     : pce_cache_clear(self->cache, &removed);
	Py_END_ALLOW_THREADS
	cache_leave(self);
	return rc ? raise_rc(rc, NULL) : PyLong_FromUnsignedLongLong(removed);
}

static PyObject *Cache_reclaim(CacheObject *self, PyObject *unused)
{
	int rc;

	(void)unused;
	if (cache_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_reclaim(self->cache);
	Py_END_ALLOW_THREADS
	cache_leave(self);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

/* ---- engine integration: remove_prefix, touch, evict, set_budgets ----- */

static PyObject *Cache_remove_prefix(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	static const char *const names[] = {"tokens", "ns", NULL};
	PyObject *a[2];
	uint64_t ns, removed = 0;
	struct toks t;
	int rc;

	if (parse_args("remove_prefix", args, nargs, kwnames, names, 1, 1, a) < 0 ||
	    get_uint(a[1], UINT64_MAX, 0, "ns", &ns) < 0)
		return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	if (toks_get(a[0], &t) < 0) {
		cache_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_remove_prefix(self->cache, ns, t.p, t.n, &removed);
	Py_END_ALLOW_THREADS
	toks_put(&t);
	cache_leave(self);
	return rc ? raise_rc(rc, NULL) : PyLong_FromUnsignedLongLong(removed);
}

static PyObject *Cache_touch(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	static const char *const names[] = {"tokens", "ns", "ttl_ns", NULL};
	PyObject *a[3];
	uint64_t ns, ttl;
	struct toks t;
	int rc;

	if (parse_args("touch", args, nargs, kwnames, names, 1, 1, a) < 0 ||
	    get_uint(a[1], UINT64_MAX, 0, "ns", &ns) < 0 ||
	    get_uint(a[2], UINT64_MAX, 0, "ttl_ns", &ttl) < 0)
		return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	if (toks_get(a[0], &t) < 0) {
		cache_leave(self);
		return NULL;
	}
	/* A shard lock, and the clock callable. */
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_touch(self->cache, ns, t.p, t.n, ttl);
	Py_END_ALLOW_THREADS
	toks_put(&t);
	cache_leave(self);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

static const struct {
	const char *word;
	enum pce_evict_unit unit;
} evict_units[] = {
	{"kv_bytes", PCE_EVICT_KV_BYTES},
	{"tokens", PCE_EVICT_TOKENS},
	{"entries", PCE_EVICT_ENTRIES},
};

static PyObject *Cache_evict(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	static const char *const names[] = {"amount", "unit", NULL};
	PyObject *a[2];
	struct pce_evicted f = {0};
	uint64_t amount;
	size_t u = 0;
	int rc;

	if (parse_args("evict", args, nargs, kwnames, names, 2, 2, a) < 0 ||
	    get_uint(a[0], UINT64_MAX, 0, "amount", &amount) < 0)
		return NULL;
	while (u < sizeof(evict_units) / sizeof(evict_units[0]) &&
	       !(PyUnicode_Check(a[1]) &&
		 PyUnicode_CompareWithASCIIString(a[1], evict_units[u].word) == 0))
		u++;
	if (u == sizeof(evict_units) / sizeof(evict_units[0])) {
		PyErr_Format(PyExc_ValueError,
			     "unit must be 'kv_bytes', 'tokens' or 'entries', not %R", a[1]);
		return NULL;
	}
	if (cache_enter(self) < 0)
		return NULL;
	/* Shard locks, a grace period and on_release calls in this thread. */
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_evict(self->cache, evict_units[u].unit, amount, &f);
	Py_END_ALLOW_THREADS
	cache_leave(self);
	if (rc && rc != PCE_ENOSPC)
		return raise_rc(rc, NULL);
	return struct_seq(&EvictedType, "KKKKO", (unsigned long long)f.entries,
			  (unsigned long long)f.kv_bytes, (unsigned long long)f.tokens,
			  (unsigned long long)f.index_bytes, rc ? Py_False : Py_True);
}

static PyObject *Cache_set_budgets(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	static const char *const names[] = {"kv_budget",          "index_budget",
					    "max_entries",        "high_watermark_pct",
					    "low_watermark_pct", NULL};
	PyObject *a[5];
	uint64_t v[5];
	struct pce_budgets b;
	int rc = PCE_EFORKED;

	if (parse_args("set_budgets", args, nargs, kwnames, names, 0, 0, a) < 0)
		return NULL;
	for (int i = 0; i < 5; i++)
		if (get_uint(a[i], i < 3 ? UINT64_MAX : UINT32_MAX, 0, names[i], &v[i]) < 0)
			return NULL;
	if (cache_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	/* An inherited budgets_lock may be held by a thread this child lacks. */
	if (self->generation == fork_generation) {
		pthread_mutex_lock(&self->budgets_lock);
		b = self->budgets;
		if (a[0] && a[0] != Py_None)
			b.kv_budget = v[0];
		if (a[1] && a[1] != Py_None)
			b.index_budget = v[1];
		if (a[2] && a[2] != Py_None)
			b.max_entries = v[2];
		if (a[3] && a[3] != Py_None)
			b.high_watermark_pct = (uint32_t)v[3];
		if (a[4] && a[4] != Py_None)
			b.low_watermark_pct = (uint32_t)v[4];
		rc = pce_cache_set_budgets(self->cache, &b);
		if (rc != PCE_EINVAL)
			self->budgets = b;
		pthread_mutex_unlock(&self->budgets_lock);
	}
	Py_END_ALLOW_THREADS
	cache_leave(self);
	if (rc == PCE_EINVAL)
		return raise_rc(rc, "watermarks must satisfy 0 < low <= high <= 100");
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

/* ---- statistics, audit, dedup ----- */

/*
 * Dictionaries of uint64 fields (stats, dedup).  Their keys are created once
 * and kept: a key made per call would be interned and dropped each time,
 * churning the interpreter's table of interned strings.
 */
struct dict_field {
	const char *name;
	size_t off;
};

#define SF_(f) {#f, offsetof(struct pce_stats, f)}
static const struct dict_field stat_fields[] = {
	SF_(lookups), SF_(hits), SF_(misses), SF_(query_tokens), SF_(hit_tokens), SF_(stores),
	SF_(stores_existing), SF_(stores_refused), SF_(sync_evictions), SF_(pins),
	SF_(pins_forced), SF_(released), SF_(reclaim_passes), SF_(entries), SF_(nodes),
	SF_(tokens), SF_(kv_bytes), SF_(index_bytes), SF_(retired_bytes), SF_(fixed_bytes),
	SF_(pinned_unlinked), SF_(live_pins), SF_(kv_budget), SF_(index_budget),
	SF_(max_entries)};
#undef SF_
#define DF_(f) {#f, offsetof(struct pce_dedup, f)}
static const struct dict_field dedup_fields[] = {
	DF_(sequences), DF_(total_tokens), DF_(cached_tokens), DF_(shared_tokens),
	DF_(unique_tokens)};
#undef DF_
#define N_STATS (sizeof(stat_fields) / sizeof(stat_fields[0]))
#define N_DEDUP (sizeof(dedup_fields) / sizeof(dedup_fields[0]))

static PyObject *stat_keys[N_STATS], *dedup_keys[N_DEDUP];
static PyObject *key_removed, *key_shards, *key_dedup_ratio;

static int make_keys(PyObject **keys, const struct dict_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(keys[i] = PyUnicode_InternFromString(f[i].name)))
			return -1;
	return 0;
}

static int init_keys(void)
{
	return make_keys(stat_keys, stat_fields, N_STATS) < 0 ||
			       make_keys(dedup_keys, dedup_fields, N_DEDUP) < 0 ||
			       !(key_removed = PyUnicode_InternFromString("removed")) ||
			       !(key_shards = PyUnicode_InternFromString("shards")) ||
			       !(key_dedup_ratio = PyUnicode_InternFromString("dedup_ratio"))
		       ? -1
		       : 0;
}

/* Set @d[@key] = @v (stealing @v); -1 on failure (also when @v is NULL). */
static int dict_put(PyObject *d, PyObject *key, PyObject *v)
{
	int rc = v ? PyDict_SetItem(d, key, v) : -1;

	Py_XDECREF(v);
	return rc;
}

/* A new dict of the uint64 fields @f of the struct at @base. */
static PyObject *fields_dict(const void *base, const struct dict_field *f, PyObject **keys,
			     size_t n)
{
	PyObject *d = PyDict_New();

	for (size_t i = 0; d && i < n; i++)
		if (dict_put(d, keys[i], PyLong_FromUnsignedLongLong(
						 *(const uint64_t *)((const char *)base + f[i].off))) < 0)
			Py_CLEAR(d);
	return d;
}

static PyObject *Cache_stats(CacheObject *self, PyObject *unused)
{
	struct pce_stats s;
	PyObject *d, *removed;
	int rc;

	(void)unused;
	if (cache_enter(self) < 0)
		return NULL;
	rc = pce_cache_stats(self->cache, &s); /* lock-free */
	cache_leave(self);
	if (rc)
		return raise_rc(rc, NULL);
	d = fields_dict(&s, stat_fields, stat_keys, N_STATS);
	removed = PyDict_New();
	for (int r = 0; removed && r < PCE_REASON_COUNT; r++)
		if (dict_put(removed, reason_str[r], PyLong_FromUnsignedLongLong(s.removed[r])) < 0)
			Py_CLEAR(removed);
	if (!d || dict_put(d, key_removed, removed) < 0 ||
	    dict_put(d, key_shards, PyLong_FromUnsignedLong(s.shards)) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *Cache_shard_entries(CacheObject *self, PyObject *unused)
{
	uint64_t counts[PCE_MAX_SHARDS];
	PyObject *out;
	int n;

	(void)unused;
	if (cache_enter(self) < 0)
		return NULL;
	n = pce_cache_shard_entries(self->cache, counts, PCE_MAX_SHARDS);
	cache_leave(self);
	if (n < 0)
		return raise_rc(n, NULL);
	out = PyList_New(n);
	for (int i = 0; out && i < n; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(counts[i]);
		if (!v)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, i, v);
	}
	return out;
}

static PyObject *Cache_audit(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	static const char *const names[] = {"quiescent", NULL};
	PyObject *a[1];
	char msg[256] = "";
	int q, rc;

	if (parse_args("audit", args, nargs, kwnames, names, 1, 0, a) < 0 ||
	    get_bool(a[0], &q) < 0 || cache_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_audit(self->cache, q ? PCE_AUDIT_QUIESCENT : 0, msg, sizeof(msg));
	Py_END_ALLOW_THREADS
	cache_leave(self);
	return rc ? raise_rc(rc, msg[0] ? msg : NULL) : Py_NewRef(Py_None);
}

/* dedup over @seqs, in @self's cache when @self is not NULL. */
static PyObject *dedup_run(CacheObject *self, PyObject *seqs, PyObject *ns_obj)
{
	struct pce_seq *sq;
	struct pce_dedup d;
	struct batch b;
	PyObject *out;
	int rc;

	if (self && cache_enter(self) < 0)
		return NULL;
	if (batch_get(seqs, ns_obj, &b) < 0) {
		if (self)
			cache_leave(self);
		return NULL;
	}
	sq = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*sq));
	if (!sq) {
		batch_put(&b);
		if (self)
			cache_leave(self);
		return PyErr_NoMemory();
	}
	for (Py_ssize_t i = 0; i < b.n; i++)
		sq[i] = (struct pce_seq){b.ns[i], b.t[i].p, b.t[i].n};
	Py_BEGIN_ALLOW_THREADS
	rc = pce_dedup_analyze(self ? self->cache : NULL, sq, (size_t)b.n, &d);
	Py_END_ALLOW_THREADS
	PyMem_Free(sq);
	batch_put(&b);
	if (self)
		cache_leave(self);
	if (rc)
		return raise_rc(rc, NULL);
	out = fields_dict(&d, dedup_fields, dedup_keys, N_DEDUP);
	if (out && dict_put(out, key_dedup_ratio, PyFloat_FromDouble(d.dedup_ratio)) < 0)
		Py_CLEAR(out);
	return out;
}

static PyObject *Cache_dedup(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	static const char *const names[] = {"seqs", "ns", NULL};
	PyObject *a[2];

	if (parse_args("dedup", args, nargs, kwnames, names, 1, 1, a) < 0)
		return NULL;
	return dedup_run(self, a[0], a[1]);
}

#define DOC_TOKENS                                                                   \
	"tokens: a buffer of 32-bit unsigned ints read in place (array('I'),\n"      \
	"numpy.uint32, memoryview), or a sequence of ints in [0, 2**32).\n"

/* ---- snapshots ---------------------------------------------------------- */

/* restore(path, **config) of @type (Cache or Router) through @open. */
static PyObject *snapshot_restore(PyTypeObject *type, PyObject *args, PyObject *kwds,
				  int (*open)(PyObject *, PyObject *, PyObject *, const char *))
{
	PyObject *path = NULL, *empty, *obj;

	if (!PyArg_ParseTuple(args, "O&:restore", PyUnicode_FSConverter, &path))
		return NULL;
	empty = PyTuple_New(0);
	obj = empty ? type->tp_new(type, empty, NULL) : NULL;
	if (obj && open(obj, empty, kwds, PyBytes_AS_STRING(path)) < 0)
		Py_CLEAR(obj);
	Py_XDECREF(empty);
	Py_DECREF(path);
	return obj;
}

static int cache_open_obj(PyObject *o, PyObject *args, PyObject *kwds, const char *path)
{
	return cache_open((CacheObject *)o, args, kwds, path);
}

static PyObject *Cache_restore(PyObject *type, PyObject *args, PyObject *kwds)
{
	return snapshot_restore((PyTypeObject *)type, args, kwds, cache_open_obj);
}

static PyObject *Cache_snapshot(CacheObject *self, PyObject *arg)
{
	PyObject *path = NULL;
	int rc;

	if (!PyUnicode_FSConverter(arg, &path))
		return NULL;
	if (cache_enter(self) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_cache_snapshot_write(self->cache, PyBytes_AS_STRING(path), NULL, 0);
	Py_END_ALLOW_THREADS
	cache_leave(self);
	Py_DECREF(path);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

#define DOC_SNAPSHOT                                                                      \
	"The file is written to a temporary file beside it, synced and renamed\n"          \
	"over path, so a crash leaves the old file or the new one.  Each shard is\n"      \
	"copied under its writer lock (a consistent cut per shard); lookups go on.\n"     \
	"The GIL is released meanwhile.  Raises the I/O error's class (NotFoundError\n"   \
	"for a missing directory, NoSpaceError, SnapshotIOError) or pce.Error.\n"

#define DOC_RESTORE                                                                       \
	"A new object made from the keyword configuration (as the constructor takes\n"    \
	"it; block_size must be the file's) and filled from the snapshot at path.\n"      \
	"Remaining TTLs restart from now.  Raises BadSnapshotError for a corrupt,\n"      \
	"truncated, future-version or other-kind file; nothing is half-loaded.\n"

static PyMethodDef Cache_methods[] = {
	{"snapshot", (PyCFunction)Cache_snapshot, METH_O,
	 "snapshot(path) -> None\n\nWrite every live entry (namespace, tokens, value,\n"
	 "kv_bytes, remaining TTL; not pins) to the snapshot file path.\n" DOC_SNAPSHOT},
	{"restore", (PyCFunction)(void (*)(void))Cache_restore,
	 METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	 "Cache.restore(path, **config) -> Cache\n\n" DOC_RESTORE},
	{"store", (PyCFunction)(void (*)(void))Cache_store, METH_FASTCALL | METH_KEYWORDS,
	 "store(tokens, value, kv_bytes=0, *, ns=0, replace=False, ttl_ns=0,\n"
	 "      pin_holder=False, lease_ns=0) -> StoreResult\n\n"
	 "Store tokens in namespace ns with an opaque 64-bit value (libpce never\n"
	 "reads it) and the KV bytes the entry holds (ignored in kv_mode\n"
	 "'per_token').  The tokens are copied.  " DOC_TOKENS
	 "replace: replace an entry that stores exactly this sequence (its value\n"
	 "leaves with reason 'replaced').  ttl_ns: 0 for the default TTL, NEVER\n"
	 "for none.  An entry already storing the sequence is not an error: the\n"
	 "result says stored=False and gives its existing_value.  A store that\n"
	 "would break a budget evicts first.  The GIL is released meanwhile.\n\n"
	 "The result names the holder: the live entry that held the longest\n"
	 "prefix of the sequence just before the store (holder_tokens,\n"
	 "holder_len, holder_value, holder_id; holder_tokens 0: none), so an\n"
	 "engine that prefilled the same prompt concurrently can free its\n"
	 "duplicate KV and use the holder's.  Unpinned it is a snapshot that may\n"
	 "leave at any time.  pin_holder: pin it before anything is evicted\n"
	 "(result.holder_pin, a Pin; lease_ns: its lease, 0: the default,\n"
	 "NEVER: none); kept when the sequence was already stored, dropped on\n"
	 "every exception.\n\n"
	 "Raises NoSpaceError (a budget cannot hold the entry), NoPinsError\n"
	 "(pin_holder and the pin table is full: nothing stored), TooShortError\n"
	 "(shorter than min_prefix_len), TooBigError, InvalidArgumentError (empty\n"
	 "tokens, kv_bytes beyond 1 TiB), OutOfMemoryError."},
	{"store_many", (PyCFunction)(void (*)(void))Cache_store_many,
	 METH_FASTCALL | METH_KEYWORDS,
	 "store_many(seqs, values, kv_bytes=0, *, ns=0, replace=False, ttl_ns=0,\n"
	 "           pin_holder=False, lease_ns=0) -> list[StoreResult]\n\n"
	 "store() of each sequence of seqs with the value of the same index, in\n"
	 "one call that releases the GIL for the whole batch.  kv_bytes and ns\n"
	 "are one int for all or a sequence of one int per sequence.  A\n"
	 "sequence libpce refuses does not stop the batch: its result has\n"
	 "stored=False and the exception (not raised) in `error`.  Arguments\n"
	 "that cannot be converted raise before anything is stored."},
	{"lookup", (PyCFunction)(void (*)(void))Cache_lookup, METH_FASTCALL | METH_KEYWORDS,
	 "lookup(tokens, *, ns=0, pin=False, whole=False, peek=False, lease_ns=0) -> Match\n\n"
	 "Longest prefix of tokens that some live entry of namespace ns starts\n"
	 "with, and that entry (the one with the latest expiry).  A miss is a\n"
	 "Match with tokens == 0 (false in a boolean context).  " DOC_TOKENS
	 "Wait-free, and keeps the GIL (it cannot block).\n"
	 "pin: pin the matched entry (Match.pin; release it, or use the Match as\n"
	 "a context manager); lease_ns: the pin's lease (0: the default; NEVER).\n"
	 "whole: only entries wholly a prefix of the query.  peek: no side\n"
	 "effects at all (no statistics, no reference bit); not with pin.\n\n"
	 "Raises NoPinsError (pin table full), InvalidArgumentError (peek with\n"
	 "pin), TooBigError."},
	{"lookup_many", (PyCFunction)(void (*)(void))Cache_lookup_many,
	 METH_FASTCALL | METH_KEYWORDS,
	 "lookup_many(seqs, *, ns=0, pin=False, whole=False, peek=False, lease_ns=0)\n"
	 "    -> list[Match]\n\n"
	 "lookup() of every sequence of seqs in one call that releases the GIL\n"
	 "for the whole batch.  ns is one int for all or one per sequence.  With\n"
	 "pin, a full pin table gives that sequence a miss, not an exception."},
	{"remove", (PyCFunction)(void (*)(void))Cache_remove, METH_FASTCALL | METH_KEYWORDS,
	 "remove(tokens, *, ns=0) -> int\n\n"
	 "Remove the entry that stores exactly tokens and return its value.\n"
	 "Entries it is a prefix of stay.  A pinned entry is unlinked at once\n"
	 "and its value released after its last pin.  Raises NotFoundError."},
	{"remove_prefix", (PyCFunction)(void (*)(void))Cache_remove_prefix,
	 METH_FASTCALL | METH_KEYWORDS,
	 "remove_prefix(tokens, *, ns=0) -> int\n\n"
	 "Remove every entry of namespace ns that starts with tokens (one that\n"
	 "stores exactly them included), for instance a retracted document or an\n"
	 "unloaded adapter, and return how many (0 if none).  A lookup sees all\n"
	 "of them or none.  Each leaves with an Event, reason 'removed'; pinned\n"
	 "ones are unlinked at once, their values released after their last\n"
	 "pin.  The GIL is released meanwhile.  Raises InvalidArgumentError\n"
	 "(empty tokens), TooBigError, OutOfMemoryError (nothing changed)."},
	{"touch", (PyCFunction)(void (*)(void))Cache_touch, METH_FASTCALL | METH_KEYWORDS,
	 "touch(tokens, *, ns=0, ttl_ns=0) -> None\n\n"
	 "For the live entry that stores exactly tokens: count it as a hit for\n"
	 "eviction (CLOCK reference) and extend its TTL to at least ttl_ns from\n"
	 "now (0: default_ttl_ns; NEVER, or a default of 0: never expires),\n"
	 "without storing anything.  A TTL is never shortened.  Takes the\n"
	 "entry's shard lock; the GIL is released meanwhile.  Raises\n"
	 "NotFoundError (no live entry stores exactly this sequence),\n"
	 "InvalidArgumentError (empty tokens), TooBigError."},
	{"evict", (PyCFunction)(void (*)(void))Cache_evict, METH_FASTCALL | METH_KEYWORDS,
	 "evict(amount, unit) -> Evicted\n\n"
	 "Evict unpinned entries now, whatever the watermarks say, until amount\n"
	 "of unit ('kv_bytes', 'tokens' or 'entries') is freed, choosing them as\n"
	 "the reclaimer does (CLOCK).  An entry whose tokens a longer entry\n"
	 "shares frees no tokens, so more entries may go than amount suggests.\n"
	 "Their values are handed to on_release in this thread before it\n"
	 "returns, so their KV can be reused at once.  Waits for shard locks and\n"
	 "an RCU grace period, with the GIL released.  Freeing less than amount\n"
	 "(the rest is pinned) is no exception: Evicted.complete is False.\n"
	 "Raises OutOfMemoryError (a removal could not allocate), ValueError\n"
	 "(unknown unit)."},
	{"set_budgets", (PyCFunction)(void (*)(void))Cache_set_budgets,
	 METH_FASTCALL | METH_KEYWORDS,
	 "set_budgets(*, kv_budget=None, index_budget=None, max_entries=None,\n"
	 "            high_watermark_pct=None, low_watermark_pct=None) -> None\n\n"
	 "Change the budgets and watermarks at run time (0: unlimited); a field\n"
	 "not given (or None) keeps the value in force.  If usage is above a\n"
	 "new budget, evicts down to it and releases the values in this thread\n"
	 "first, as evict() does (GIL released).  stats() reports the budgets in\n"
	 "force.  Raises BusyError if usage stays above a budget once every\n"
	 "unpinned entry is evicted (the new budgets are in force anyway: stores\n"
	 "that would add to it are refused), InvalidArgumentError (watermarks\n"
	 "not 0 < low <= high <= 100: nothing changed), OutOfMemoryError."},
	{"clear", (PyCFunction)(void (*)(void))Cache_clear_m, METH_FASTCALL | METH_KEYWORDS,
	 "clear(ns=None) -> int\n\n"
	 "Remove every entry (of namespace ns, if given); returns how many."},
	{"reclaim", (PyCFunction)Cache_reclaim, METH_NOARGS,
	 "reclaim() -> None\n\n"
	 "Run one reclaim pass in this thread: force-release expired pin\n"
	 "leases, drop expired entries, evict down to the low watermarks, wait\n"
	 "for an RCU grace period and release the values that became free\n"
	 "(on_release runs in this thread).  Safe with or without the\n"
	 "background thread."},
	{"stats", (PyCFunction)Cache_stats, METH_NOARGS,
	 "stats() -> dict\n\n"
	 "Counters, gauges and limits, each exact but read at slightly\n"
	 "different instants (no writer lock is taken).  'removed' maps each\n"
	 "reason to the entries that left the index for it."},
	{"shard_entries", (PyCFunction)Cache_shard_entries, METH_NOARGS,
	 "shard_entries() -> list[int]\n\nEntries per shard."},
	{"audit", (PyCFunction)(void (*)(void))Cache_audit, METH_FASTCALL | METH_KEYWORDS,
	 "audit(quiescent=False) -> None\n\n"
	 "Check every invariant of libpce's design; raises CorruptError with the\n"
	 "first violation.  Stalls writers meanwhile; meant for tests.\n"
	 "quiescent: no lookup and no pin release runs meanwhile, so pin counts\n"
	 "are checked exactly."},
	{"dedup", (PyCFunction)(void (*)(void))Cache_dedup, METH_FASTCALL | METH_KEYWORDS,
	 "dedup(seqs, *, ns=0) -> dict\n\n"
	 "How much of a batch is already cached here (cached_tokens), shared\n"
	 "with an earlier sequence of the batch (shared_tokens) or new\n"
	 "(unique_tokens), with dedup_ratio = (cached + shared) / total.  The\n"
	 "cache is not changed in any way.  ns: one int, or one per sequence."},
	{"close", (PyCFunction)Cache_close, METH_NOARGS,
	 "close() -> None\n\n"
	 "Release every value (reason 'destroyed') and free the cache; later\n"
	 "calls raise InvalidArgumentError.  Raises BusyError while pins are\n"
	 "live or another thread is inside a call.  Idempotent.  Deallocation\n"
	 "closes the cache too."},
	{"__enter__", (PyCFunction)Cache_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)Cache_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL}};

static PyGetSetDef Cache_getset[] = {
	{"closed", (getter)Cache_get_closed, NULL, "True once close() succeeded.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject CacheType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pce.Cache",
	.tp_basicsize = sizeof(CacheObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc =
		"Cache(**config)\n\n"
		"A concurrent prefix cache: answers, from many threads at once, \"what\n"
		"is the longest cached prefix of these tokens, and where is its KV?\",\n"
		"and keeps its memory within byte budgets by itself.\n\n"
		"An entry is a token sequence (uint32 ids) in a 64-bit namespace, an\n"
		"opaque 64-bit value and the KV bytes it holds.  Every method may be\n"
		"called from any thread.\n\n"
		"Keyword configuration (defaults in brackets):\n"
		"  shards               power of two in [1, 4096] [16]\n"
		"  min_prefix_len       shorter matches are misses [1]\n"
		"  block_size           matches round down to whole blocks [1]\n"
		"  max_pins             pins live at once [4096]\n"
		"  policy               'lru' or 'lfu' (CLOCK variants) ['lru']\n"
		"  kv_mode              'declared' (per store) or 'per_token' ['declared']\n"
		"  kv_bytes_per_token   with kv_mode 'per_token' [0]\n"
		"  kv_budget, index_budget, max_entries   0 = unlimited [0]\n"
		"  high_watermark_pct, low_watermark_pct  reclaimer's band [90, 80]\n"
		"  default_ttl_ns, default_pin_lease_ns   0 or NEVER = none [0]\n"
		"  reclaim_interval_ns  background pass period, >= 100 us [10 ms]\n"
		"  background_reclaim   a reclaim thread per cache [True]\n"
		"  on_release           callable(Released): each value, exactly once,\n"
		"                       after its entry is gone and unpinned\n"
		"  on_event             callable(Event): entries becoming visible and\n"
		"                       disappearing, synchronously, under a writer lock\n"
		"  clock                callable() -> int ns, monotonic [CLOCK_MONOTONIC]\n\n"
		"Callables run with the GIL held, called from a libpce thread: the\n"
		"reclaim thread (evictions, TTL expiry and most on_release calls), the\n"
		"thread whose store/remove/clear made the change (on_event), or the\n"
		"thread running reclaim() or close().  They must be quick; a call into\n"
		"their own cache raises BusyError (it would deadlock).  An exception\n"
		"they raise goes to sys.unraisablehook and the cache goes on.  Once\n"
		"the interpreter shuts down (atexit), they are no longer called.\n\n"
		"An invalid configuration raises InvalidArgumentError naming the field.\n"
		"The cache is a context manager: leaving it calls close().",
	.tp_traverse = (traverseproc)Cache_traverse,
	.tp_clear = (inquiry)Cache_clear,
	.tp_weaklistoffset = offsetof(CacheObject, weakrefs),
	.tp_methods = Cache_methods,
	.tp_getset = Cache_getset,
	.tp_init = (initproc)Cache_init,
	.tp_new = Cache_new,
	.tp_dealloc = (destructor)Cache_dealloc,
};

/* ---- Pin -------------------------------------------------------------------------- */

/* 0, or the libpce code; the Pin is released either way. */
static int pin_drop(PinObject *p)
{
	struct pce_pin pin = p->pin;

	if (!pin.id)
		return PCE_ESTALE;
	p->pin.id = 0;
	wait_closing(p->owner);
	/* A cache closes only when no pin is live; still, never pass NULL. */
	return p->owner->cache ? pce_pin_release(p->owner->cache, pin) : PCE_ESTALE;
}

static PyObject *Pin_release(PinObject *p, PyObject *unused)
{
	int rc = pin_drop(p);

	(void)unused;
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

static PyObject *Pin_enter(PinObject *p, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(p);
}

/* Leaving the block releases the pin; one already released (by hand, or by
 * its lease) is not an error here. */
static PyObject *Pin_exit(PinObject *p, PyObject *args)
{
	(void)args;
	pin_drop(p);
	return Py_NewRef(Py_False);
}

static void Pin_dealloc(PinObject *p)
{
	PyObject_GC_UnTrack(p);
	pin_drop(p);
	Py_DECREF(p->owner);
	PyObject_GC_Del(p);
}

/* A Pin keeps its cache alive until it is released, so it has no tp_clear:
 * a cycle through a Pin is broken at the Cache's callables. */
static int Pin_traverse(PinObject *p, visitproc visit, void *arg)
{
	Py_VISIT(p->owner);
	return 0;
}

static PyObject *Pin_get_id(PinObject *p, void *unused)
{
	(void)unused;
	return PyLong_FromUnsignedLongLong(p->pin.id);
}

static PyObject *Pin_get_released(PinObject *p, void *unused)
{
	(void)unused;
	return PyBool_FromLong(p->pin.id == 0);
}

static PyObject *Pin_repr(PinObject *p)
{
	return PyUnicode_FromFormat("<pce.Pin id=%llu%s>", (unsigned long long)p->pin.id,
				    p->pin.id ? "" : " released");
}

static PyMethodDef Pin_methods[] = {
	{"release", (PyCFunction)Pin_release, METH_NOARGS,
	 "release() -> None\n\n"
	 "Release the pin.  Raises StaleError if it was already released, or\n"
	 "force-released after its lease expired."},
	{"__enter__", (PyCFunction)Pin_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)Pin_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL}};

static PyGetSetDef Pin_getset[] = {
	{"id", (getter)Pin_get_id, NULL, "libpce's pin id; 0 once released.", NULL},
	{"released", (getter)Pin_get_released, NULL, "True once released here.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject PinType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pce.Pin",
	.tp_basicsize = sizeof(PinObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)Pin_traverse,
	.tp_doc = "A pin taken by Cache.lookup(pin=True) (Match.pin), or by\n"
		  "Cache.store(pin_holder=True) (StoreResult.holder_pin): its entry is\n"
		  "neither evicted nor freed until the pin is released (or its lease\n"
		  "expires).  A context manager; a Pin that is garbage collected\n"
		  "unreleased releases itself.",
	.tp_methods = Pin_methods,
	.tp_getset = Pin_getset,
	.tp_repr = (reprfunc)Pin_repr,
	.tp_dealloc = (destructor)Pin_dealloc,
};

/* ---- Match ------------------------------------------------------------------------- */

static void Match_dealloc(MatchObject *o)
{
	Py_DECREF(o->pin);
	PyObject_Free(o);
}

static int Match_bool(MatchObject *o)
{
	return o->m.tokens > 0;
}

static PyObject *Match_enter(MatchObject *o, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(o);
}

static PyObject *Match_exit(MatchObject *o, PyObject *args)
{
	(void)args;
	if (o->pin != Py_None)
		pin_drop((PinObject *)o->pin);
	return Py_NewRef(Py_False);
}

static PyObject *Match_repr(MatchObject *o)
{
	return PyUnicode_FromFormat("<pce.Match tokens=%zu value=%llu entry_len=%zu pin=%R>",
				    o->m.tokens, (unsigned long long)o->m.value, o->m.entry_len,
				    o->pin);
}

static PyMemberDef Match_members[] = {
	{"tokens", T_PYSSIZET, offsetof(MatchObject, m.tokens), READONLY,
	 "matched tokens, rounded down to whole blocks; 0 = miss"},
	{"blocks", T_PYSSIZET, offsetof(MatchObject, m.blocks), READONLY,
	 "tokens / block_size"},
	{"value", T_ULONGLONG, offsetof(MatchObject, m.value), READONLY,
	 "the matched entry's value (hits only)"},
	{"entry_len", T_PYSSIZET, offsetof(MatchObject, m.entry_len), READONLY,
	 "the matched entry's length in tokens (>= tokens)"},
	{"kv_bytes", T_ULONGLONG, offsetof(MatchObject, m.kv_bytes), READONLY,
	 "the matched entry's KV bytes"},
	{"pin", T_OBJECT, offsetof(MatchObject, pin), READONLY,
	 "the Pin, with lookup(pin=True) on a hit; else None"},
	{NULL, 0, 0, 0, NULL}};

static PyMethodDef Match_methods[] = {
	{"__enter__", (PyCFunction)Match_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)Match_exit, METH_VARARGS,
	 "Leaving a with-block releases the match's pin, if any."},
	{NULL, NULL, 0, NULL}};

static PyNumberMethods Match_as_number = {.nb_bool = (inquiry)Match_bool};

static PyTypeObject MatchType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pce.Match",
	.tp_basicsize = sizeof(MatchObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "The result of a lookup: true on a hit.  A context manager that\n"
		  "releases its pin on exit.",
	.tp_members = Match_members,
	.tp_methods = Match_methods,
	.tp_as_number = &Match_as_number,
	.tp_repr = (reprfunc)Match_repr,
	.tp_dealloc = (destructor)Match_dealloc,
};

static PyStructSequence_Field store_result_fields[] = {
	{"stored", "True if the entry was stored (or replaced)"},
	{"replaced", "True if an entry storing the same sequence was replaced"},
	{"existing_value", "the value of the entry that already stored the sequence "
			   "(not stored, or replaced); else None"},
	{"new_tokens", "tokens the cache did not hold before (0 unless stored)"},
	{"error", "store_many(): the exception for a sequence libpce refused; else None"},
	{"holder_tokens", "tokens of the stored sequence that the holder held: the live "
			  "entry a lookup of the sequence would have matched just before "
			  "the store (whole blocks); 0: no holder (and 0 after an error)"},
	{"holder_len", "the holder's length in tokens"},
	{"holder_value", "the holder's value"},
	{"holder_id", "the holder's entry id (see Event.id)"},
	{"holder_pin", "with pin_holder=True and a holder (stored, or not stored "
		       "because the sequence was): a Pin that keeps the holder's value "
		       "valid until released; else None"},
	{NULL, NULL}};
static PyStructSequence_Desc store_result_desc = {
	"pce.StoreResult", "The outcome of one store.", store_result_fields, 10};

static PyStructSequence_Field evicted_fields[] = {
	{"entries", "entries evicted"},
	{"kv_bytes", "KV bytes freed, as kv_mode counts them"},
	{"tokens", "distinct cached tokens freed"},
	{"index_bytes", "libpce memory freed"},
	{"complete", "True if at least the amount asked for was freed; False if less "
		     "could be (what is left is pinned)"},
	{NULL, NULL}};
static PyStructSequence_Desc evicted_desc = {
	"pce.Evicted", "What Cache.evict() freed (values already released).", evicted_fields, 5};

/* ---- Router ------------------------------------------------------------------------ */

/*
 * Router owns one struct pce_router and its callables (on_event, clock), in a
 * struct hooks as a Cache does, with the same protocol: busy counts the calls
 * in progress, close() refuses while any runs; match and stats keep the GIL
 * (wait-free), every other call releases it (writer locks, on_event).  No
 * closing flag: the destroy cannot fail (see "Close protocol" above).
 */
typedef struct {
	PyObject_HEAD
	struct pce_router *router; /* NULL: not created yet, or closed */
	struct hooks *hooks;
	unsigned busy;
	PyObject *weakrefs;
	unsigned long generation; /* fork_generation at creation */
	/* The budget in force, which set_budgets() completes with the fields
	 * it is not given; under budgets_lock, as Cache's. */
	pthread_mutex_t budgets_lock;
	struct pce_router_budgets budgets;
} RouterObject;

static PyTypeObject RouterType, OverlapType, MatchResultType;

static int router_enter(RouterObject *self)
{
	if (!self->router) {
		raise_rc(PCE_EINVAL, "the router is closed");
		return -1;
	}
	if (in_hook && in_hook == self->hooks) {
		raise_rc(PCE_EBUSY, "a callback must not call into its own router");
		return -1;
	}
	self->busy++;
	return 0;
}

static void router_leave(RouterObject *self)
{
	self->busy--;
}

/* Integer fields of struct pce_router_config settable by keyword. */
static const struct cfg_field router_cfg_fields[] = {
#define F32_(f) {#f, offsetof(struct pce_router_config, f), 4, UINT32_MAX}
#define F64_(f) {#f, offsetof(struct pce_router_config, f), 8, UINT64_MAX}
	F32_(shards), F32_(block_size), F64_(index_budget), F32_(high_watermark_pct),
	F32_(low_watermark_pct), F64_(default_ttl_ns), F64_(reclaim_interval_ns),
#undef F32_
#undef F64_
};

/* tier_weight: a dict {tier: weight} (tiers not named keep their default) or
 * a sequence of up to PCE_TIERS weights (tiers past its end keep theirs). */
static int tier_weights_set(double *w, PyObject *val)
{
	PyObject *key, *item, *seq;
	Py_ssize_t pos = 0;

	if (PyDict_Check(val)) {
		while (PyDict_Next(val, &pos, &key, &item)) {
			uint64_t t;
			double d;
			if (get_uint(key, PCE_TIERS - 1, 0, "tier_weight tier", &t) < 0)
				return -1;
			d = PyFloat_AsDouble(item);
			if (d == -1.0 && PyErr_Occurred())
				return -1;
			w[t] = d;
		}
		return 0;
	}
	seq = PySequence_Fast(val, "tier_weight must be a dict {tier: weight} or a sequence");
	if (!seq)
		return -1;
	if (PySequence_Fast_GET_SIZE(seq) > (Py_ssize_t)PCE_TIERS) {
		PyErr_Format(PyExc_ValueError, "tier_weight has %zd weights for %u tiers",
			     PySequence_Fast_GET_SIZE(seq), PCE_TIERS);
		Py_DECREF(seq);
		return -1;
	}
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		double d = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
		if (d == -1.0 && PyErr_Occurred()) {
			Py_DECREF(seq);
			return -1;
		}
		w[i] = d;
	}
	Py_DECREF(seq);
	return 0;
}

static int router_cfg_set(void *cfgp, struct hooks *h, PyObject *key, PyObject *val)
{
	struct pce_router_config *cfg = cfgp;
	const char *k = PyUnicode_AsUTF8(key);
	int rc;

	if (!k)
		return -1;
	rc = cfg_field_set(cfg, router_cfg_fields,
			   sizeof(router_cfg_fields) / sizeof(router_cfg_fields[0]), k, val);
	if (rc)
		return rc < 0 ? -1 : 0;
	if (!strcmp(k, "tier_weight"))
		return tier_weights_set(cfg->tier_weight, val);
	if (!strcmp(k, "background_reclaim"))
		return get_bool(val, &cfg->background_reclaim);
	if (!strcmp(k, "on_event") || !strcmp(k, "clock"))
		return hook_set(k[0] == 'c' ? &h->clock : &h->on_event, k, val);
	PyErr_Format(PyExc_TypeError, "Router() got an unexpected keyword argument '%s'", k);
	return -1;
}

/* Router(**config), or with @path Router.restore(path, **config). */
static int router_open(RouterObject *self, PyObject *args, PyObject *kwds, const char *path)
{
	struct pce_router_config cfg;
	struct hooks *h;
	const char *why;
	int rc;

	if (self->router || self->hooks) {
		PyErr_SetString(PyExc_RuntimeError, "Router.__init__ called twice");
		return -1;
	}
	pce_router_config_init(&cfg);
	h = open_args("Router", args, kwds, &cfg, router_cfg_set);
	if (!h)
		return -1;
	if (h->on_event) {
		cfg.on_event = event_cb;
		cfg.event_ctx = h;
	}
	if (h->clock) {
		cfg.clock = clock_cb;
		cfg.clock_ctx = h;
	}
	why = pce_router_config_error(&cfg);
	if (why) {
		hooks_free(h);
		raise_rc(PCE_EINVAL, why);
		return -1;
	}
	self->hooks = h;
	self->generation = fork_generation;
	self->budgets.index_budget = cfg.index_budget;
	self->budgets.high_watermark_pct = cfg.high_watermark_pct;
	self->budgets.low_watermark_pct = cfg.low_watermark_pct;
	/* The reclaim thread may call the clock at once. */
	Py_BEGIN_ALLOW_THREADS
	rc = path ? pce_router_snapshot_restore(&cfg, path, NULL, NULL, &self->router)
		  : pce_router_create(&cfg, &self->router);
	Py_END_ALLOW_THREADS
	if (rc) {
		self->router = NULL;
		self->hooks = NULL;
		hooks_free(h);
		raise_rc(rc, NULL);
		return -1;
	}
	return 0;
}

static int Router_init(RouterObject *self, PyObject *args, PyObject *kwds)
{
	return router_open(self, args, kwds, NULL);
}

/* Destroy libpce's router (GIL released: the reclaim thread's last clock
 * read may need it).  In a child of fork(), pce_router_destroy() abandons
 * the parent's router. */
static void router_destroy(RouterObject *self)
{
	struct pce_router *r = self->router;

	self->router = NULL;
	Py_BEGIN_ALLOW_THREADS
	pce_router_destroy(r);
	Py_END_ALLOW_THREADS
}

static int Router_traverse(RouterObject *self, visitproc visit, void *arg)
{
	if (self->hooks) {
		Py_VISIT(self->hooks->on_event);
		Py_VISIT(self->hooks->clock);
	}
	return 0;
}

static int Router_clear(RouterObject *self)
{
	if (self->hooks) {
		Py_CLEAR(self->hooks->on_event);
		Py_CLEAR(self->hooks->clock);
	}
	return 0;
}

static PyObject *Router_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	RouterObject *self = (RouterObject *)PyType_GenericNew(type, args, kwds);

	if (self)
		pthread_mutex_init(&self->budgets_lock, NULL);
	return (PyObject *)self;
}

static void Router_dealloc(RouterObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* A call holds a reference to its Router: busy is 0 here.  A callable
	 * that drops the last reference runs in a libpce thread that the
	 * destroy would wait for (the reclaim thread) or under a shard lock:
	 * the router and its hooks (emptied) are leaked rather than
	 * deadlocked on. */
	if (self->router && in_hook && in_hook == self->hooks) {
		PyErr_SetString(err_class(PCE_EBUSY),
				"pce.Router: last reference dropped by its own callback; leaked");
		PyErr_WriteUnraisable(NULL);
		Router_clear(self);
	} else {
		if (self->router)
			router_destroy(self);
		hooks_free(self->hooks);
	}
	self->hooks = NULL;
	pthread_mutex_destroy(&self->budgets_lock);
	tp->tp_free((PyObject *)self);
}

static PyObject *Router_close(RouterObject *self, PyObject *unused)
{
	(void)unused;
	if (!self->router)
		return Py_NewRef(Py_None);
	if (self->generation != fork_generation)
		return raise_rc(PCE_EFORKED, NULL);
	if (in_hook && in_hook == self->hooks)
		return raise_rc(PCE_EBUSY, "a callback must not call into its own router");
	if (self->busy)
		return raise_rc(PCE_EBUSY, "the router is in use by another call");
	router_destroy(self);
	return Py_NewRef(Py_None);
}

static PyObject *Router_enter(RouterObject *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

static PyObject *Router_exit(RouterObject *self, PyObject *args)
{
	(void)args;
	return Router_close(self, NULL);
}

static PyObject *Router_get_closed(RouterObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->router == NULL);
}

static PyObject *Router_add(RouterObject *self, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames)
{
	static const char *const names[] = {"owner", "tokens", "tier", "ns", "ttl_ns",
					    "retier", NULL};
	PyObject *a[6];
	struct pce_router_add_opts o = {0, 0};
	uint64_t owner, tier, ns;
	size_t added = 0;
	struct toks t;
	int retier, rc;

	if (parse_args("add", args, nargs, kwnames, names, 3, 2, a) < 0 ||
	    get_uint(a[0], UINT32_MAX, 0, "owner", &owner) < 0 ||
	    get_uint(a[2], UINT32_MAX, PCE_TIER_GPU, "tier", &tier) < 0 ||
	    get_uint(a[3], UINT64_MAX, 0, "ns", &ns) < 0 ||
	    get_uint(a[4], UINT64_MAX, 0, "ttl_ns", &o.ttl_ns) < 0 || get_bool(a[5], &retier) < 0)
		return NULL;
	o.flags = retier ? PCE_ROUTER_ADD_RETIER : 0;
	if (router_enter(self) < 0)
		return NULL;
	if (toks_get(a[1], &t) < 0) {
		router_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_router_add(self->router, (uint32_t)owner, ns, t.p, t.n, (uint32_t)tier, &o,
			    &added);
	Py_END_ALLOW_THREADS
	toks_put(&t);
	router_leave(self);
	return rc ? raise_rc(rc, NULL) : PyLong_FromSize_t(added);
}

static PyObject *Router_remove(RouterObject *self, PyObject *const *args, Py_ssize_t nargs,
			       PyObject *kwnames)
{
	static const char *const names[] = {"owner", "tokens", "ns", NULL};
	PyObject *a[3];
	uint64_t owner, ns;
	struct toks t;
	int rc;

	if (parse_args("remove", args, nargs, kwnames, names, 2, 2, a) < 0 ||
	    get_uint(a[0], UINT32_MAX, 0, "owner", &owner) < 0 ||
	    get_uint(a[2], UINT64_MAX, 0, "ns", &ns) < 0)
		return NULL;
	if (router_enter(self) < 0)
		return NULL;
	if (toks_get(a[1], &t) < 0) {
		router_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_router_remove(self->router, (uint32_t)owner, ns, t.p, t.n);
	Py_END_ALLOW_THREADS
	toks_put(&t);
	router_leave(self);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

/* clear_owner(owner) and clear_ns(ns): the count of holdings removed. */
static PyObject *router_clear(RouterObject *self, PyObject *arg, int by_owner)
{
	uint64_t v, removed = 0;
	int rc;

	if (get_uint(arg, by_owner ? UINT32_MAX : UINT64_MAX, 0, by_owner ? "owner" : "ns",
		     &v) < 0 ||
	    router_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = by_owner ? pce_router_clear_owner(self->router, (uint32_t)v, &removed)
		      : pce_router_clear_ns(self->router, v, &removed);
	Py_END_ALLOW_THREADS
	router_leave(self);
	return rc ? raise_rc(rc, NULL) : PyLong_FromUnsignedLongLong(removed);
}

static PyObject *Router_clear_owner(RouterObject *self, PyObject *arg)
{
	return router_clear(self, arg, 1);
}

static PyObject *Router_clear_ns(RouterObject *self, PyObject *arg)
{
	return router_clear(self, arg, 0);
}

/* The bound on k: one match writes k results into one array. */
#define ROUTER_MAX_K (1u << 20)

static int match_args(const char *fn, PyObject *const *args, Py_ssize_t nargs,
		      PyObject *kwnames, PyObject **a, size_t *k, unsigned *flags)
{
	static const char *const names[] = {"tokens", "k", "ns", "peek", NULL};
	uint64_t kv;
	int peek;

	if (parse_args(fn, args, nargs, kwnames, names, 2, 1, a) < 0 ||
	    get_uint(a[1], ROUTER_MAX_K, 16, "k", &kv) < 0 || get_bool(a[3], &peek) < 0)
		return -1;
	*k = (size_t)kv;
	*flags = peek ? PCE_ROUTER_MATCH_PEEK : 0;
	return 0;
}

/* A MatchResult of @n overlaps and @left owners left out. */
static PyObject *match_result(const struct pce_overlap *ov, size_t n, size_t left)
{
	PyObject *list = PyList_New((Py_ssize_t)n), *res;

	for (size_t i = 0; list && i < n; i++) {
		PyObject *o = struct_seq(&OverlapType, "KnKd", (unsigned long long)ov[i].owner,
					 ov[i].tokens, (unsigned long long)ov[i].tier, ov[i].score);
		if (!o) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, o);
	}
	if (!list)
		return NULL;
	res = struct_seq(&MatchResultType, "On", list, left);
	Py_DECREF(list);
	return res;
}

static PyObject *Router_match(RouterObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	PyObject *a[4], *out;
	struct pce_overlap small[16], *ov = small;
	size_t k, n = 0, left = 0;
	unsigned flags;
	uint64_t ns;
	struct toks t;
	int rc;

	if (match_args("match", args, nargs, kwnames, a, &k, &flags) < 0 ||
	    get_uint(a[2], UINT64_MAX, 0, "ns", &ns) < 0)
		return NULL;
	if (k > sizeof(small) / sizeof(small[0]) && !(ov = PyMem_Malloc(k * sizeof(*ov))))
		return PyErr_NoMemory();
	out = NULL;
	if (router_enter(self) < 0)
		goto done;
	if (toks_get(a[0], &t) < 0) {
		router_leave(self);
		goto done;
	}
	/* Wait-free: the GIL stays held. */
	rc = pce_router_match(self->router, ns, t.p, t.n, flags, ov, k, &n, &left);
	toks_put(&t);
	router_leave(self);
	out = rc ? raise_rc(rc, NULL) : match_result(ov, n, left);
done:
	if (ov != small)
		PyMem_Free(ov);
	return out;
}

static PyObject *Router_match_many(RouterObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	PyObject *a[4], *out = NULL;
	struct pce_overlap *ov = NULL;
	size_t k, *n = NULL, *left = NULL;
	unsigned flags;
	struct batch b;
	int *rc = NULL;
	Py_ssize_t i;

	if (match_args("match_many", args, nargs, kwnames, a, &k, &flags) < 0)
		return NULL;
	if (router_enter(self) < 0)
		return NULL;
	if (batch_get(a[0], a[2], &b) < 0) {
		router_leave(self);
		return NULL;
	}
	if ((size_t)b.n > PY_SSIZE_T_MAX / sizeof(*ov) / (k ? k : 1)) {
		PyErr_NoMemory();
		goto out;
	}
	ov = PyMem_Malloc((size_t)(b.n ? b.n : 1) * (k ? k : 1) * sizeof(*ov));
	n = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*n));
	left = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*left));
	rc = PyMem_Malloc((size_t)(b.n ? b.n : 1) * sizeof(*rc));
	if (!ov || !n || !left || !rc) {
		PyErr_NoMemory();
		goto out;
	}
	Py_BEGIN_ALLOW_THREADS
	for (i = 0; i < b.n; i++)
		rc[i] = pce_router_match(self->router, b.ns[i], b.t[i].p, b.t[i].n, flags,
					 ov + (size_t)i * k, k, &n[i], &left[i]);
	Py_END_ALLOW_THREADS
	for (i = 0; i < b.n; i++)
		if (rc[i]) {
			raise_rc(rc[i], NULL);
			goto out;
		}
	out = PyList_New(b.n);
	for (i = 0; out && i < b.n; i++) {
		PyObject *res = match_result(ov + (size_t)i * k, n[i], left[i]);
		if (!res)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, i, res);
	}
out:
	batch_put(&b);
	router_leave(self);
	PyMem_Free(ov);
	PyMem_Free(n);
	PyMem_Free(left);
	PyMem_Free(rc);
	return out;
}

static PyObject *Router_set_budgets(RouterObject *self, PyObject *const *args,
				    Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = {"index_budget", "high_watermark_pct",
					    "low_watermark_pct", NULL};
	PyObject *a[3];
	uint64_t v[3];
	struct pce_router_budgets b;
	int rc = PCE_EFORKED;

	if (parse_args("set_budgets", args, nargs, kwnames, names, 0, 0, a) < 0)
		return NULL;
	for (int i = 0; i < 3; i++)
		if (get_uint(a[i], i < 1 ? UINT64_MAX : UINT32_MAX, 0, names[i], &v[i]) < 0)
			return NULL;
	if (router_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	/* An inherited budgets_lock may be held by a thread this child lacks. */
	if (self->generation == fork_generation) {
		pthread_mutex_lock(&self->budgets_lock);
		b = self->budgets;
		if (a[0] && a[0] != Py_None)
			b.index_budget = v[0];
		if (a[1] && a[1] != Py_None)
			b.high_watermark_pct = (uint32_t)v[1];
		if (a[2] && a[2] != Py_None)
			b.low_watermark_pct = (uint32_t)v[2];
		rc = pce_router_set_budgets(self->router, &b);
		if (rc == 0)
			self->budgets = b;
		pthread_mutex_unlock(&self->budgets_lock);
	}
	Py_END_ALLOW_THREADS
	router_leave(self);
	if (rc == PCE_EINVAL)
		return raise_rc(rc, "watermarks must satisfy 0 < low <= high <= 100");
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

static PyObject *Router_reclaim(RouterObject *self, PyObject *unused)
{
	int rc;

	(void)unused;
	if (router_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = pce_router_reclaim(self->router);
	Py_END_ALLOW_THREADS
	router_leave(self);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

#define RF_(f) {#f, offsetof(struct pce_router_stats, f)}
static const struct dict_field router_stat_fields[] = {
	RF_(matches), RF_(owners_reported), RF_(adds), RF_(adds_refused), RF_(removes),
	RF_(reclaim_passes), RF_(holdings), RF_(nodes), RF_(tokens), RF_(trie_bytes),
	RF_(owner_bytes), RF_(index_bytes), RF_(retired_bytes), RF_(fixed_bytes),
	RF_(index_budget)};
#undef RF_
#define N_ROUTER_STATS (sizeof(router_stat_fields) / sizeof(router_stat_fields[0]))
static PyObject *router_stat_keys[N_ROUTER_STATS], *key_bytes_per_owner_block;

static PyObject *Router_stats(RouterObject *self, PyObject *unused)
{
	struct pce_router_stats s;
	PyObject *d, *removed;
	int rc;

	(void)unused;
	if (router_enter(self) < 0)
		return NULL;
	rc = pce_router_stats_get(self->router, &s); /* takes no lock */
	router_leave(self);
	if (rc)
		return raise_rc(rc, NULL);
	d = fields_dict(&s, router_stat_fields, router_stat_keys, N_ROUTER_STATS);
	removed = PyDict_New();
	for (int r = 0; removed && r < PCE_REASON_COUNT; r++)
		if (dict_put(removed, reason_str[r], PyLong_FromUnsignedLongLong(s.removed[r])) < 0)
			Py_CLEAR(removed);
	if (!d || dict_put(d, key_removed, removed) < 0 ||
	    dict_put(d, key_shards, PyLong_FromUnsignedLong(s.shards)) < 0 ||
	    dict_put(d, key_bytes_per_owner_block, PyFloat_FromDouble(s.bytes_per_owner_block)) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *Router_audit(RouterObject *self, PyObject *unused)
{
	char msg[256] = "";
	int rc;

	(void)unused;
	if (router_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = pce_router_audit(self->router, 0, msg, sizeof(msg));
	Py_END_ALLOW_THREADS
	router_leave(self);
	return rc ? raise_rc(rc, msg[0] ? msg : NULL) : Py_NewRef(Py_None);
}

static int router_open_obj(PyObject *o, PyObject *args, PyObject *kwds, const char *path)
{
	return router_open((RouterObject *)o, args, kwds, path);
}

static PyObject *Router_restore(PyObject *type, PyObject *args, PyObject *kwds)
{
	return snapshot_restore((PyTypeObject *)type, args, kwds, router_open_obj);
}

static PyObject *Router_snapshot(RouterObject *self, PyObject *arg)
{
	PyObject *path = NULL;
	int rc;

	if (!PyUnicode_FSConverter(arg, &path))
		return NULL;
	if (router_enter(self) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = pce_router_snapshot_write(self->router, PyBytes_AS_STRING(path), NULL, 0);
	Py_END_ALLOW_THREADS
	router_leave(self);
	Py_DECREF(path);
	return rc ? raise_rc(rc, NULL) : Py_NewRef(Py_None);
}

static PyMethodDef Router_methods[] = {
	{"snapshot", (PyCFunction)Router_snapshot, METH_O,
	 "snapshot(path) -> None\n\nWrite every live holding (owner, namespace, path,\n"
	 "tier of each block, remaining TTL) to the snapshot file path.\n" DOC_SNAPSHOT},
	{"restore", (PyCFunction)(void (*)(void))Router_restore,
	 METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	 "Router.restore(path, **config) -> Router\n\n" DOC_RESTORE},
	{"add", (PyCFunction)(void (*)(void))Router_add, METH_FASTCALL | METH_KEYWORDS,
	 "add(owner, tokens, tier=TIER_GPU, *, ns=0, ttl_ns=0, retier=False) -> int\n\n"
	 "owner holds tokens (rounded down to whole blocks) of ns, and so every\n"
	 "whole-block prefix of it, in tier.  Returns the number of blocks the\n"
	 "owner did not hold before.  Blocks it held keep their tier unless\n"
	 "retier.  ttl_ns: 0 = the router's default_ttl_ns, NEVER = no expiry; a\n"
	 "TTL never shortens an expiry.  Raises NoSpaceError when the index\n"
	 "budget cannot hold the new blocks even after evicting every other\n"
	 "holding, TooShortError below one block, TooBigError above MAX_TOKENS.\n"
	 "Releases the GIL (writer lock; on_event runs in this thread).\n" DOC_TOKENS},
	{"remove", (PyCFunction)(void (*)(void))Router_remove, METH_FASTCALL | METH_KEYWORDS,
	 "remove(owner, tokens, *, ns=0) -> None\n\n"
	 "owner no longer holds tokens from the block that ends at len(tokens)\n"
	 "(rounded down to whole blocks) on: it loses that block and every\n"
	 "holding extending it, and keeps the shorter prefix.  NotFoundError if\n"
	 "it did not hold that block.  Releases the GIL."},
	{"clear_owner", (PyCFunction)Router_clear_owner, METH_O,
	 "clear_owner(owner) -> int\n\n"
	 "owner holds nothing any more, in any namespace (a worker died).\n"
	 "Returns the number of (owner, block) holdings removed.  Walks the\n"
	 "nodes owner holds and the top level of each namespace.  Releases the\n"
	 "GIL."},
	{"clear_ns", (PyCFunction)Router_clear_ns, METH_O,
	 "clear_ns(ns) -> int\n\n"
	 "Nobody holds anything of namespace ns any more.  Returns the number\n"
	 "of (owner, block) holdings removed.  Releases the GIL."},
	{"match", (PyCFunction)(void (*)(void))Router_match, METH_FASTCALL | METH_KEYWORDS,
	 "match(tokens, k=16, *, ns=0, peek=False) -> MatchResult\n\n"
	 "The owners holding the longest whole-block prefixes of tokens: the k\n"
	 "with the most matched tokens, sorted by score (tokens x the weight of\n"
	 "the tier of the last matched block), then tokens, then owner id.\n"
	 "MatchResult.overlaps is that list of Overlap(owner, tokens, tier,\n"
	 "score); MatchResult.left the holders of the first block not listed.\n"
	 "k in [0, 2**20].  peek: no statistics, no CLOCK reference.  Wait-free;\n"
	 "keeps the GIL.\n" DOC_TOKENS},
	{"match_many", (PyCFunction)(void (*)(void))Router_match_many,
	 METH_FASTCALL | METH_KEYWORDS,
	 "match_many(seqs, k=16, *, ns=0, peek=False) -> list[MatchResult]\n\n"
	 "match() of each sequence, with the GIL released once for the batch.\n"
	 "ns: one int, or one per sequence."},
	{"set_budgets", (PyCFunction)(void (*)(void))Router_set_budgets,
	 METH_FASTCALL | METH_KEYWORDS,
	 "set_budgets(*, index_budget=None, high_watermark_pct=None,\n"
	 "            low_watermark_pct=None) -> None\n\n"
	 "Change the index budget (0: unlimited) and watermarks at run time; a\n"
	 "field not given (or None) keeps the value in force.  If the index is\n"
	 "above a new budget, evicts holdings down to it before returning (GIL\n"
	 "released; on_event runs in this thread).  stats() reports the budget\n"
	 "in force.  Raises InvalidArgumentError (watermarks not 0 < low <=\n"
	 "high <= 100: nothing changed)."},
	{"reclaim", (PyCFunction)Router_reclaim, METH_NOARGS,
	 "reclaim() -> None\n\n"
	 "One reclaim pass in this thread: drop expired holdings, evict to the\n"
	 "low watermark if above the high one, free what was unlinked after a\n"
	 "grace period.  Releases the GIL."},
	{"stats", (PyCFunction)Router_stats, METH_NOARGS,
	 "stats() -> dict\n\n"
	 "Counters and gauges of pce_router_stats; 'removed' is keyed by reason\n"
	 "('removed', 'cleared', 'ttl', 'capacity').  Takes no lock."},
	{"audit", (PyCFunction)Router_audit, METH_NOARGS,
	 "audit() -> None\n\n"
	 "Check every invariant of the index; CorruptError carries the first\n"
	 "violation.  Stalls writers meanwhile; meant for tests."},
	{"close", (PyCFunction)Router_close, METH_NOARGS,
	 "close() -> None\n\n"
	 "Free the router (no events); later calls raise InvalidArgumentError.\n"
	 "Raises BusyError while another thread is inside a call.  Idempotent.\n"
	 "Deallocation closes the router too."},
	{"__enter__", (PyCFunction)Router_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)Router_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL}};

static PyGetSetDef Router_getset[] = {
	{"closed", (getter)Router_get_closed, NULL, "True once close() succeeded.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject RouterType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pce.Router",
	.tp_basicsize = sizeof(RouterObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc =
		"Router(**config)\n\n"
		"A router index: for a prompt, which owners (workers) hold how much of\n"
		"it, for every owner in one wait-free walk whose cost does not grow\n"
		"with the number of owners.  Holdings are prefix-closed: an owner that\n"
		"holds a sequence holds every whole-block prefix of it.  Every method\n"
		"may be called from any thread.\n\n"
		"Keyword configuration (defaults in brackets):\n"
		"  shards               power of two in [1, 4096] [16]\n"
		"  block_size           tokens per block [1]\n"
		"  tier_weight          dict {tier: weight} or a sequence of up to 8\n"
		"                       weights; finite, >= 0 [GPU 1.0, CPU 0.8, others 0]\n"
		"  index_budget         bytes of the index, 0 = unlimited [0]\n"
		"  high_watermark_pct, low_watermark_pct  reclaimer's band [90, 80]\n"
		"  default_ttl_ns       TTL of adds with ttl_ns 0; 0 or NEVER = none [0]\n"
		"  reclaim_interval_ns  background pass period, >= 100 us [10 ms]\n"
		"  background_reclaim   a reclaim thread per router [True]\n"
		"  on_event             callable(Event): holdings stored and removed,\n"
		"                       with owner and tier, under a writer lock\n"
		"  clock                callable() -> int ns, monotonic [CLOCK_MONOTONIC]\n\n"
		"Callables follow Cache's rules (GIL taken, exceptions to\n"
		"sys.unraisablehook, BusyError when they call into their own router).\n"
		"An invalid configuration raises InvalidArgumentError naming the field.\n"
		"The router is a context manager: leaving it calls close().",
	.tp_traverse = (traverseproc)Router_traverse,
	.tp_clear = (inquiry)Router_clear,
	.tp_weaklistoffset = offsetof(RouterObject, weakrefs),
	.tp_methods = Router_methods,
	.tp_getset = Router_getset,
	.tp_init = (initproc)Router_init,
	.tp_new = Router_new,
	.tp_dealloc = (destructor)Router_dealloc,
};

static PyStructSequence_Field overlap_fields[] = {
	{"owner", "the owner's (worker's) id"},
	{"tokens", "leading tokens of the query it holds: whole blocks, >= 1 block"},
	{"tier", "tier of the last matched block of its holding"},
	{"score", "tokens x the weight of tier"},
	{NULL, NULL}};
static PyStructSequence_Desc overlap_desc = {
	"pce.Overlap", "How much of a query one owner holds.", overlap_fields, 4};

static PyStructSequence_Field match_result_fields[] = {
	{"overlaps", "list of Overlap, best first"},
	{"left", "owners holding at least the query's first block that are not listed"},
	{NULL, NULL}};
static PyStructSequence_Desc match_result_desc = {
	"pce.MatchResult", "What Router.match() found.", match_result_fields, 2};

/* ---- module ------------------------------------------------------------------------- */

static PyObject *mod_dedup(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
			   PyObject *kwnames)
{
	static const char *const names[] = {"seqs", "ns", NULL};
	PyObject *a[2];

	(void)m;
	if (parse_args("dedup", args, nargs, kwnames, names, 1, 1, a) < 0)
		return NULL;
	return dedup_run(NULL, a[0], a[1]);
}

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
	int overflow;
	long code = PyLong_AsLongAndOverflow(arg, &overflow);

	(void)m;
	if (code == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(overflow || code != (int)code ? "unknown error"
								  : pce_strerror((int)code));
}

static PyObject *mod_err_name(PyObject *m, PyObject *arg)
{
	int overflow;
	long code = PyLong_AsLongAndOverflow(arg, &overflow);

	(void)m;
	if (code == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(overflow || code != (int)code ? "PCE_EUNKNOWN"
								  : pce_err_name((int)code));
}

static PyObject *mod_shutdown(PyObject *m, PyObject *unused)
{
	(void)m;
	(void)unused;
	__atomic_store_n(&cb_closing, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&cb_inflight, __ATOMIC_SEQ_CST)) {
		Py_BEGIN_ALLOW_THREADS
		nanosleep(&(struct timespec){0, 1000000}, NULL);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{"dedup", (PyCFunction)(void (*)(void))mod_dedup, METH_FASTCALL | METH_KEYWORDS,
	 "dedup(seqs, *, ns=0) -> dict\n\n"
	 "Cache.dedup() without a cache: how much of a batch repeats an earlier\n"
	 "sequence of the same batch (shared_tokens) and how much is new."},
	{"strerror", mod_strerror, METH_O,
	 "strerror(code) -> str\n\nlibpce's message for a return code."},
	{"err_name", mod_err_name, METH_O,
	 "err_name(code) -> str\n\nSymbolic name of a return code ('PCE_ENOSPC')."},
	{"_shutdown", mod_shutdown, METH_NOARGS,
	 "Stop calling back into Python (registered with atexit)."},
	{NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT, "pce._pce",
	"libpce: a concurrent prefix cache for LLM inference (CPython binding).", -1,
	module_methods, NULL, NULL, NULL, NULL};

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
	return PyType_Ready(t) < 0 || PyModule_AddObjectRef(m, name, (PyObject *)t) < 0 ? -1 : 0;
}

static int add_seq_type(PyObject *m, PyTypeObject *t, PyStructSequence_Desc *d,
			const char *name)
{
	return PyStructSequence_InitType2(t, d) < 0 ||
			       PyModule_AddObjectRef(m, name, (PyObject *)t) < 0
		       ? -1
		       : 0;
}

PyMODINIT_FUNC PyInit__pce(void);
PyMODINIT_FUNC PyInit__pce(void)
{
	PyObject *m = PyModule_Create(&module_def);

	if (!m)
		return NULL;
	for (int r = 0; r < PCE_REASON_COUNT; r++)
		if (!(reason_str[r] = PyUnicode_InternFromString(pce_reason_name((enum pce_reason)r))))
			goto fail;
	if (init_keys() < 0 || !(kind_str[0] = PyUnicode_InternFromString("stored")) ||
	    !(kind_str[1] = PyUnicode_InternFromString("removed")))
		goto fail;
	if (init_errors(m) < 0 || add_type(m, &CacheType, "Cache") < 0 ||
	    add_type(m, &PinType, "Pin") < 0 || add_type(m, &MatchType, "Match") < 0 ||
	    add_seq_type(m, &EventType, &event_desc, "Event") < 0 ||
	    add_seq_type(m, &ReleasedType, &released_desc, "Released") < 0 ||
	    add_seq_type(m, &StoreResultType, &store_result_desc, "StoreResult") < 0 ||
	    add_seq_type(m, &EvictedType, &evicted_desc, "Evicted") < 0 ||
	    add_type(m, &RouterType, "Router") < 0 ||
	    add_seq_type(m, &OverlapType, &overlap_desc, "Overlap") < 0 ||
	    add_seq_type(m, &MatchResultType, &match_result_desc, "MatchResult") < 0 ||
	    make_keys(router_stat_keys, router_stat_fields, N_ROUTER_STATS) < 0 ||
	    !(key_bytes_per_owner_block = PyUnicode_InternFromString("bytes_per_owner_block")))
		goto fail;
	/* Registered once: the module is initialised once per process. */
	if (pthread_atfork(NULL, NULL, after_fork_child)) {
		PyErr_SetString(PyExc_RuntimeError, "pthread_atfork failed");
		goto fail;
	}
	if (PyModule_AddIntConstant(m, "MAX_TOKENS", (long)PCE_MAX_TOKENS) < 0 ||
	    PyModule_AddIntConstant(m, "MAX_PINS", (long)PCE_MAX_PINS) < 0 ||
	    PyModule_AddIntConstant(m, "MAX_SHARDS", (long)PCE_MAX_SHARDS) < 0 ||
	    PyModule_AddObject(m, "MAX_KV_BYTES", PyLong_FromUnsignedLongLong(PCE_MAX_KV_BYTES)) < 0 ||
	    PyModule_AddObject(m, "NEVER", PyLong_FromUnsignedLongLong(PCE_NEVER)) < 0 ||
	    PyModule_AddIntConstant(m, "TIER_GPU", PCE_TIER_GPU) < 0 ||
	    PyModule_AddIntConstant(m, "TIER_CPU", PCE_TIER_CPU) < 0 ||
	    PyModule_AddIntConstant(m, "TIER_DISK", PCE_TIER_DISK) < 0 ||
	    PyModule_AddIntConstant(m, "TIER_REMOTE", PCE_TIER_REMOTE) < 0 ||
	    PyModule_AddIntConstant(m, "TIERS", PCE_TIERS) < 0 ||
	    PyModule_AddIntConstant(m, "version_number", (long)pce_version_number()) < 0 ||
	    PyModule_AddStringConstant(m, "version", pce_version_string()) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
