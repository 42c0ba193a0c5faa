/* SDR labels of one layer: see _sdr_labels.h. */
#include "_sdr_labels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "_sdr_graph.h"

#define LABEL 32
#define MESSAGE_BYTES 1248     /* prefix (64) + 37 parent labels */
#define PADDED_BYTES (20 * 64) /* the message with SHA-256 padding: 20 blocks */
#define CHUNK 1024             /* nodes gathered at a time: about 1 ms of hashing, a cancel check each */
#define RING 4                 /* gathered chunks in flight: the gathering thread runs up to 3 ahead */
#define ROW (SDR_DEGREE * LABEL)

/* One gathered chunk: per node, its parents' labels in slot order, except the slots marked in `live` (base
 * parents not yet labelled when the chunk was gathered), which the hashing thread reads itself. */
typedef struct {
    uint8_t rows[CHUNK][ROW];
    uint16_t live[CHUNK];
} gathered_chunk;

typedef struct {
    sdr_label_job *job;
    gathered_chunk *ring;
    uint64_t chunks;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t gathered, labelled; /* chunks done by each side */
    int stop;                    /* set by the hashing side when it ends early */
    int status;                  /* SDR_LABELS_CORRUPT_CACHE when the gathering side found a bad entry */
} label_run;

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_be(uint8_t *p, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(value >> (8 * (bytes - 1 - i)));
}

static void load_parents(const sdr_label_job *job, uint64_t node, uint32_t parents[SDR_DEGREE]) {
    const uint8_t *row = job->parents + node * SDR_DEGREE * 4;
    for (int i = 0; i < SDR_DEGREE; i++) parents[i] = load_le32(row + 4 * i);
}

/* Gathers chunk `index` when the labels of this layer below `known` are final. Checks every entry: base
 * parents come before their node, expander parents lie inside the previous layer; returns 0 at a bad one. */
static int gather_chunk(sdr_label_job *job, uint64_t index, uint64_t known, gathered_chunk *chunk) {
    const uint64_t first = index * CHUNK, end = first + CHUNK < job->nodes ? first + CHUNK : job->nodes;
    for (uint64_t node = first < 1 ? 1 : first; node < end; node++) {
        uint32_t parents[SDR_DEGREE];
        load_parents(job, node, parents);
        uint8_t *row = chunk->rows[node - first];
        uint16_t live = 0;
        for (int i = 0; i < SDR_DEGREE; i++) {
            if (parents[i] >= (i < SDR_BASE_DEGREE ? node : job->nodes)) {
                job->bad_node = node;
                job->bad_parent = parents[i];
                return 0;
            }
        }
        for (int i = 0; i < SDR_BASE_DEGREE; i++) {
            if (parents[i] < known)
                memcpy(row + LABEL * i, job->labels + (uint64_t)parents[i] * LABEL, LABEL);
            else
                live |= (uint16_t)(1u << i);
        }
        if (job->previous)
            for (int i = SDR_BASE_DEGREE; i < SDR_DEGREE; i++)
                memcpy(row + LABEL * i, job->previous + (uint64_t)parents[i] * LABEL, LABEL);
        chunk->live[node - first] = live;
    }
    return 1;
}

/* The message after the prefix: the gathered labels, the live ones read now, then the repeats up to 37 labels
 * (layer 1: its 6 base parents 6 times and the first once more; later layers: 14 twice and the first 9). */
static void fill_message(const sdr_label_job *job, uint64_t node, const gathered_chunk *chunk, uint8_t *message) {
    uint8_t *out = message + 64;
    const uint64_t offset = node % CHUNK;
    const uint16_t live = chunk->live[offset];
    if (job->previous) {
        memcpy(out, chunk->rows[offset], ROW);
    } else {
        memcpy(out, chunk->rows[offset], SDR_BASE_DEGREE * LABEL);
    }
    if (live) {
        const uint8_t *row = job->parents + node * SDR_DEGREE * 4;
        for (int i = 0; i < SDR_BASE_DEGREE; i++)
            if (live & (1u << i)) memcpy(out + LABEL * i, job->labels + (uint64_t)load_le32(row + 4 * i) * LABEL, LABEL);
    }
    if (job->previous) {
        memcpy(out + SDR_DEGREE * LABEL, out, SDR_DEGREE * LABEL);
        memcpy(out + 2 * SDR_DEGREE * LABEL, out, 9 * LABEL);
    } else {
        for (int copy = 1; copy < 6; copy++) memcpy(out + copy * SDR_BASE_DEGREE * LABEL, out, SDR_BASE_DEGREE * LABEL);
        memcpy(out + 36 * LABEL, out, LABEL);
    }
}

/* Asks the caches for the parents of `node` (a node of the next chunk, when no second thread gathers it): the
 * prefetches ride along with the hashing, so the gathering loop finds more of its reads in cache. */
static void prefetch_parents(const sdr_label_job *job, uint64_t node) {
    uint32_t parents[SDR_DEGREE];
    load_parents(job, node, parents);
    for (int i = 0; i < SDR_BASE_DEGREE; i++)
        if (parents[i] < node) __builtin_prefetch(job->labels + (uint64_t)parents[i] * LABEL);
    if (job->previous)
        for (int i = SDR_BASE_DEGREE; i < SDR_DEGREE; i++)
            if (parents[i] < job->nodes) __builtin_prefetch(job->previous + (uint64_t)parents[i] * LABEL);
}

static void label_chunk(sdr_label_job *job, uint64_t index, const gathered_chunk *chunk, uint8_t *message,
                        int prefetch_next) {
    const uint64_t first = index * CHUNK, end = first + CHUNK < job->nodes ? first + CHUNK : job->nodes;
    uint64_t node = first;
    if (node == 0) { /* node 0 has no parents: its message is the 64-byte prefix alone */
        uint8_t prefix_only[128] = {0};
        memcpy(prefix_only, message, 64);
        prefix_only[64] = 0x80;
        store_be(prefix_only + 120, 64 * 8, 8);
        job->hash(job->labels, prefix_only, 2);
        node = 1;
    }
    for (; node < end; node++) {
        if (prefetch_next && node + CHUNK < job->nodes) prefetch_parents(job, node + CHUNK);
        store_be(message + 36, node, 8);
        fill_message(job, node, chunk, message);
        job->hash(job->labels + node * LABEL, message, PADDED_BYTES / 64);
    }
}

static int cancelled(const sdr_label_job *job) { return job->cancel && __atomic_load_n(job->cancel, __ATOMIC_RELAXED); }

/* The gathering thread: chunk k once its ring slot is free, with the labels of the chunks already hashed. */
static void *gather_ahead(void *arg) {
    label_run *run = arg;
    for (uint64_t index = 0; index < run->chunks; index++) {
        pthread_mutex_lock(&run->lock);
        while (!run->stop && index >= run->labelled + RING) pthread_cond_wait(&run->changed, &run->lock);
        uint64_t known = run->labelled * CHUNK;
        int stop = run->stop;
        pthread_mutex_unlock(&run->lock);
        if (stop) break;
        int ok = gather_chunk(run->job, index, known, &run->ring[index % RING]);
        pthread_mutex_lock(&run->lock);
        if (ok) run->gathered = index + 1;
        else run->status = SDR_LABELS_CORRUPT_CACHE;
        pthread_cond_broadcast(&run->changed);
        pthread_mutex_unlock(&run->lock);
        if (!ok) break;
    }
    return NULL;
}

/* Waits for chunk `index` to be gathered; returns the gathering side's failure, if any. */
static int wait_gathered(label_run *run, uint64_t index) {
    pthread_mutex_lock(&run->lock);
    while (run->gathered <= index && run->status == SDR_LABELS_DONE) pthread_cond_wait(&run->changed, &run->lock);
    int status = run->gathered > index ? SDR_LABELS_DONE : run->status;
    pthread_mutex_unlock(&run->lock);
    return status;
}

static void finish_chunk(label_run *run, uint64_t index, int stop) {
    pthread_mutex_lock(&run->lock);
    run->labelled = index + 1;
    run->stop |= stop;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
}

int sdr_label_layer(sdr_label_job *job) {
    uint8_t message[PADDED_BYTES] __attribute__((aligned(64)));
    memset(message, 0, sizeof message);
    memcpy(message, job->replica_id, 32);
    store_be(message + 32, job->layer, 4);
    message[MESSAGE_BYTES] = 0x80;
    store_be(message + PADDED_BYTES - 8, MESSAGE_BYTES * 8, 8);

    label_run run = {.job = job, .chunks = (job->nodes + CHUNK - 1) / CHUNK, .status = SDR_LABELS_DONE};
    run.ring = aligned_alloc(64, sizeof(gathered_chunk) * RING);
    if (run.ring == NULL) return SDR_LABELS_NO_MEMORY;
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.changed, NULL);
    pthread_t helper;
    int helped = job->threads > 1 && pthread_create(&helper, NULL, gather_ahead, &run) == 0;

    int status = SDR_LABELS_DONE;
    for (uint64_t index = 0; index < run.chunks && status == SDR_LABELS_DONE; index++) {
        gathered_chunk *chunk = &run.ring[index % RING];
        if (cancelled(job)) {
            status = SDR_LABELS_CANCELLED;
        } else if (helped) {
            status = wait_gathered(&run, index);
        } else if (!gather_chunk(job, index, index * CHUNK, chunk)) {
            status = SDR_LABELS_CORRUPT_CACHE;
        }
        if (status == SDR_LABELS_DONE) label_chunk(job, index, chunk, message, !helped);
        finish_chunk(&run, index, status != SDR_LABELS_DONE);
    }
    if (helped) pthread_join(helper, NULL);
    pthread_cond_destroy(&run.changed);
    pthread_mutex_destroy(&run.lock);
    free(run.ring);
    return status;
}
