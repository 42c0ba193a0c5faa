/* sealer_fsm.proofs._sdr: the SDR graph's parents and the layers' labels for the Python layer (_sdr.py).
 *
 * Both take their input and output as buffers (bytes, bytearray, or mmap of the parent cache and layer
 * files), release the GIL for the whole computation, and watch an optional one-byte cancel flag: a nonzero
 * byte makes them stop at their next check and return False. Labels hash with SHA-NI where the CPU has it,
 * else portable C (`available`, `current`, `select`); both give the same bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "_sdr_graph.h"
#include "_sdr_labels.h"
#include "_sha256.h"

#define MAX_THREADS 256
#define PARENTS_CANCEL_INTERVAL 16384 /* nodes between two looks at the cancel flag (a few milliseconds) */
#define PARENT_ROW (SDR_DEGREE * 4)

typedef struct {
    const char *name;
    hash_blocks_fn hash;
} backend;

static backend backends[2];
static int backend_count;
static hash_blocks_fn hash_blocks = hash_blocks_portable;

/* ---- the cancel flag: None, or any buffer whose first byte turns nonzero --------------------------- */

typedef struct {
    Py_buffer view;
    const volatile uint8_t *flag;
} cancel_flag;

static int cancel_open(PyObject *object, cancel_flag *cancel) {
    cancel->flag = NULL;
    if (object == Py_None) return 0;
    if (PyObject_GetBuffer(object, &cancel->view, PyBUF_SIMPLE) < 0) return -1;
    if (cancel->view.len < 1) {
        PyBuffer_Release(&cancel->view);
        PyErr_SetString(PyExc_ValueError, "the cancel flag must be a buffer of at least one byte");
        return -1;
    }
    cancel->flag = cancel->view.buf;
    return 0;
}

static void cancel_close(cancel_flag *cancel) {
    if (cancel->flag) PyBuffer_Release(&cancel->view);
}

static int cancelled(const volatile uint8_t *flag) { return flag && __atomic_load_n(flag, __ATOMIC_RELAXED); }

/* ---- parents: the parent cache's content, nodes split over threads -------------------------------- */

typedef struct {
    const sdr_graph *graph;
    uint8_t *out;
    uint64_t first, last; /* this thread's nodes: [first, last) */
    const volatile uint8_t *cancel;
    int stopped;
} parents_part;

static void *write_parents(void *arg) {
    parents_part *part = arg;
    for (uint64_t node = part->first; node < part->last; node++) {
        if ((node - part->first) % PARENTS_CANCEL_INTERVAL == 0 && cancelled(part->cancel)) {
            part->stopped = 1;
            break;
        }
        uint32_t parents[SDR_DEGREE];
        sdr_graph_parents(part->graph, (uint32_t)node, parents);
        uint8_t *row = part->out + node * PARENT_ROW;
        for (int i = 0; i < SDR_DEGREE; i++)
            for (int b = 0; b < 4; b++) row[4 * i + b] = (uint8_t)(parents[i] >> (8 * b));
    }
    return NULL;
}

/* 0 when done, 1 when cancelled, else an errno. */
static int run_parents(const uint8_t *drg_seed, const uint64_t keys[SDR_FEISTEL_ROUNDS], uint64_t nodes,
                       int legacy, uint8_t *out, int threads, const volatile uint8_t *cancel) {
    sdr_graph graph;
    int error = sdr_graph_init(&graph, drg_seed, keys, nodes, legacy);
    if (error) return error;
    if ((uint64_t)threads > nodes) threads = (int)nodes;
    parents_part parts[MAX_THREADS];
    pthread_t helpers[MAX_THREADS];
    int started = 0, stopped = 0;
    for (int i = 0; i < threads; i++)
        parts[i] = (parents_part){&graph, out, nodes * i / threads, nodes * (i + 1) / threads, cancel, 0};
    for (; started < threads - 1; started++)
        if (pthread_create(&helpers[started], NULL, write_parents, &parts[started + 1]) != 0) break;
    for (int i = started + 1; i < threads; i++) write_parents(&parts[i]); /* parts no helper took */
    write_parents(&parts[0]);
    for (int i = 0; i < started; i++) pthread_join(helpers[i], NULL);
    for (int i = 0; i < threads; i++) stopped |= parts[i].stopped;
    sdr_graph_free(&graph);
    return stopped;
}

static PyObject *parents(PyObject *self, PyObject *args) {
    const uint8_t *seed, *key_bytes;
    Py_ssize_t seed_len, keys_len;
    unsigned long long nodes;
    int legacy, threads;
    Py_buffer out;
    PyObject *cancel_object;
    if (!PyArg_ParseTuple(args, "y#y#Kpw*iO", &seed, &seed_len, &key_bytes, &keys_len, &nodes, &legacy, &out,
                          &threads, &cancel_object))
        return NULL;
    PyObject *result = NULL;
    cancel_flag cancel;
    if (seed_len != 28 || keys_len != 8 * SDR_FEISTEL_ROUNDS) {
        PyErr_SetString(PyExc_ValueError, "parents needs a 28-byte DRG seed and three 8-byte Feistel keys");
    } else if (nodes < SDR_MIN_NODES || nodes > SDR_MAX_NODES) {
        PyErr_Format(PyExc_ValueError, "a graph has between 2 and 2^31 nodes, not %llu", nodes);
    } else if ((unsigned long long)out.len != nodes * PARENT_ROW) {
        PyErr_Format(PyExc_ValueError, "the parents of %llu nodes take %llu bytes, the buffer has %zd", nodes,
                     nodes * PARENT_ROW, out.len);
    } else if (threads < 1 || threads > MAX_THREADS) {
        PyErr_Format(PyExc_ValueError, "threads must be between 1 and %d, got %d", MAX_THREADS, threads);
    } else if (cancel_open(cancel_object, &cancel) == 0) {
        uint64_t keys[SDR_FEISTEL_ROUNDS];
        for (int round = 0; round < SDR_FEISTEL_ROUNDS; round++) {
            keys[round] = 0;
            for (int b = 7; b >= 0; b--) keys[round] = keys[round] << 8 | key_bytes[8 * round + b];
        }
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = run_parents(seed, keys, nodes, legacy, out.buf, threads, cancel.flag);
        Py_END_ALLOW_THREADS
        cancel_close(&cancel);
        if (status > 1) {
            errno = status;
            PyErr_NoMemory();
        } else {
            result = PyBool_FromLong(status == 0);
        }
    }
    PyBuffer_Release(&out);
    return result;
}

/* ---- labels of one layer ---------------------------------------------------------------------------- */

static PyObject *label_layer(PyObject *self, PyObject *args) {
    const uint8_t *replica_id;
    Py_ssize_t replica_len;
    unsigned int layer;
    Py_buffer parent_cache, labels, previous = {0};
    PyObject *previous_object, *cancel_object;
    int threads;
    if (!PyArg_ParseTuple(args, "y#Iy*w*OOi", &replica_id, &replica_len, &layer, &parent_cache, &labels,
                          &previous_object, &cancel_object, &threads))
        return NULL;
    PyObject *result = NULL;
    cancel_flag cancel = {.flag = NULL};
    uint64_t nodes = (uint64_t)labels.len / 32;
    int have_previous = previous_object != Py_None;
    if (have_previous && PyObject_GetBuffer(previous_object, &previous, PyBUF_SIMPLE) < 0) goto done;
    if (replica_len != 32 || layer < 1) {
        PyErr_SetString(PyExc_ValueError, "label_layer needs a 32-byte replica id and a layer from 1");
    } else if (labels.len % 32 || nodes < SDR_MIN_NODES || nodes > SDR_MAX_NODES) {
        PyErr_Format(PyExc_ValueError, "a layer holds 2 to 2^31 labels of 32 bytes, not %zd bytes", labels.len);
    } else if ((uint64_t)parent_cache.len != nodes * PARENT_ROW) {
        PyErr_Format(PyExc_ValueError, "the parent cache of %llu nodes has %llu bytes, not %zd",
                     (unsigned long long)nodes, (unsigned long long)(nodes * PARENT_ROW), parent_cache.len);
    } else if ((layer == 1) == have_previous || (have_previous && previous.len != labels.len)) {
        PyErr_SetString(PyExc_ValueError, "layer 1 takes no previous layer, every later layer one of its size");
    } else if (threads < 1 || threads > 2) {
        PyErr_Format(PyExc_ValueError, "labels run on 1 or 2 threads, not %d", threads);
    } else if (cancel_open(cancel_object, &cancel) == 0) {
        sdr_label_job job = {.replica_id = replica_id, .layer = layer, .nodes = nodes, .parents = parent_cache.buf,
                             .previous = have_previous ? previous.buf : NULL, .labels = labels.buf,
                             .hash = hash_blocks, .threads = threads, .cancel = cancel.flag};
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = sdr_label_layer(&job);
        Py_END_ALLOW_THREADS
        cancel_close(&cancel);
        if (status == SDR_LABELS_CORRUPT_CACHE)
            PyErr_Format(PyExc_ValueError, "the parent cache names parent %llu for node %llu, which cannot be one",
                         (unsigned long long)job.bad_parent, (unsigned long long)job.bad_node);
        else if (status == SDR_LABELS_NO_MEMORY)
            PyErr_NoMemory();
        else
            result = PyBool_FromLong(status == SDR_LABELS_DONE);
    }
done:
    if (have_previous && previous.buf) PyBuffer_Release(&previous);
    PyBuffer_Release(&parent_cache);
    PyBuffer_Release(&labels);
    return result;
}

/* ---- the primitives, exposed so that the tests can hold them to outside vectors -------------------- */

static PyObject *chacha8(PyObject *self, PyObject *args) {
    const uint8_t *key;
    Py_ssize_t key_len;
    unsigned long long counter;
    unsigned int blocks;
    if (!PyArg_ParseTuple(args, "y#KI", &key, &key_len, &counter, &blocks)) return NULL;
    if (key_len != 32 || blocks > 1024) return PyErr_Format(PyExc_ValueError, "chacha8(key32, counter, blocks<=1024)");
    uint32_t key_words[8];
    for (int i = 0; i < 8; i++)
        key_words[i] = (uint32_t)key[4 * i] | (uint32_t)key[4 * i + 1] << 8 | (uint32_t)key[4 * i + 2] << 16 |
                       (uint32_t)key[4 * i + 3] << 24;
    PyObject *result = PyBytes_FromStringAndSize(NULL, 64 * (Py_ssize_t)blocks);
    if (result == NULL) return NULL;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    for (unsigned int block = 0; block < blocks; block++) {
        uint32_t words[16];
        chacha8_block(key_words, counter + block, words);
        for (int i = 0; i < 64; i++) out[64 * block + i] = (uint8_t)(words[i / 4] >> (8 * (i % 4)));
    }
    return result;
}

static PyObject *blake2b(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    uint8_t digest[64];
    blake2b_512(digest, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)digest, 64);
}

static PyObject *hash_padded_blocks(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    PyObject *result = NULL;
    if (data.len % 64) {
        PyErr_SetString(PyExc_ValueError, "hash_padded_blocks needs whole 64-byte blocks");
    } else {
        uint8_t digest[32];
        hash_blocks(digest, data.buf, (size_t)data.len / 64);
        result = PyBytes_FromStringAndSize((const char *)digest, 32);
    }
    PyBuffer_Release(&data);
    return result;
}

/* ---- backends --------------------------------------------------------------------------------------- */

static PyObject *available(PyObject *self, PyObject *unused) {
    PyObject *names = PyTuple_New(backend_count);
    for (int i = 0; names && i < backend_count; i++) PyTuple_SET_ITEM(names, i, PyUnicode_FromString(backends[i].name));
    return names;
}

static PyObject *current(PyObject *self, PyObject *unused) {
    for (int i = 0; i < backend_count; i++)
        if (backends[i].hash == hash_blocks) return PyUnicode_FromString(backends[i].name);
    return PyUnicode_FromString("portable");
}

static PyObject *select_backend(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int i = 0; i < backend_count; i++) {
        if (strcmp(name, backends[i].name) == 0) {
            hash_blocks = backends[i].hash;
            Py_RETURN_NONE;
        }
    }
    return PyErr_Format(PyExc_ValueError, "label backend %R is not available on this CPU", PyTuple_GET_ITEM(args, 0));
}

static PyMethodDef methods[] = {
    {"parents", parents, METH_VARARGS,
     "parents(drg_seed, feistel_keys, nodes, legacy, out, threads, cancel) -> bool: fill `out` with the parent "
     "cache of the graph; False when cancelled."},
    {"label_layer", label_layer, METH_VARARGS,
     "label_layer(replica_id, layer, parent_cache, labels, previous, cancel, threads) -> bool: label every node "
     "of `layer` into `labels` (threads 2: a second thread gathers parents ahead); False when cancelled."},
    {"chacha8", chacha8, METH_VARARGS, "chacha8(key, counter, blocks) -> bytes: ChaCha8 keystream, nonce zero."},
    {"blake2b", blake2b, METH_VARARGS, "blake2b(data) -> bytes: BLAKE2b-512 of data."},
    {"hash_padded_blocks", hash_padded_blocks, METH_VARARGS,
     "hash_padded_blocks(data) -> bytes: SHA-256 of already padded blocks, top two bits cleared."},
    {"available", available, METH_NOARGS, "available() -> tuple[str, ...]: label backends here, fastest first."},
    {"current", current, METH_NOARGS, "current() -> str: the label backend in use."},
    {"select", select_backend, METH_VARARGS, "select(name): use one of available()."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_sdr", .m_doc = "SDR parents and labels of sealer_fsm.proofs.", .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__sdr(void) {
    backend_count = 0;
#ifdef SEALER_FSM_X86
    if (cpu_has_sha_ni()) backends[backend_count++] = (backend){"sha-ni", hash_blocks_sha_ni};
#endif
    backends[backend_count++] = (backend){"portable", hash_blocks_portable};
    hash_blocks = backends[0].hash;
    return PyModule_Create(&module);
}
