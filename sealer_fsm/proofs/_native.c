/* sealer_fsm.proofs._native: Fr32 padding and sha256-trunc254 subtree roots for the Python layer.
 *
 * The Python side (`_tree.root_of_chunks`) cuts a piece into chunks and folds their roots; this module
 * computes one chunk's root. A chunk is split into parts of at most PART_SIZE padded bytes that worker
 * threads take from a shared counter, each reading (memcpy or pread), padding and hashing its part in a
 * private buffer. Memory is therefore two part buffers per thread whatever the input size, and the GIL is
 * released for the whole computation.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "_fr32.h"
#include "_sha256.h"

#define NODE 32
#define PART_SIZE (1u << 20) /* padded bytes per work item: big enough to amortise, small in memory */
#define MAX_HEIGHT 50 /* 32 B · 2^50 = 32 PiB: far beyond any sector, and fits in 64 bits */
#define MAX_THREADS 256
#define SHORT_READ (-1) /* a file ended before `data_end`: it shrank while being hashed (not an errno) */

typedef struct {
    const char *name;
    hash_pairs_fn hash;
} backend;

/* The C backends this CPU can run, fastest first once `rank_backends` has timed them. */
static backend backends[3];
static int backend_count;
static hash_pairs_fn hash_pairs = hash_pairs_portable;
static uint8_t zero_roots[MAX_HEIGHT + 1][NODE];

static double seconds_to_hash(hash_pairs_fn hash, uint8_t *scratch, size_t nodes) {
    double best = 1e9;
    for (int attempt = 0; attempt < 3; attempt++) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        hash(scratch, scratch, nodes);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double seconds = (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec);
        if (seconds < best) best = seconds;
    }
    return best;
}

/* Which x86 unit hashes faster differs by microarchitecture (SHA-NI wins on AMD Zen, AVX-512 on Intel Xeons
 * whose sha256rnds2 issues only every few cycles), so the candidates are timed on 2048 nodes (~0.2 ms)
 * instead of guessed from the CPU model. All produce the same bytes; only the speed differs. */
static void rank_backends(void) {
    backend_count = 0;
#ifdef SEALER_FSM_X86
    if (cpu_has_sha_ni()) backends[backend_count++] = (backend){"sha-ni", hash_pairs_sha_ni};
    if (cpu_has_avx512()) backends[backend_count++] = (backend){"avx512", hash_pairs_avx512};
    if (backend_count == 2) {
        static uint8_t scratch[2048 * 64];
        if (seconds_to_hash(hash_pairs_avx512, scratch, 2048) < seconds_to_hash(hash_pairs_sha_ni, scratch, 2048)) {
            backend faster = backends[1];
            backends[1] = backends[0];
            backends[0] = faster;
        }
    }
#endif
    backends[backend_count++] = (backend){"portable", hash_pairs_portable};
    hash_pairs = backends[0].hash;
}

static const char *backend_name(hash_pairs_fn hash) {
    for (int i = 0; i < backend_count; i++)
        if (backends[i].hash == hash) return backends[i].name;
    return "portable";
}

static unsigned log2_exact(uint64_t power_of_two) { return (unsigned)__builtin_ctzll(power_of_two); }

/* ---- one chunk, split into parts over threads ------------------------------------------------------ */

typedef struct {
    const uint8_t *buffer; /* memory source, or NULL for the file `fd` */
    int fd;
    uint64_t data_end; /* input bytes that exist; the rest reads as zeros */
    uint64_t offset;   /* input offset of the chunk */
    int fr32;          /* input is raw payload to pad, not padded leaves */
    hash_pairs_fn hash;
    size_t part_padded, part_input, parts;
    uint8_t *roots; /* parts × NODE */
    size_t next_part;
    const volatile uint8_t *cancel; /* the caller's CancelToken flag: non-zero asks the workers to stop */
    int error; /* errno of a failed read or allocation (ECANCELED when cancelled), 0 if none */
} chunk_job;

/* Copy input bytes [offset, offset+length) into `out`, zero-filling what lies past data_end. A file that ends
 * before data_end is SHORT_READ: it shrank since its size was taken, and zeros would be a wrong commitment. */
static int read_input(const chunk_job *job, uint64_t offset, uint8_t *out, size_t length) {
    uint64_t remaining = offset < job->data_end ? job->data_end - offset : 0;
    size_t available = remaining < length ? (size_t)remaining : length;
    if (job->buffer) {
        memcpy(out, job->buffer + offset, available);
    } else {
        size_t done = 0;
        while (done < available) {
            ssize_t got = pread(job->fd, out + done, available - done, (off_t)(offset + done));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return errno;
            if (got == 0) return SHORT_READ;
            done += (size_t)got;
        }
    }
    memset(out + available, 0, length - available);
    return 0;
}

/* Root of one part: leaves come straight from the caller's buffer when they can, else from `input`/`padded`. */
static int part_root(chunk_job *job, size_t part, uint8_t *input, uint8_t *padded, uint8_t *root) {
    uint64_t offset = job->offset + (uint64_t)part * job->part_input;
    if (offset >= job->data_end) {
        memcpy(root, zero_roots[log2_exact(job->part_padded) - 5], NODE);
        return 0;
    }
    const uint8_t *leaves;
    if (job->buffer && !job->fr32 && offset + job->part_input <= job->data_end) {
        leaves = job->buffer + offset;
    } else {
        int error = read_input(job, offset, job->fr32 ? input : padded, job->part_input);
        if (error) return error;
        if (job->fr32) fr32_pad_blocks(padded, input, job->part_input / 127);
        leaves = padded;
    }
    size_t nodes = job->part_padded / NODE;
    if (nodes == 1) {
        memcpy(root, leaves, NODE);
        return 0;
    }
    job->hash(padded, leaves, nodes / 2);
    for (nodes /= 2; nodes > 1; nodes /= 2) job->hash(padded, padded, nodes / 2);
    memcpy(root, padded, NODE);
    return 0;
}

static void *chunk_worker(void *arg) {
    chunk_job *job = arg;
    uint8_t *input = job->fr32 ? malloc(job->part_input) : NULL;
    uint8_t *padded = malloc(job->part_padded);
    int error = (padded == NULL || (job->fr32 && input == NULL)) ? ENOMEM : 0;
    while (!error && !__atomic_load_n(&job->error, __ATOMIC_RELAXED)) {
        if (*job->cancel) {
            error = ECANCELED;
            break;
        }
        size_t part = __atomic_fetch_add(&job->next_part, 1, __ATOMIC_RELAXED);
        if (part >= job->parts) break;
        error = part_root(job, part, input, padded, job->roots + NODE * part);
    }
    if (error) __atomic_store_n(&job->error, error, __ATOMIC_RELAXED);
    free(input);
    free(padded);
    return NULL;
}

/* Runs the job on `threads` threads (the caller's included) and folds the part roots into `root`. */
static int run_chunk(chunk_job *job, uint64_t padded_len, int threads, uint8_t *root) {
    job->part_padded = padded_len < PART_SIZE ? (size_t)padded_len : PART_SIZE;
    job->part_input = job->fr32 ? job->part_padded / 128 * 127 : job->part_padded;
    job->parts = (size_t)(padded_len / job->part_padded);
    job->roots = malloc(job->parts * NODE);
    if (job->roots == NULL) return ENOMEM;
    if ((size_t)threads > job->parts) threads = (int)job->parts;
    pthread_t helpers[MAX_THREADS];
    int started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&helpers[started], NULL, chunk_worker, job) != 0) break; /* run with fewer */
    chunk_worker(job);
    for (int i = 0; i < started; i++) pthread_join(helpers[i], NULL);
    if (!job->error) {
        for (size_t nodes = job->parts; nodes > 1; nodes /= 2) job->hash(job->roots, job->roots, nodes / 2);
        memcpy(root, job->roots, NODE);
    }
    free(job->roots);
    return job->error;
}

/* ---- Python bindings ------------------------------------------------------------------------------- */

static int check_chunk_args(unsigned long long padded_len, int fr32, int threads) {
    unsigned long long smallest = fr32 ? 128 : NODE;
    unsigned long long largest = (unsigned long long)NODE << MAX_HEIGHT;
    if (padded_len < smallest || (padded_len & (padded_len - 1)) || padded_len > largest) {
        PyErr_Format(PyExc_ValueError, "padded length must be a power of two of at least %llu bytes, got %llu",
                     smallest, padded_len);
        return -1;
    }
    if (threads < 1 || threads > MAX_THREADS) {
        PyErr_Format(PyExc_ValueError, "threads must be between 1 and %d, got %d", MAX_THREADS, threads);
        return -1;
    }
    return 0;
}

static PyObject *finish_chunk(chunk_job *job, unsigned long long padded_len, int threads) {
    uint8_t root[NODE];
    int error;
    Py_BEGIN_ALLOW_THREADS
    error = run_chunk(job, padded_len, threads, root);
    Py_END_ALLOW_THREADS
    if (error == SHORT_READ) {
        return PyErr_Format(PyExc_EOFError, "the file ended before the %llu bytes it had when hashing began",
                            (unsigned long long)job->data_end);
    }
    if (error) {
        errno = error;
        return error == ENOMEM ? PyErr_NoMemory() : PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBytes_FromStringAndSize((const char *)root, NODE);
}

/* The cancel flag is a writable one-byte buffer (a CancelToken's `flag`); it stays valid for the call. */
static int check_cancel_flag(const Py_buffer *cancel) {
    if (cancel->len < 1) {
        PyErr_SetString(PyExc_ValueError, "the cancel flag must be a buffer of at least one byte");
        return -1;
    }
    return 0;
}

static PyObject *subtree_root_of_buffer(PyObject *self, PyObject *args) {
    Py_buffer data, cancel;
    unsigned long long offset, padded_len;
    int fr32, threads;
    if (!PyArg_ParseTuple(args, "y*KKpiw*", &data, &offset, &padded_len, &fr32, &threads, &cancel)) return NULL;
    PyObject *result = NULL;
    if (check_chunk_args(padded_len, fr32, threads) == 0 && check_cancel_flag(&cancel) == 0) {
        chunk_job job = {.buffer = data.buf, .fd = -1, .data_end = (uint64_t)data.len, .offset = offset,
                         .fr32 = fr32, .hash = hash_pairs, .cancel = cancel.buf};
        result = finish_chunk(&job, padded_len, threads);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&cancel);
    return result;
}

static PyObject *subtree_root_of_fd(PyObject *self, PyObject *args) {
    int fd, fr32, threads;
    unsigned long long data_end, offset, padded_len;
    Py_buffer cancel;
    if (!PyArg_ParseTuple(args, "iKKKpiw*", &fd, &data_end, &offset, &padded_len, &fr32, &threads, &cancel))
        return NULL;
    PyObject *result = NULL;
    if (check_chunk_args(padded_len, fr32, threads) == 0 && check_cancel_flag(&cancel) == 0) {
        chunk_job job = {.fd = fd, .data_end = data_end, .offset = offset, .fr32 = fr32, .hash = hash_pairs,
                         .cancel = cancel.buf};
        result = finish_chunk(&job, padded_len, threads);
    }
    PyBuffer_Release(&cancel);
    return result;
}

/* ---- one level of a stored tree (TreeD) ------------------------------------------------------------- */

#define LEVEL_PART_PAIRS (1u << 15) /* pairs per work item: about a millisecond of hashing between cancel checks */

typedef struct {
    const uint8_t *children; /* 2 × pairs nodes */
    uint8_t *parents;        /* pairs nodes */
    size_t pairs, next_part, parts;
    hash_pairs_fn hash;
    const volatile uint8_t *cancel;
    int cancelled;
} level_job;

static void *level_worker(void *arg) {
    level_job *job = arg;
    while (!__atomic_load_n(&job->cancelled, __ATOMIC_RELAXED)) {
        if (*job->cancel) {
            __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELAXED);
            break;
        }
        size_t part = __atomic_fetch_add(&job->next_part, 1, __ATOMIC_RELAXED);
        if (part >= job->parts) break;
        size_t first = part * LEVEL_PART_PAIRS;
        size_t count = job->pairs - first < LEVEL_PART_PAIRS ? job->pairs - first : LEVEL_PART_PAIRS;
        job->hash(job->parents + first * NODE, job->children + 2 * first * NODE, count);
    }
    return NULL;
}

/* hash_level(children, parents, threads, cancel): parents[i] = H(children[2i] ‖ children[2i+1]) for a whole
 * row of a binary tree, written into the caller's buffer (a mapped tree file), on `threads` threads. */
static PyObject *hash_level(PyObject *self, PyObject *args) {
    Py_buffer children, parents, cancel;
    int threads;
    if (!PyArg_ParseTuple(args, "y*w*iw*", &children, &parents, &threads, &cancel)) return NULL;
    PyObject *result = NULL;
    if (check_cancel_flag(&cancel) == 0) {
        if (parents.len % NODE || children.len != 2 * parents.len) {
            PyErr_Format(PyExc_ValueError, "a level of %zd bytes cannot be hashed into one of %zd bytes", children.len,
                         parents.len);
        } else if (threads < 1 || threads > MAX_THREADS) {
            PyErr_Format(PyExc_ValueError, "threads must be between 1 and %d, got %d", MAX_THREADS, threads);
        } else {
            level_job job = {.children = children.buf, .parents = parents.buf, .pairs = (size_t)parents.len / NODE,
                             .hash = hash_pairs, .cancel = cancel.buf};
            job.parts = (job.pairs + LEVEL_PART_PAIRS - 1) / LEVEL_PART_PAIRS;
            Py_BEGIN_ALLOW_THREADS
            if ((size_t)threads > job.parts) threads = job.parts ? (int)job.parts : 1;
            pthread_t helpers[MAX_THREADS];
            int started = 0;
            for (; started < threads - 1; started++)
                if (pthread_create(&helpers[started], NULL, level_worker, &job) != 0) break; /* run with fewer */
            level_worker(&job);
            for (int i = 0; i < started; i++) pthread_join(helpers[i], NULL);
            Py_END_ALLOW_THREADS
            if (job.cancelled) {
                errno = ECANCELED;
                PyErr_SetFromErrno(PyExc_OSError);
            } else {
                result = Py_NewRef(Py_None);
            }
        }
    }
    PyBuffer_Release(&children);
    PyBuffer_Release(&parents);
    PyBuffer_Release(&cancel);
    return result;
}

typedef void (*block_fn)(uint8_t *out, const uint8_t *in, size_t blocks);

static PyObject *convert_blocks(PyObject *args, const char *name, size_t in_block, size_t out_block, block_fn fn) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    PyObject *result = NULL;
    if ((size_t)data.len % in_block) {
        PyErr_Format(PyExc_ValueError, "%s needs whole %zu-byte blocks, got %zd bytes", name, in_block, data.len);
    } else if ((result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((size_t)data.len / in_block * out_block)))) {
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
        Py_BEGIN_ALLOW_THREADS
        fn(out, data.buf, (size_t)data.len / in_block);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&data);
    return result;
}

static PyObject *fr32_pad(PyObject *self, PyObject *args) {
    return convert_blocks(args, "fr32_pad", 127, 128, fr32_pad_blocks);
}

static PyObject *fr32_unpad(PyObject *self, PyObject *args) {
    return convert_blocks(args, "fr32_unpad", 128, 127, fr32_unpad_blocks);
}

static PyObject *available(PyObject *self, PyObject *unused) {
    PyObject *names = PyTuple_New(backend_count);
    for (int i = 0; names && i < backend_count; i++) PyTuple_SET_ITEM(names, i, PyUnicode_FromString(backends[i].name));
    return names;
}

static PyObject *current(PyObject *self, PyObject *unused) { return PyUnicode_FromString(backend_name(hash_pairs)); }

static PyObject *select_backend(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int i = 0; i < backend_count; i++) {
        if (strcmp(name, backends[i].name) == 0) {
            hash_pairs = backends[i].hash;
            Py_RETURN_NONE;
        }
    }
    return PyErr_Format(PyExc_ValueError, "proofs backend %R is not available on this CPU", PyTuple_GET_ITEM(args, 0));
}

static PyMethodDef methods[] = {
    {"fr32_pad", fr32_pad, METH_VARARGS, "fr32_pad(data) -> bytes: pad whole 127-byte blocks to 128 bytes."},
    {"fr32_unpad", fr32_unpad, METH_VARARGS, "fr32_unpad(data) -> bytes: undo fr32_pad on whole 128-byte blocks."},
    {"subtree_root_of_buffer", subtree_root_of_buffer, METH_VARARGS,
     "subtree_root_of_buffer(data, offset, padded_len, fr32, threads, cancel) -> bytes: root of one chunk of a "
     "buffer; OSError(ECANCELED) once the one-byte buffer `cancel` is set."},
    {"subtree_root_of_fd", subtree_root_of_fd, METH_VARARGS,
     "subtree_root_of_fd(fd, data_end, offset, padded_len, fr32, threads, cancel) -> bytes: root of one chunk of "
     "a file; OSError(ECANCELED) once the one-byte buffer `cancel` is set, EOFError if the file ends before "
     "data_end."},
    {"hash_level", hash_level, METH_VARARGS,
     "hash_level(children, parents, threads, cancel): one row of a binary tree from the row below, into the "
     "writable buffer `parents`; OSError(ECANCELED) once the one-byte buffer `cancel` is set."},
    {"available", available, METH_NOARGS, "available() -> tuple[str, ...]: C backends this CPU runs, fastest first."},
    {"current", current, METH_NOARGS, "current() -> str: the backend in use."},
    {"select", select_backend, METH_VARARGS, "select(name): use one of available()."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_native", .m_doc = "C backend of sealer_fsm.proofs.", .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    sha256_prepare_tables();
    memset(zero_roots[0], 0, NODE);
    for (int height = 1; height <= MAX_HEIGHT; height++) {
        uint8_t pair[2 * NODE];
        memcpy(pair, zero_roots[height - 1], NODE);
        memcpy(pair + NODE, zero_roots[height - 1], NODE);
        hash_pairs_portable(zero_roots[height], pair, 1);
    }
    rank_backends();
    return PyModule_Create(&module);
}
