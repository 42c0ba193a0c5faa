/* Streaming Poseidon oct-trees over files (see _trees.h). Threads take chunks of leaves from a shared counter. */
#define _GNU_SOURCE
#include "_trees.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_LEAVES 4096u   /* 8^4 leaves: ~0.1 s of hashing, 128 KiB per input buffer */
#define CANCEL_EVERY 256u    /* leaves between two looks at the cancel flag (a few ms of work) */
#define MAX_TREE_THREADS 256 /* as MAX_THREADS in _native.c and the Python thread budget */
#define MAX_ROWS 40

typedef struct {
    tree_job *job;
    const poseidon_instance *column, *node;
    fr column_tag, node_tag;
    uint64_t chunk_leaves, chunks;
    int chunk_levels, total_levels;
    uint64_t row_offset[MAX_ROWS]; /* byte offset of each stored row in the tree file */
    uint8_t *chunk_roots;
    uint64_t next_chunk;
    int failed;
} shared_build;

/* The first failure wins; the other threads see `failed` and stop at their next check. */
static void fail(shared_build *build, tree_status status, int error_number, int input, uint64_t node) {
    if (__atomic_exchange_n(&build->failed, 1, __ATOMIC_ACQ_REL)) return;
    build->job->status = status;
    build->job->error_number = error_number;
    build->job->error_input = input;
    build->job->error_node = node;
}

static int stopped(shared_build *build) {
    if (*build->job->cancel) {
        fail(build, TREE_CANCELLED, 0, 0, 0);
        return 1;
    }
    return __atomic_load_n(&build->failed, __ATOMIC_ACQUIRE);
}

/* Reads `count` nodes from input `index` (fd -1: zeros). */
static int read_nodes(shared_build *build, int index, uint64_t first_node, uint64_t count, uint8_t *out) {
    int fd = build->job->inputs[index];
    size_t length = (size_t)count * TREE_NODE, done = 0;
    if (fd < 0) {
        memset(out, 0, length);
        return 0;
    }
    off_t offset = (off_t)(first_node * TREE_NODE);
    while (done < length) {
        ssize_t got = pread(fd, out + done, length - done, offset + (off_t)done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            fail(build, TREE_IO, errno, index, first_node);
            return -1;
        }
        if (got == 0) {
            fail(build, TREE_SHORT, 0, index, first_node + done / TREE_NODE);
            return -1;
        }
        done += (size_t)got;
    }
    return 0;
}

static int write_bytes(shared_build *build, int fd, int which, const uint8_t *data, size_t length, uint64_t offset) {
    size_t done = 0;
    while (done < length) {
        ssize_t put = pwrite(fd, data + done, length - done, (off_t)(offset + done));
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) {
            fail(build, TREE_IO, put < 0 ? errno : EIO, which, offset / TREE_NODE);
            return -1;
        }
        done += (size_t)put;
    }
    return 0;
}

/* Loads a node as a field element, refusing values ≥ p (a corrupt or foreign file). */
static int load_element(shared_build *build, const uint8_t *bytes, int input, uint64_t node, fr *out) {
    if (!fr_bytes_in_field(bytes)) {
        fail(build, TREE_NOT_FIELD, 0, input, node);
        return -1;
    }
    fr_from_bytes(out, bytes);
    return 0;
}

/* Hashes `count` groups of 8 children into `count` parents, four at a time (poseidon_hash4). */
static void hash_nodes(shared_build *build, const uint8_t *children, uint8_t *parents, uint64_t count) {
    for (uint64_t first = 0; first < count; first += 4) {
        const int lanes = count - first < 4 ? (int)(count - first) : 4;
        fr inputs[4 * TREE_ARITY] = {{{0}}}, digests[4];
        for (int i = 0; i < lanes * TREE_ARITY; i++)
            fr_from_bytes(&inputs[i], children + (first * TREE_ARITY + (uint64_t)i) * TREE_NODE);
        if (lanes == 4)
            poseidon_hash4(build->node, &build->node_tag, inputs, TREE_ARITY, digests);
        else
            for (int lane = 0; lane < lanes; lane++)
                poseidon_hash(build->node, &build->node_tag, inputs + lane * TREE_ARITY, TREE_ARITY, &digests[lane]);
        for (int lane = 0; lane < lanes; lane++) fr_to_bytes(parents + (first + (uint64_t)lane) * TREE_NODE, &digests[lane]);
    }
}

/* The chunk's leaves into `leaves`, from `buffers` (one chunk-sized buffer per input). */
static int produce_leaves(shared_build *build, uint64_t first, uint8_t *buffers, uint8_t *leaves) {
    tree_job *job = build->job;
    const uint64_t count = build->chunk_leaves, chunk_bytes = count * TREE_NODE;
    for (int input = 0; input < job->input_count; input++)
        if (read_nodes(build, input, first, count, buffers + input * chunk_bytes) < 0) return -1;
    fr columns[4 * TREE_MAX_INPUTS], digests[4];
    for (uint64_t i = 0; i < count; i++) {
        if (i % CANCEL_EVERY == 0 && stopped(build)) return -1;
        const uint64_t node = first + i;
        fr values[TREE_MAX_INPUTS], leaf;
        for (int input = 0; input < job->input_count; input++)
            if (load_element(build, buffers + input * chunk_bytes + i * TREE_NODE, input, node, &values[input]) < 0)
                return -1;
        switch (job->kind) {
        case LEAVES_COLUMNS: /* gathered four at a time, hashed below */
            memcpy(&columns[(i % 4) * (uint64_t)job->input_count], values, sizeof(fr) * (size_t)job->input_count);
            if (i % 4 == 3) {
                poseidon_hash4(build->column, &build->column_tag, columns, job->input_count, digests);
                for (int lane = 0; lane < 4; lane++) fr_to_bytes(leaves + (i - 3 + (uint64_t)lane) * TREE_NODE, &digests[lane]);
            }
            continue;
        case LEAVES_ENCODE:
            fr_add(&leaf, &values[0], &values[1]);
            break;
        case LEAVES_SNAP_ENCODE:
            fr_mul_mixed(&leaf, &values[0], &job->rhos[node >> job->rho_shift]);
            fr_add(&leaf, &leaf, &values[1]);
            break;
        default:
            leaf = values[0];
        }
        fr_to_bytes(leaves + i * TREE_NODE, &leaf);
    }
    if (job->replica_fd >= 0 && (job->kind == LEAVES_ENCODE || job->kind == LEAVES_SNAP_ENCODE))
        return write_bytes(build, job->replica_fd, -1, leaves, chunk_bytes, first * TREE_NODE);
    return 0;
}

/* Writes row `row` nodes [first, first + count) if the tree file keeps that row. */
static int store_row(shared_build *build, int row, uint64_t first, const uint8_t *nodes, uint64_t count) {
    tree_job *job = build->job;
    if (job->tree_fd < 0 || row < job->first_stored_row) return 0;
    return write_bytes(build, job->tree_fd, -2, nodes, count * TREE_NODE, build->row_offset[row] + first * TREE_NODE);
}

/* Hashes `count` nodes of row `row` (first node `first`) up `levels` rows, storing each; the top lands in `top`. */
static int hash_up(shared_build *build, int row, uint64_t first, uint8_t *nodes, uint64_t count, int levels,
                   uint8_t *scratch, uint8_t *top) {
    uint8_t *below = nodes, *above = scratch;
    for (int level = 0; level < levels; level++, row++) {
        for (uint64_t parent = 0; parent < count / TREE_ARITY; parent += CANCEL_EVERY / TREE_ARITY) {
            if (stopped(build)) return -1;
            uint64_t batch = count / TREE_ARITY - parent < CANCEL_EVERY / TREE_ARITY ? count / TREE_ARITY - parent
                                                                                    : CANCEL_EVERY / TREE_ARITY;
            hash_nodes(build, below + parent * TREE_ARITY * TREE_NODE, above + parent * TREE_NODE, batch);
        }
        count /= TREE_ARITY;
        first /= TREE_ARITY;
        if (store_row(build, row + 1, first, above, count) < 0) return -1;
        below = above;
        above += count * TREE_NODE;
    }
    memcpy(top, below, TREE_NODE);
    return 0;
}

static void *build_worker(void *arg) {
    shared_build *build = arg;
    tree_job *job = build->job;
    const uint64_t count = build->chunk_leaves;
    uint8_t *buffers = malloc((size_t)(job->input_count * count * TREE_NODE));
    uint8_t *leaves = malloc((size_t)(count * TREE_NODE));
    uint8_t *rows = malloc((size_t)(count / TREE_ARITY * 2 * TREE_NODE + TREE_NODE));
    if (!buffers || !leaves || !rows) fail(build, TREE_NO_MEMORY, ENOMEM, 0, 0);
    while (!stopped(build)) {
        uint64_t chunk = __atomic_fetch_add(&build->next_chunk, 1, __ATOMIC_RELAXED);
        if (chunk >= build->chunks) break;
        uint64_t first = chunk * count;
        if (produce_leaves(build, job->node_offset + first, buffers, leaves) < 0) break;
        if (store_row(build, 0, first, leaves, count) < 0) break;
        if (hash_up(build, 0, first, leaves, count, build->chunk_levels, rows, build->chunk_roots + chunk * TREE_NODE) < 0)
            break;
    }
    free(buffers);
    free(leaves);
    free(rows);
    return NULL;
}

static int log8_exact(uint64_t value) { return __builtin_ctzll(value) / 3; }

void tree_build(tree_job *job) {
    shared_build build = {.job = job};
    job->status = TREE_OK;
    build.node = poseidon_find(TREE_ARITY);
    poseidon_merkle_tag(TREE_ARITY, &build.node_tag);
    if (job->kind == LEAVES_COLUMNS) {
        build.column = poseidon_find(job->input_count);
        poseidon_merkle_tag(job->input_count, &build.column_tag);
    }
    build.chunk_leaves = job->leaves < CHUNK_LEAVES ? job->leaves : CHUNK_LEAVES;
    build.chunks = job->leaves / build.chunk_leaves;
    build.chunk_levels = log8_exact(build.chunk_leaves);
    build.total_levels = log8_exact(job->leaves);
    uint64_t offset = 0, width = job->leaves;
    for (int row = 0; row <= build.total_levels; row++, width /= TREE_ARITY) {
        build.row_offset[row] = offset;
        if (row >= job->first_stored_row) offset += width * TREE_NODE;
    }
    build.chunk_roots = malloc((size_t)(build.chunks * TREE_NODE));
    uint8_t *scratch = malloc((size_t)(build.chunks * TREE_NODE));
    if (!build.chunk_roots || !scratch) {
        free(build.chunk_roots);
        free(scratch);
        job->status = TREE_NO_MEMORY;
        job->error_number = ENOMEM;
        return;
    }
    int threads = job->threads < 1 ? 1 : job->threads > MAX_TREE_THREADS ? MAX_TREE_THREADS : job->threads;
    if ((uint64_t)threads > build.chunks) threads = (int)build.chunks;
    pthread_t helpers[MAX_TREE_THREADS];
    int started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&helpers[started], NULL, build_worker, &build) != 0) break; /* run with fewer */
    build_worker(&build);
    for (int i = 0; i < started; i++) pthread_join(helpers[i], NULL);
    if (!build.failed)
        hash_up(&build, build.chunk_levels, 0, build.chunk_roots, build.chunks,
                build.total_levels - build.chunk_levels, scratch, job->root);
    free(build.chunk_roots);
    free(scratch);
}

void tree_levels(const uint8_t *leaves, uint64_t count, int levels, uint8_t *out) {
    shared_build build = {.node = poseidon_find(TREE_ARITY)};
    poseidon_merkle_tag(TREE_ARITY, &build.node_tag);
    const uint8_t *below = leaves;
    for (int level = 0; level < levels; level++) {
        hash_nodes(&build, below, out, count / TREE_ARITY);
        count /= TREE_ARITY;
        below = out;
        out += count * TREE_NODE;
    }
}
