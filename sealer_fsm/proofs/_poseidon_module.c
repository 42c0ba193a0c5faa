/* sealer_fsm.proofs._poseidon: Poseidon, Poseidon oct-trees over files, and node-wise replica encoding.
 *
 * The Python side (`_poseidon_api.py`, `_pc2.py`, `_snap.py`) validates arguments and names files in its
 * errors; this layer converts buffers, releases the GIL around every loop, and maps failures to exceptions:
 * OSError (errno, ECANCELED when the cancel flag was set), ValueError for a value that is not a field element.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <time.h>

#include "_poseidon.h"
#include "_trees.h"

static int check_nodes(const Py_buffer *buffer, const char *what) {
    if (buffer->len % TREE_NODE) {
        PyErr_Format(PyExc_ValueError, "%s must be whole 32-byte nodes, got %zd bytes", what, buffer->len);
        return -1;
    }
    return 0;
}

static int check_cancel(const Py_buffer *cancel) {
    if (cancel->len < 1) {
        PyErr_SetString(PyExc_ValueError, "the cancel flag must be a buffer of at least one byte");
        return -1;
    }
    return 0;
}

/* hash(elements, arity, tag, count) -> digests: elements are groups of `count` ≤ arity canonical nodes (fewer
 * than arity: zero padding), one digest per group; groups are hashed four at a time (poseidon_hash4). */
static PyObject *py_hash(PyObject *self, PyObject *args) {
    Py_buffer elements, tag;
    int arity, count;
    if (!PyArg_ParseTuple(args, "y*iy*i", &elements, &arity, &tag, &count)) return NULL;
    PyObject *result = NULL;
    const poseidon_instance *instance = poseidon_find(arity);
    const uint8_t *bytes = elements.buf;
    Py_ssize_t nodes = elements.len / TREE_NODE, groups = count > 0 ? nodes / count : 0;
    fr tag_value, inputs[4 * POSEIDON_MAX_WIDTH], digests[4];
    if (instance == NULL) {
        PyErr_Format(PyExc_ValueError, "no Poseidon instance of arity %d", arity);
        goto done;
    }
    if (check_nodes(&elements, "elements") < 0) goto done;
    if (count < 1 || count > arity || groups * count != nodes || groups < 1) {
        PyErr_Format(PyExc_ValueError, "arity %d hashes groups of 1 to %d elements, got %zd elements in groups of %d",
                     arity, arity, nodes, count);
        goto done;
    }
    if (tag.len != TREE_NODE || !fr_bytes_in_field(tag.buf)) {
        PyErr_SetString(PyExc_ValueError, "the domain tag must be a 32-byte field element");
        goto done;
    }
    for (Py_ssize_t i = 0; i < nodes; i++) {
        if (!fr_bytes_in_field(bytes + TREE_NODE * i)) {
            PyErr_Format(PyExc_ValueError, "element %zd is not below the field modulus", i);
            goto done;
        }
    }
    if (!(result = PyBytes_FromStringAndSize(NULL, groups * TREE_NODE))) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    fr_from_bytes(&tag_value, tag.buf);
    fr_to_montgomery(&tag_value, &tag_value);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t first = 0; first < groups; first += 4) {
        const int lanes = groups - first < 4 ? (int)(groups - first) : 4;
        for (int i = 0; i < lanes * count; i++) fr_from_bytes(&inputs[i], bytes + (first * count + i) * TREE_NODE);
        if (lanes == 4)
            poseidon_hash4(instance, &tag_value, inputs, count, digests);
        else
            for (int lane = 0; lane < lanes; lane++)
                poseidon_hash(instance, &tag_value, inputs + lane * count, count, &digests[lane]);
        for (int lane = 0; lane < lanes; lane++) fr_to_bytes(out + (first + lane) * TREE_NODE, &digests[lane]);
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&elements);
    PyBuffer_Release(&tag);
    return result;
}

static PyObject *tree_error(const tree_job *job) {
    switch (job->status) {
    case TREE_CANCELLED:
        errno = ECANCELED;
        return PyErr_SetFromErrno(PyExc_OSError);
    case TREE_NO_MEMORY:
        return PyErr_NoMemory();
    case TREE_IO:
        return Py_BuildValue("(siiK)", "io", job->error_number, job->error_input,
                             (unsigned long long)job->error_node);
    case TREE_SHORT:
        return Py_BuildValue("(siiK)", "short", 0, job->error_input, (unsigned long long)job->error_node);
    default:
        return Py_BuildValue("(siiK)", "field", 0, job->error_input, (unsigned long long)job->error_node);
    }
}

/* build_tree(kind, inputs, replica_fd, tree_fd, leaves, node_offset, first_stored_row, threads, cancel,
 *            rhos, rho_shift) -> root bytes, or a tuple (reason, errno, input, node) describing the failure. */
static PyObject *py_build_tree(PyObject *self, PyObject *args) {
    int kind, replica_fd, tree_fd, first_stored_row, threads, rho_shift;
    unsigned long long leaves, node_offset;
    PyObject *inputs;
    Py_buffer cancel, rhos;
    if (!PyArg_ParseTuple(args, "iO!iiKKiiw*y*i", &kind, &PyTuple_Type, &inputs, &replica_fd, &tree_fd, &leaves,
                          &node_offset, &first_stored_row, &threads, &cancel, &rhos, &rho_shift))
        return NULL;
    PyObject *result = NULL;
    tree_job job = {.kind = (leaf_kind)kind, .replica_fd = replica_fd, .tree_fd = tree_fd, .leaves = leaves,
                    .node_offset = node_offset, .first_stored_row = first_stored_row, .threads = threads,
                    .cancel = cancel.buf, .rhos = rhos.buf, .rho_shift = rho_shift};
    job.input_count = (int)PyTuple_GET_SIZE(inputs);
    int expected = kind == LEAVES_FILE ? 1 : kind == LEAVES_COLUMNS ? -1 : 2;
    if (check_cancel(&cancel) < 0) goto done;
    if (kind < LEAVES_COLUMNS || kind > LEAVES_FILE || (expected > 0 && job.input_count != expected) ||
        job.input_count < 1 || job.input_count > TREE_MAX_INPUTS ||
        (kind == LEAVES_COLUMNS && poseidon_find(job.input_count) == NULL)) {
        PyErr_Format(PyExc_ValueError, "bad tree source: kind %d with %d inputs", kind, job.input_count);
        goto done;
    }
    if (leaves < TREE_ARITY || (leaves & (leaves - 1)) || __builtin_ctzll(leaves) % 3) {
        PyErr_Format(PyExc_ValueError, "a base tree has a power of 8 leaves (at least 8), got %llu", leaves);
        goto done;
    }
    if (kind == LEAVES_SNAP_ENCODE) {
        uint64_t last_high = (node_offset + leaves - 1) >> rho_shift;
        if (rho_shift < 0 || rho_shift > 63 || (uint64_t)rhos.len < (last_high + 1) * TREE_NODE) {
            PyErr_SetString(PyExc_ValueError, "the rho table does not cover the tree's nodes");
            goto done;
        }
    }
    for (int i = 0; i < job.input_count; i++) {
        job.inputs[i] = (int)PyLong_AsLong(PyTuple_GET_ITEM(inputs, i));
        if (PyErr_Occurred()) goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    tree_build(&job);
    Py_END_ALLOW_THREADS
    result = job.status == TREE_OK ? PyBytes_FromStringAndSize((const char *)job.root, TREE_NODE) : tree_error(&job);
done:
    PyBuffer_Release(&cancel);
    PyBuffer_Release(&rhos);
    return result;
}

/* levels(leaves, count) -> the `count` rows above `leaves` (8-ary), concatenated lowest first. */
static PyObject *py_levels(PyObject *self, PyObject *args) {
    Py_buffer leaves;
    int levels;
    if (!PyArg_ParseTuple(args, "y*i", &leaves, &levels)) return NULL;
    PyObject *result = NULL;
    uint64_t count = (uint64_t)leaves.len / TREE_NODE, total = 0, width = count;
    int fits = check_nodes(&leaves, "leaves") == 0 && levels >= 0;
    for (int level = 0; fits && level < levels; level++) {
        fits = width % TREE_ARITY == 0;
        width /= TREE_ARITY;
        total += width;
    }
    if (!fits) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "%llu leaves do not make %d full 8-ary levels", (unsigned long long)count,
                         levels);
    } else {
        const uint8_t *bytes = leaves.buf;
        for (uint64_t i = 0; i < count && !PyErr_Occurred(); i++)
            if (!fr_bytes_in_field(bytes + i * TREE_NODE))
                PyErr_Format(PyExc_ValueError, "leaf %llu is not below the field modulus", (unsigned long long)i);
        if (!PyErr_Occurred() && (result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(total * TREE_NODE)))) {
            uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
            Py_BEGIN_ALLOW_THREADS
            tree_levels(bytes, count, levels, out);
            Py_END_ALLOW_THREADS
        }
    }
    PyBuffer_Release(&leaves);
    return result;
}

enum { NODES_ADD = 0, NODES_SUBTRACT = 1, NODES_SNAP_ENCODE = 2, NODES_SNAP_DECODE = 3 };

/* nodes(op, a, b, rhos, rho_shift, first_node) -> bytes, node by node:
 * add a+b, subtract a−b, snap encode b + a·rho, snap decode (a − b)·rho (rho already inverted). */
static PyObject *py_nodes(PyObject *self, PyObject *args) {
    int op, rho_shift;
    Py_buffer a, b, rhos;
    unsigned long long first_node;
    if (!PyArg_ParseTuple(args, "iy*y*y*iK", &op, &a, &b, &rhos, &rho_shift, &first_node)) return NULL;
    PyObject *result = NULL;
    uint64_t count = (uint64_t)a.len / TREE_NODE;
    const int snap = op == NODES_SNAP_ENCODE || op == NODES_SNAP_DECODE;
    if (check_nodes(&a, "the first input") < 0 || check_nodes(&b, "the second input") < 0) goto done;
    if (a.len != b.len) {
        PyErr_Format(PyExc_ValueError, "the inputs differ in length (%zd and %zd bytes)", a.len, b.len);
        goto done;
    }
    if (op < NODES_ADD || op > NODES_SNAP_DECODE ||
        (snap && count && (rho_shift < 0 || rho_shift > 63 ||
                           (uint64_t)rhos.len < (((first_node + count - 1) >> rho_shift) + 1) * TREE_NODE))) {
        PyErr_SetString(PyExc_ValueError, "bad node operation or a rho table that does not cover the nodes");
        goto done;
    }
    const uint8_t *left = a.buf, *right = b.buf;
    for (uint64_t i = 0; i < count; i++) {
        if (!fr_bytes_in_field(left + i * TREE_NODE) || !fr_bytes_in_field(right + i * TREE_NODE)) {
            PyErr_Format(PyExc_ValueError, "node %llu of the %s input is not below the field modulus",
                         (unsigned long long)(first_node + i), fr_bytes_in_field(left + i * TREE_NODE) ? "second" : "first");
            goto done;
        }
    }
    if (!(result = PyBytes_FromStringAndSize(NULL, a.len))) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const fr *rho = rhos.buf;
    Py_BEGIN_ALLOW_THREADS
    for (uint64_t i = 0; i < count; i++) {
        fr x, y, z;
        fr_from_bytes(&x, left + i * TREE_NODE);
        fr_from_bytes(&y, right + i * TREE_NODE);
        switch (op) {
        case NODES_ADD:
            fr_add(&z, &x, &y);
            break;
        case NODES_SUBTRACT:
            fr_sub(&z, &x, &y);
            break;
        case NODES_SNAP_ENCODE:
            fr_mul_mixed(&z, &x, &rho[(first_node + i) >> rho_shift]);
            fr_add(&z, &z, &y);
            break;
        default:
            fr_sub(&z, &x, &y);
            fr_mul_mixed(&z, &z, &rho[(first_node + i) >> rho_shift]);
        }
        fr_to_bytes(out + i * TREE_NODE, &z);
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&rhos);
    return result;
}

/* montgomery(values, invert) -> each canonical node in Montgomery form, inverted first when asked (≠ 0). */
static PyObject *py_montgomery(PyObject *self, PyObject *args) {
    Py_buffer values;
    int invert;
    if (!PyArg_ParseTuple(args, "y*p", &values, &invert)) return NULL;
    PyObject *result = NULL;
    if (check_nodes(&values, "values") == 0 && (result = PyBytes_FromStringAndSize(NULL, values.len))) {
        const uint8_t *in = values.buf;
        fr *out = (fr *)PyBytes_AS_STRING(result);
        for (Py_ssize_t i = 0; i < values.len / TREE_NODE; i++) {
            fr x;
            fr_from_bytes(&x, in + i * TREE_NODE);
            int zero = !(x.l[0] | x.l[1] | x.l[2] | x.l[3]);
            if (!fr_bytes_in_field(in + i * TREE_NODE) || (invert && zero)) {
                Py_CLEAR(result);
                PyErr_Format(PyExc_ValueError, "value %zd cannot be %s", i, invert ? "inverted" : "converted");
                break;
            }
            fr_to_montgomery(&out[i], &x);
            if (invert) fr_inverse(&out[i], &out[i]);
        }
    }
    PyBuffer_Release(&values);
    return result;
}

/* round_constants(arity) -> (full rounds, partial rounds, the plain Grain constants as canonical nodes). */
static PyObject *py_round_constants(PyObject *self, PyObject *args) {
    int arity;
    if (!PyArg_ParseTuple(args, "i", &arity)) return NULL;
    const poseidon_instance *instance = poseidon_find(arity);
    if (instance == NULL) return PyErr_Format(PyExc_ValueError, "no Poseidon instance of arity %d", arity);
    int count = (POSEIDON_FULL_ROUNDS + instance->partial_rounds) * instance->width;
    PyObject *constants = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)count * TREE_NODE);
    if (constants == NULL) return NULL;
    for (int i = 0; i < count; i++) fr_to_bytes((uint8_t *)PyBytes_AS_STRING(constants) + i * TREE_NODE, &instance->plain_rc[i]);
    return Py_BuildValue("(iiN)", POSEIDON_FULL_ROUNDS, instance->partial_rounds, constants);
}

static PyObject *py_arities(PyObject *self, PyObject *unused) {
    PyObject *arities = PyList_New(0);
    for (int arity = 1; arities && arity <= POSEIDON_MAX_WIDTH; arity++)
        if (poseidon_find(arity) && PyList_Append(arities, PyLong_FromLong(arity)) < 0) Py_CLEAR(arities);
    return arities;
}

static const char *const BACKEND_NAMES[] = {"avx2", "mulx-adx", "portable"};

static PyObject *py_available(PyObject *self, PyObject *unused) {
    PyObject *names = PyList_New(0);
    for (int backend = POSEIDON_AVX2; names && backend <= POSEIDON_PORTABLE; backend++) {
        if (!poseidon_backend_available((poseidon_backend)backend)) continue;
        PyObject *name = PyUnicode_FromString(BACKEND_NAMES[backend]);
        if (name == NULL || PyList_Append(names, name) < 0) Py_CLEAR(names);
        Py_XDECREF(name);
    }
    if (names == NULL) return NULL;
    PyObject *tuple = PyList_AsTuple(names);
    Py_DECREF(names);
    return tuple;
}

static PyObject *py_current(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(BACKEND_NAMES[poseidon_current()]);
}

static PyObject *py_select(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int backend = POSEIDON_AVX2; backend <= POSEIDON_PORTABLE; backend++) {
        if (strcmp(name, BACKEND_NAMES[backend]) != 0) continue;
        if (poseidon_select((poseidon_backend)backend) < 0)
            return PyErr_Format(PyExc_ValueError, "field backend %R is not available on this CPU",
                                PyTuple_GET_ITEM(args, 0));
        Py_RETURN_NONE;
    }
    return PyErr_Format(PyExc_ValueError, "unknown field backend %R", PyTuple_GET_ITEM(args, 0));
}

static double seconds_between(const struct timespec *start, const struct timespec *end) {
    return (double)(end->tv_sec - start->tv_sec) + 1e-9 * (double)(end->tv_nsec - start->tv_nsec);
}

/* multiplications(count) -> seconds for `count` dependent field multiplications on the selected backend. */
static PyObject *py_multiplications(PyObject *self, PyObject *args) {
    long long count;
    if (!PyArg_ParseTuple(args, "L", &count)) return NULL;
    fr value = FR_R2;
    struct timespec start, end;
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long long i = 0; i < count; i++) fr_mul_mixed(&value, &value, &FR_R2);
    clock_gettime(CLOCK_MONOTONIC, &end);
    Py_END_ALLOW_THREADS
    __asm__ volatile("" : : "r"(value.l[0]) : "memory");
    return PyFloat_FromDouble(seconds_between(&start, &end));
}

/* hashes(arity, count) -> seconds for `count` MerkleTree hashes made four at a time as the tree builder makes
 * them (each batch's digests feed the next batch). */
static PyObject *py_hashes(PyObject *self, PyObject *args) {
    int arity;
    long long count;
    if (!PyArg_ParseTuple(args, "iL", &arity, &count)) return NULL;
    const poseidon_instance *instance = poseidon_find(arity);
    if (instance == NULL) return PyErr_Format(PyExc_ValueError, "no Poseidon instance of arity %d", arity);
    fr inputs[4 * POSEIDON_MAX_WIDTH], digests[4], tag;
    for (int i = 0; i < 4 * arity; i++) inputs[i] = (fr){{(uint64_t)i, 0, 0, 0}};
    poseidon_merkle_tag(arity, &tag);
    struct timespec start, end;
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long long i = 0; i < count; i += 4) {
        poseidon_hash4(instance, &tag, inputs, arity, digests);
        for (int lane = 0; lane < 4; lane++) inputs[lane * arity] = digests[lane];
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    Py_END_ALLOW_THREADS
    return PyFloat_FromDouble(seconds_between(&start, &end));
}

static PyMethodDef methods[] = {
    {"hash", py_hash, METH_VARARGS, "hash(elements, arity, tag, count) -> bytes: one digest per `count` elements."},
    {"build_tree", py_build_tree, METH_VARARGS, "build_tree(...) -> root bytes or a failure tuple."},
    {"levels", py_levels, METH_VARARGS, "levels(leaves, count) -> bytes: the rows above the leaves."},
    {"nodes", py_nodes, METH_VARARGS, "nodes(op, a, b, rhos, rho_shift, first_node) -> bytes."},
    {"montgomery", py_montgomery, METH_VARARGS, "montgomery(values, invert) -> bytes."},
    {"round_constants", py_round_constants, METH_VARARGS, "round_constants(arity) -> (R_F, R_P, constants)."},
    {"arities", py_arities, METH_NOARGS, "arities() -> list[int]."},
    {"available", py_available, METH_NOARGS, "available() -> tuple[str, ...]: field backends, fastest first."},
    {"current", py_current, METH_NOARGS, "current() -> str."},
    {"select", py_select, METH_VARARGS, "select(name)."},
    {"multiplications", py_multiplications, METH_VARARGS, "multiplications(count) -> seconds."},
    {"hashes", py_hashes, METH_VARARGS, "hashes(arity, count) -> seconds (benchmarks)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_poseidon", .m_doc = "Poseidon and its trees for sealer_fsm.proofs.",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__poseidon(void) {
    for (int backend = POSEIDON_AVX2; backend <= POSEIDON_PORTABLE; backend++)
        if (poseidon_select((poseidon_backend)backend) == 0) break; /* the fastest this CPU runs */
    return PyModule_Create(&module);
}
