/*
 * Search kernels for the PDQ index (ncii_shield.index.pdq_index): multi-index hashing probes and a
 * brute-force scan over 256-bit hashes stored as 4 big-endian-order uint64 words.
 *
 * Why C: a lookup in a 10-million-hash segment is ~5,000 random memory reads (bucket probes and
 * candidate hashes). numpy gathers serialise on each cache miss (~70 ns); here the reads of a whole
 * batch of probes are prefetched together so the misses overlap, and the GIL is released so Python
 * threads can search different query chunks in parallel.
 *
 * Only the CPython stable buffer protocol is used (no numpy headers): the Python side owns every array
 * and passes contiguous buffers; results come back as three bytes objects (query index uint32, row
 * uint32, distance uint16) that the caller wraps with numpy.frombuffer.
 *
 * The numpy fallback in pdq_kernel.py implements the same contract; tests compare both with brute force.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("popcnt")
#endif

#if defined(_MSC_VER)
#include <intrin.h>
static inline int popcount64(uint64_t x) { return (int)__popcnt64(x); }
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
static inline int popcount64(uint64_t x) { return __builtin_popcountll(x); }
#define PREFETCH(p) __builtin_prefetch((const void *)(p))
#endif

#define PARAM_COLS 5  /* start bit, bits, high bits, offsets base, radius (-1: table not probed) */
#ifndef PROBE_CHUNK
#define PROBE_CHUNK 64 /* probes whose cache misses overlap; 32-256 measured within 10 % */
#endif
#define MAX_TABLES 64

/* Bits [start, start + bits) of a 256-bit hash, bit 0 being the most significant bit of word 0. */
static inline uint64_t extract_bits(const uint64_t *w, int start, int bits) {
    int wi = start >> 6, off = start & 63;
    uint64_t v = w[wi] << off;
    if (off + bits > 64) v |= w[wi + 1] >> (64 - off);
    return v >> (64 - bits);
}

static inline int hamming256(const uint64_t *a, const uint64_t *b) {
    return popcount64(a[0] ^ b[0]) + popcount64(a[1] ^ b[1]) + popcount64(a[2] ^ b[2]) +
           popcount64(a[3] ^ b[3]);
}

typedef struct {
    uint32_t *qi;
    uint32_t *row;
    uint16_t *dist;
    size_t len, cap;
    int oom;
} Out;

static void out_push(Out *o, uint32_t q, uint32_t row, int d) {
    if (o->oom) return;
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        uint32_t *qi = realloc(o->qi, cap * sizeof(uint32_t));
        if (qi) o->qi = qi;
        uint32_t *rw = realloc(o->row, cap * sizeof(uint32_t));
        if (rw) o->row = rw;
        uint16_t *ds = realloc(o->dist, cap * sizeof(uint16_t));
        if (ds) o->dist = ds;
        if (!qi || !rw || !ds) {
            o->oom = 1;
            return;
        }
        o->cap = cap;
    }
    o->qi[o->len] = q;
    o->row[o->len] = row;
    o->dist[o->len] = (uint16_t)d;
    o->len++;
}

static void out_free(Out *o) {
    free(o->qi);
    free(o->row);
    free(o->dist);
}

static PyObject *out_result(Out *o) {
    if (o->oom) {
        out_free(o);
        return PyErr_NoMemory();
    }
    static const char nothing[1] = {0}; /* "y#" turns a NULL pointer into None */
    PyObject *r = Py_BuildValue("(y#y#y#)", o->len ? (const char *)o->qi : nothing,
                                (Py_ssize_t)(o->len * sizeof(uint32_t)), o->len ? (const char *)o->row : nothing,
                                (Py_ssize_t)(o->len * sizeof(uint32_t)), o->len ? (const char *)o->dist : nothing,
                                (Py_ssize_t)(o->len * sizeof(uint16_t)));
    out_free(o);
    return r;
}

/* Every `bits`-bit mask with at most `radius` bits set, in order of popcount; level[k] is where the
 * masks with k bits start (level[radius + 1] is the total). */
static uint64_t *flip_masks(int bits, int radius, size_t *level) {
    size_t total = 0, count = 1;
    for (int k = 0; k <= radius; k++) {
        level[k] = total;
        total += count;
        count = count * (size_t)(bits - k) / (size_t)(k + 1);
    }
    level[radius + 1] = total;
    uint64_t *masks = malloc(total * sizeof(uint64_t));
    if (!masks) return NULL;
    size_t i = 0;
    for (int k = 0; k <= radius; k++) {
        if (k == 0) {
            masks[i++] = 0;
            continue;
        }
        uint64_t m = (k == 64) ? ~0ULL : ((1ULL << k) - 1), limit = 1ULL << bits;
        while (m < limit) {
            masks[i++] = m;
            uint64_t c = m & (~m + 1), r = m + c; /* Gosper's hack: next mask with k bits */
            m = (((r ^ m) >> 2) / c) | r;
        }
    }
    return masks;
}

typedef struct {
    Py_buffer hashes, dead, queries;
    int have_hashes, have_dead, have_queries;
} Common;

static void common_release(Common *c) {
    if (c->have_hashes) PyBuffer_Release(&c->hashes);
    if (c->have_dead) PyBuffer_Release(&c->dead);
    if (c->have_queries) PyBuffer_Release(&c->queries);
}

static int common_get(Common *c, PyObject *hashes, PyObject *dead, PyObject *queries, Py_ssize_t *n,
                      Py_ssize_t *nq) {
    memset(c, 0, sizeof(*c));
    if (PyObject_GetBuffer(hashes, &c->hashes, PyBUF_C_CONTIGUOUS) < 0) return -1;
    c->have_hashes = 1;
    if (PyObject_GetBuffer(dead, &c->dead, PyBUF_C_CONTIGUOUS) < 0) return -1;
    c->have_dead = 1;
    if (PyObject_GetBuffer(queries, &c->queries, PyBUF_C_CONTIGUOUS) < 0) return -1;
    c->have_queries = 1;
    if (c->hashes.len % 32 || c->queries.len % 32) {
        PyErr_SetString(PyExc_ValueError, "hashes and queries must be 32 bytes per row");
        return -1;
    }
    *n = c->hashes.len / 32;
    *nq = c->queries.len / 32;
    if (c->dead.len != *n) {
        PyErr_SetString(PyExc_ValueError, "dead flags must be one byte per hash");
        return -1;
    }
    if (*n > (Py_ssize_t)UINT32_MAX || *nq > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "at most 2**32 - 1 rows per call");
        return -1;
    }
    return 0;
}

static PyObject *brute(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *hashes_o, *dead_o, *queries_o;
    int threshold;
    if (!PyArg_ParseTuple(args, "OOOi", &hashes_o, &dead_o, &queries_o, &threshold)) return NULL;
    Common c;
    Py_ssize_t n, nq;
    if (common_get(&c, hashes_o, dead_o, queries_o, &n, &nq) < 0) {
        common_release(&c);
        return NULL;
    }
    const uint64_t *h = c.hashes.buf, *q = c.queries.buf;
    const uint8_t *dead = c.dead.buf;
    Out o = {0};
    Py_BEGIN_ALLOW_THREADS;
    const Py_ssize_t block = 2048; /* 64 KB of hashes stay in L2 while every query passes over them */
    for (Py_ssize_t b0 = 0; b0 < n; b0 += block) {
        Py_ssize_t b1 = b0 + block < n ? b0 + block : n;
        for (Py_ssize_t i = 0; i < nq; i++) {
            const uint64_t *qw = q + 4 * i;
            for (Py_ssize_t j = b0; j < b1; j++) {
                int d = hamming256(h + 4 * j, qw);
                if (d <= threshold && !dead[j]) out_push(&o, (uint32_t)i, (uint32_t)j, d);
            }
        }
    }
    Py_END_ALLOW_THREADS;
    common_release(&c);
    return out_result(&o);
}

typedef struct {
    int start, bits, high, radius;
    int64_t base;
    uint64_t *masks;
    size_t level[66];
} Table;

/* Does the xor of a match fall within the radius of a table probed before `t`? Then that table
 * already reported it: each (query, row) pair is emitted once, without a set. */
static inline int found_earlier(const Table *tab, int t, const uint64_t *x) {
    for (int j = 0; j < t; j++) {
        if (tab[j].radius < 0) continue;
        if (popcount64(extract_bits(x, tab[j].start, tab[j].bits)) <= tab[j].radius) return 1;
    }
    return 0;
}

static PyObject *mih(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *hashes_o, *dead_o, *entries_o, *offsets_o, *params_o, *queries_o;
    int threshold;
    if (!PyArg_ParseTuple(args, "OOOOOOi", &hashes_o, &dead_o, &entries_o, &offsets_o, &params_o,
                          &queries_o, &threshold))
        return NULL;
    Common c;
    Py_ssize_t n, nq;
    Py_buffer entries_b = {0}, offsets_b = {0}, params_b = {0};
    int have_e = 0, have_off = 0, have_p = 0;
    Table tab[MAX_TABLES];
    int m = 0, ok = 0;
    memset(tab, 0, sizeof(tab));
    if (common_get(&c, hashes_o, dead_o, queries_o, &n, &nq) < 0) goto done;
    if (PyObject_GetBuffer(entries_o, &entries_b, PyBUF_C_CONTIGUOUS) < 0) goto done;
    have_e = 1;
    if (PyObject_GetBuffer(offsets_o, &offsets_b, PyBUF_C_CONTIGUOUS) < 0) goto done;
    have_off = 1;
    if (PyObject_GetBuffer(params_o, &params_b, PyBUF_C_CONTIGUOUS) < 0) goto done;
    have_p = 1;
    if (params_b.len % (PARAM_COLS * 8)) {
        PyErr_SetString(PyExc_ValueError, "params must be int64 rows of 5");
        goto done;
    }
    m = (int)(params_b.len / (PARAM_COLS * 8));
    if (m < 1 || m > MAX_TABLES || entries_b.len != (Py_ssize_t)(4 * m * n)) {
        PyErr_SetString(PyExc_ValueError, "entries must be uint32 (tables, n) matching params");
        goto done;
    }
    const int64_t *p = params_b.buf;
    Py_ssize_t n_offsets = offsets_b.len / 4;
    for (int t = 0; t < m; t++) {
        const int64_t *row = p + PARAM_COLS * t;
        Table *tb = &tab[t];
        tb->start = (int)row[0];
        tb->bits = (int)row[1];
        tb->high = (int)row[2];
        tb->base = row[3];
        tb->radius = (int)row[4];
        if (tb->start < 0 || tb->bits < 1 || tb->bits > 32 || tb->start + tb->bits > 256 || tb->high < 0 ||
            tb->high > tb->bits || tb->bits - tb->high > 31 || tb->radius > 64 || tb->base < 0 ||
            tb->base + ((int64_t)1 << tb->high) + 1 > n_offsets) {
            PyErr_SetString(PyExc_ValueError, "bad table parameters");
            goto done;
        }
        if (tb->radius > tb->bits) tb->radius = tb->bits;
        if (tb->radius >= 0) {
            int r = tb->radius < tb->high ? tb->radius : tb->high;
            tb->masks = flip_masks(tb->high, r, tb->level);
            if (!tb->masks) {
                PyErr_NoMemory();
                goto done;
            }
        }
    }
    ok = 1;
done:
    if (!ok) {
        for (int t = 0; t < m; t++) free(tab[t].masks);
        if (have_e) PyBuffer_Release(&entries_b);
        if (have_off) PyBuffer_Release(&offsets_b);
        if (have_p) PyBuffer_Release(&params_b);
        common_release(&c);
        return NULL;
    }

    const uint64_t *h = c.hashes.buf, *qs = c.queries.buf;
    const uint8_t *dead = c.dead.buf;
    const uint32_t *entries = entries_b.buf, *offsets = offsets_b.buf;
    Out o = {0};
    Py_BEGIN_ALLOW_THREADS;
    int64_t bucket[PROBE_CHUNK];
    uint32_t lo[PROBE_CHUNK], hi[PROBE_CHUNK];
    size_t cand_cap = 4096;
    uint32_t *cand = malloc(sizeof(uint32_t) * cand_cap);
    if (!cand) o.oom = 1;
    for (Py_ssize_t qi = 0; qi < nq && !o.oom; qi++) {
        const uint64_t *qw = qs + 4 * qi;
        for (int t = 0; t < m && !o.oom; t++) {
            const Table *tb = &tab[t];
            if (tb->radius < 0) continue;
            int low = tb->bits - tb->high;
            uint64_t key = extract_bits(qw, tb->start, tb->bits);
            uint64_t lmask = (1ULL << low) - 1, qlow = key & lmask, qhigh = key >> low;
            const uint32_t *off = offsets + tb->base;
            const uint32_t *ent = entries + (size_t)t * (size_t)n;
            int rmax = tb->radius < tb->high ? tb->radius : tb->high;
            size_t total = tb->level[rmax + 1];
            /* A chunk of probes at a time, in three passes so that each pass's cache misses (offsets,
             * then bucket entries, then candidate hashes) are all in flight together. */
            for (size_t c0 = 0; c0 < total; c0 += PROBE_CHUNK) {
                size_t cnt = total - c0 < PROBE_CHUNK ? total - c0 : PROBE_CHUNK;
                size_t scan = 0;
                for (size_t i = 0; i < cnt; i++) {
                    bucket[i] = (int64_t)(qhigh ^ tb->masks[c0 + i]);
                    PREFETCH(off + bucket[i]);
                }
                for (size_t i = 0; i < cnt; i++) {
                    lo[i] = off[bucket[i]];
                    hi[i] = off[bucket[i] + 1];
                    scan += hi[i] - lo[i];
                    if (hi[i] > lo[i]) {
                        PREFETCH(ent + lo[i]);
                        PREFETCH(ent + hi[i] - 1);
                    }
                }
                if (scan > cand_cap) {
                    uint32_t *grown = realloc(cand, scan * sizeof(uint32_t));
                    if (!grown) {
                        o.oom = 1;
                        break;
                    }
                    cand = grown;
                    cand_cap = scan;
                }
                size_t ncand = 0;
                for (size_t i = 0; i < cnt; i++) {
                    int budget = tb->radius - popcount64(tb->masks[c0 + i]);
                    for (uint32_t e = lo[i]; e < hi[i]; e++) {
                        uint64_t v = ent[e];
                        cand[ncand] = (uint32_t)(v >> low); /* kept only if the low bits are near */
                        ncand += popcount64((v ^ qlow) & lmask) <= budget;
                    }
                }
                for (size_t i = 0; i < ncand; i++) PREFETCH(h + 4 * (size_t)cand[i]);
                for (size_t i = 0; i < ncand; i++) {
                    const uint64_t *x = h + 4 * (size_t)cand[i];
                    uint64_t xw[4] = {x[0] ^ qw[0], x[1] ^ qw[1], x[2] ^ qw[2], x[3] ^ qw[3]};
                    int d = popcount64(xw[0]) + popcount64(xw[1]) + popcount64(xw[2]) + popcount64(xw[3]);
                    if (d <= threshold && !dead[cand[i]] && !found_earlier(tab, t, xw))
                        out_push(&o, (uint32_t)qi, cand[i], d);
                }
            }
        }
    }
    free(cand);
    Py_END_ALLOW_THREADS;
    for (int t = 0; t < m; t++) free(tab[t].masks);
    PyBuffer_Release(&entries_b);
    PyBuffer_Release(&offsets_b);
    PyBuffer_Release(&params_b);
    common_release(&c);
    return out_result(&o);
}

/* knn2(query, train) for 256-bit binary descriptors (ORB, 32 bytes a row): for each query row the nearest
 * train row (first on ties) and the two smallest distances, and for each train row its nearest query row,
 * as four int32 arrays in bytes. What OpenCV's brute-force Hamming knnMatch(k=2) and match() give, from one
 * pass over the pairs (index/local_features.py uses it for the mutual nearest-neighbour check). */
static PyObject *knn2(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer qb, tb;
    if (!PyArg_ParseTuple(args, "y*y*", &qb, &tb)) return NULL;
    if (qb.len % 32 || tb.len % 32) {
        PyBuffer_Release(&qb);
        PyBuffer_Release(&tb);
        PyErr_SetString(PyExc_ValueError, "descriptors must be 32 bytes per row");
        return NULL;
    }
    Py_ssize_t nq = qb.len / 32, nt = tb.len / 32;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (3 * nq + nt) * (Py_ssize_t)sizeof(int32_t));
    if (out == NULL) {
        PyBuffer_Release(&qb);
        PyBuffer_Release(&tb);
        return NULL;
    }
    int32_t *best = (int32_t *)PyBytes_AS_STRING(out), *d1 = best + nq, *d2 = d1 + nq, *back = d2 + nq;
    uint64_t *q = malloc(nq * 32 + 1), *t = malloc(nt * 32 + 1);
    int32_t *back_d = malloc(nt * sizeof(int32_t) + 1);
    if (q == NULL || t == NULL || back_d == NULL) {
        free(q), free(t), free(back_d);
        Py_DECREF(out);
        PyBuffer_Release(&qb);
        PyBuffer_Release(&tb);
        return PyErr_NoMemory();
    }
    memcpy(q, qb.buf, nq * 32); /* aligned copies: the buffers may start anywhere */
    memcpy(t, tb.buf, nt * 32);
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t j = 0; j < nt; j++) back[j] = -1, back_d[j] = 257;
    for (Py_ssize_t i = 0; i < nq; i++) {
        int b = 257, s = 257;
        int32_t at = -1;
        const uint64_t *qw = q + 4 * i;
        for (Py_ssize_t j = 0; j < nt; j++) {
            int d = hamming256(t + 4 * j, qw);
            if (d < b) {
                s = b, b = d, at = (int32_t)j;
            } else if (d < s) {
                s = d;
            }
            if (d < back_d[j]) back_d[j] = d, back[j] = (int32_t)i;
        }
        best[i] = at, d1[i] = b, d2[i] = s;
    }
    Py_END_ALLOW_THREADS;
    free(q), free(t), free(back_d);
    PyBuffer_Release(&qb);
    PyBuffer_Release(&tb);
    return out;
}

static PyMethodDef methods[] = {
    {"brute", brute, METH_VARARGS,
     "brute(hashes, dead, queries, threshold) -> (query_index, row, distance) as bytes; every live row "
     "within threshold."},
    {"mih", mih, METH_VARARGS,
     "mih(hashes, dead, entries, offsets, params, queries, threshold) -> like brute, via the segment's "
     "multi-index hash tables."},
    {"knn2", knn2, METH_VARARGS,
     "knn2(query, train) -> bytes of int32: nearest train row per query row, its distance, the second "
     "distance, then the nearest query row per train row (256-bit descriptors, 32 bytes a row)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pdq_mih",
                                    "Search kernels for the PDQ index (see pdq_kernel.py).", -1, methods};

PyMODINIT_FUNC PyInit__pdq_mih(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("popcnt")) {
        PyErr_SetString(PyExc_ImportError, "CPU without POPCNT: the numpy kernel is used instead");
        return NULL;
    }
#endif
    return PyModule_Create(&module);
}
