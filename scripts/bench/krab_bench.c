/*
 * krab_bench: a small librdkafka client used by scripts/bench.sh.
 *
 *   krab_bench produce -b HOST:PORT -t TOPIC [-n N] [-s SIZE] [-a ACKS] [-l LINGER_MS]
 *   krab_bench txn     -b HOST:PORT -t TOPIC [-n N] [-s SIZE] [-x TXN_RECORDS] [-l LINGER_MS]
 *                      (-x 0: idempotent, acks=all, no transactions: the baseline)
 *   krab_bench consume -b HOST:PORT -t TOPIC [-n N]
 *   krab_bench latency -b HOST:PORT -t TOPIC [-n N] [-w WARMUP] [-i INTERVAL_US]
 *                      [-s SIZE] [-a ACKS] [-f FETCH_WAIT_MS]
 *
 * Each mode prints human-readable progress on stderr and exactly one line
 *   RESULT <mode> key=value ...
 * on stdout. Exit status is non-zero if anything went wrong (failed delivery
 * reports, consume errors, missing or out-of-order records, timeouts).
 *
 * Environment: KRAB_BENCH_CONF="key=value;key=value" sets extra librdkafka properties on
 * every client (e.g. security.protocol=SASL_SSL;sasl.mechanisms=SCRAM-SHA-256;...).
 *
 * Build: gcc -O2 -Wall -o krab_bench krab_bench.c -lrdkafka -lpthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

/* ------------------------------------------------------------------ helpers */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "krab_bench: FATAL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("config %s=%s: %s", k, v, err);
}

/* Client-level errors (connection refused, broker transport failure, ...). */
static volatile long g_client_errors = 0;
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk; (void)opaque;
    __sync_fetch_and_add(&g_client_errors, 1);
    fprintf(stderr, "krab_bench: client error: %s: %s\n",
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    fprintf(stderr, "krab_bench: rdkafka log %d %s: %s\n", level, fac, buf);
}

static rd_kafka_conf_t *base_conf(const char *brokers) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "client.id", "krab_bench");
    set(conf, "api.version.request", "true");
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    const char *dbg = getenv("KRAB_BENCH_DEBUG");  /* e.g. "broker,protocol,fetch" */
    if (dbg && *dbg) set(conf, "debug", dbg);
    /* Extra properties, "key=value;key=value", e.g. security.protocol=SASL_SSL;... */
    const char *extra = getenv("KRAB_BENCH_CONF");
    if (extra && *extra) {
        char *copy = strdup(extra), *save = NULL;
        for (char *kv = strtok_r(copy, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq || eq == kv) die("KRAB_BENCH_CONF: expected key=value, got '%s'", kv);
            *eq = '\0';
            set(conf, kv, eq + 1);
        }
        free(copy);
    }
    return conf;
}

/* Number of partitions of `topic` (waits for the topic to be known). */
static int partition_count(rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
    int64_t deadline = now_ns() + 10LL * 1000000000LL;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int n = -1;
            if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                n = md->topics[0].partition_cnt;
            rd_kafka_resp_err_t terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
            rd_kafka_metadata_destroy(md);
            if (n > 0) return n;
            if (now_ns() > deadline)
                die("metadata for topic %s: %s", rd_kafka_topic_name(rkt), rd_kafka_err2name(terr));
        } else if (now_ns() > deadline) {
            die("metadata request failed: %s", rd_kafka_err2str(err));
        }
        usleep(100000);
    }
}

/* Nearest-rank percentile (p in 0..100] of a sorted array, in ms. */
static double pct_ms(const int64_t *v, long n, double p) {
    if (n <= 0) return -1.0;
    long rank = (long)((p / 100.0) * n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1] / 1e6;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ options */

struct opts {
    const char *mode, *brokers, *topic;
    long n, size, warmup, interval_us, linger_ms, fetch_wait_ms, timeout_s, txn_records;
    const char *acks;
    int64_t start_offset; /* consume/latency: an offset, or RD_KAFKA_OFFSET_BEGINNING */
};

static void usage(void) {
    fprintf(stderr,
            "usage: krab_bench produce|consume|latency -b HOST:PORT -t TOPIC [-n N] [-s SIZE]\n"
            "       [-a ACKS] [-l LINGER_MS] [-w WARMUP] [-i INTERVAL_US] [-f FETCH_WAIT_MS]\n"
            "       [-T TIMEOUT_S] [-o START_OFFSET|beginning]\n"
            "  -o: where consume/latency start; default 0 (the bench topics are fresh), 'beginning'\n"
            "      uses OFFSET_BEGINNING (a ListOffsets request first)\n");
    exit(2);
}

/* ------------------------------------------------------------------ produce */

static volatile long g_dr_ok = 0, g_dr_fail = 0;
static rd_kafka_resp_err_t g_first_dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) {
        if (g_dr_fail++ < 5)
            fprintf(stderr, "krab_bench: delivery failed: %s\n", rd_kafka_err2str(m->err));
        if (!g_first_dr_err) g_first_dr_err = m->err;
    } else {
        g_dr_ok++;
    }
}

static int do_produce(const struct opts *o) {
    char buf[64];
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    set(conf, "acks", o->acks);
    snprintf(buf, sizeof buf, "%ld", o->linger_ms);
    set(conf, "linger.ms", buf);
    set(conf, "batch.size", "1000000");
    set(conf, "batch.num.messages", "1000000");
    set(conf, "queue.buffering.max.messages", "10000000");
    set(conf, "queue.buffering.max.kbytes", "2097151");
    set(conf, "compression.codec", "none");
    set(conf, "enable.idempotence", "false");
    set(conf, "message.timeout.ms", "120000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);

    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int parts = partition_count(rk, rkt);  /* connect + metadata before the clock starts */

    /* One static payload (no copy): a non-trivial byte pattern. */
    char *payload = malloc(o->size);
    for (long i = 0; i < o->size; i++) payload[i] = (char)('a' + (i * 7 + i / 26) % 26);

    fprintf(stderr, "krab_bench: producing %ld x %ld B to %s (%d partitions), acks=%s linger.ms=%ld\n",
            o->n, o->size, o->topic, parts, o->acks, o->linger_ms);
    long queue_full = 0;
    int64_t t0 = now_ns();
    for (long i = 0; i < o->n; i++) {
        while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, payload, (size_t)o->size,
                                NULL, 0, NULL) == -1) {
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
            queue_full++;
            rd_kafka_poll(rk, 1);
        }
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    int64_t t_enq = now_ns();
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    int64_t t1 = now_ns();
    rd_kafka_poll(rk, 0);

    double secs = (t1 - t0) / 1e9;
    double rps = o->n / secs, mbps = (double)o->n * o->size / secs / 1e6;
    fprintf(stderr, "krab_bench: enqueue took %.3f s, flush %.3f s, queue-full retries %ld\n",
            (t_enq - t0) / 1e9, (t1 - t_enq) / 1e9, queue_full);
    int ok = ferr == RD_KAFKA_RESP_ERR_NO_ERROR && g_dr_fail == 0 && g_dr_ok == o->n;
    printf("RESULT produce acks=%s partitions=%d records=%ld size=%ld secs=%.3f rps=%.0f mbps=%.1f "
           "delivered=%ld failed=%ld flush=%s client_errors=%ld\n",
           o->acks, parts, o->n, o->size, secs, rps, mbps, g_dr_ok, g_dr_fail,
           rd_kafka_err2name(ferr), g_client_errors);
    fflush(stdout);
    if (!ok) {
        fprintf(stderr, "krab_bench: PRODUCE FAILED: %ld ok, %ld failed (first: %s), flush: %s\n",
                g_dr_ok, g_dr_fail, rd_kafka_err2name(g_first_dr_err), rd_kafka_err2name(ferr));
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ txn */

static void txn_check(rd_kafka_error_t *e, const char *what) {
    if (e) die("%s: %s", what, rd_kafka_error_string(e));
}

/* N records in transactions of txn_records each (begin, produce, commit), or
 * with txn_records 0 idempotently (acks=all) without transactions. Reports
 * records/s and each commit's latency (commit_transaction's duration). */
static int do_txn(const struct opts *o) {
    char buf[64];
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    snprintf(buf, sizeof buf, "%ld", o->linger_ms);
    set(conf, "linger.ms", buf);
    set(conf, "batch.size", "1000000");
    set(conf, "batch.num.messages", "1000000");
    set(conf, "queue.buffering.max.messages", "10000000");
    set(conf, "queue.buffering.max.kbytes", "2097151");
    set(conf, "compression.codec", "none");
    set(conf, "enable.idempotence", "true");
    if (o->txn_records > 0) {
        snprintf(buf, sizeof buf, "krab-bench-%d", (int)getpid());
        set(conf, "transactional.id", buf);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int parts = partition_count(rk, rkt);
    if (o->txn_records > 0) txn_check(rd_kafka_init_transactions(rk, 30000), "init_transactions");
    char *payload = malloc(o->size);
    for (long i = 0; i < o->size; i++) payload[i] = (char)('a' + (i * 7 + i / 26) % 26);
    long txns = o->txn_records > 0 ? (o->n + o->txn_records - 1) / o->txn_records : 0;
    int64_t *commit_ns = calloc(txns > 0 ? txns : 1, sizeof *commit_ns);
    fprintf(stderr, "krab_bench: %ld x %ld B to %s (%d partitions), %s\n", o->n, o->size, o->topic, parts,
            o->txn_records > 0 ? "transactional" : "idempotent");
    int64_t t0 = now_ns();
    long sent = 0, t = 0;
    while (sent < o->n) {
        long batch = o->txn_records > 0 ? o->txn_records : o->n;
        if (batch > o->n - sent) batch = o->n - sent;
        if (o->txn_records > 0) txn_check(rd_kafka_begin_transaction(rk), "begin_transaction");
        for (long i = 0; i < batch; i++) {
            while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, payload, (size_t)o->size, NULL, 0, NULL) == -1) {
                rd_kafka_resp_err_t e = rd_kafka_last_error();
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
                rd_kafka_poll(rk, 1);
            }
            if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
        }
        sent += batch;
        if (o->txn_records > 0) {
            int64_t c0 = now_ns();
            txn_check(rd_kafka_commit_transaction(rk, 60000), "commit_transaction");
            commit_ns[t++] = now_ns() - c0;
        }
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    int64_t t1 = now_ns();
    rd_kafka_poll(rk, 0);
    double secs = (t1 - t0) / 1e9;
    double p50 = 0, p99 = 0;
    if (t > 0) {
        qsort(commit_ns, t, sizeof *commit_ns, cmp_i64);
        p50 = commit_ns[t / 2] / 1e6;
        p99 = commit_ns[(t * 99) / 100 < t ? (t * 99) / 100 : t - 1] / 1e6;
    }
    int ok = ferr == RD_KAFKA_RESP_ERR_NO_ERROR && g_dr_fail == 0 && g_dr_ok == o->n;
    printf("RESULT txn txn_records=%ld partitions=%d records=%ld size=%ld secs=%.3f rps=%.0f mbps=%.1f "
           "transactions=%ld commit_p50_ms=%.3f commit_p99_ms=%.3f delivered=%ld failed=%ld\n",
           o->txn_records, parts, o->n, o->size, secs, o->n / secs, (double)o->n * o->size / secs / 1e6,
           t, p50, p99, g_dr_ok, g_dr_fail);
    fflush(stdout);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    free(commit_ns);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ consume */

static int do_consume(const struct opts *o) {
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    set(conf, "group.id", "krab_bench");  /* unused: legacy consumer, no commits */
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "enable.partition.eof", "false");
    set(conf, "fetch.max.bytes", "52428800");
    set(conf, "max.partition.fetch.bytes", "8388608");
    set(conf, "queued.min.messages", "1000000");
    set(conf, "queued.max.messages.kbytes", "1048576");
    set(conf, "fetch.wait.max.ms", "100");

    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int parts = partition_count(rk, rkt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int64_t *next = calloc(parts, sizeof *next);

    fprintf(stderr, "krab_bench: consuming %ld records from %s (%d partitions) from offset %s\n",
            o->n, o->topic, parts, o->start_offset == RD_KAFKA_OFFSET_BEGINNING ? "BEGINNING" : "0");
    int64_t t0 = now_ns(), t_first = 0;
    for (int p = 0; p < parts; p++)
        if (rd_kafka_consume_start_queue(rkt, p, o->start_offset, q) == -1)
            die("consume_start partition %d: %s", p, rd_kafka_err2str(rd_kafka_last_error()));

    long got = 0, errors = 0, gaps = 0, badsize = 0;
    /* give up after timeout_s without any new record */
    int64_t bytes = 0, last_progress = t0;
    rd_kafka_message_t *batch[4096];
    while (got < o->n) {
        ssize_t k = rd_kafka_consume_batch_queue(q, 200, batch, 4096);
        if (k < 0) die("consume_batch_queue: %s", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t j = 0; j < k; j++) {
            rd_kafka_message_t *m = batch[j];
            if (m->err) {
                if (errors++ < 5)
                    fprintf(stderr, "krab_bench: consume error [%d]: %s\n", m->partition,
                            rd_kafka_message_errstr(m));
            } else {
                if (!t_first) t_first = now_ns();
                if (m->offset != next[m->partition]) {
                    if (gaps++ < 5)
                        fprintf(stderr, "krab_bench: partition %d: expected offset %" PRId64 ", got %" PRId64 "\n",
                                m->partition, next[m->partition], m->offset);
                }
                next[m->partition] = m->offset + 1;
                if (o->size > 0 && (long)m->len != o->size) badsize++;
                bytes += m->len;
                got++;
                last_progress = now_ns();
            }
            rd_kafka_message_destroy(m);
        }
        if (now_ns() - last_progress > o->timeout_s * 1000000000LL) {
            fprintf(stderr, "krab_bench: consume: no record for %ld s, giving up with %ld/%ld records\n",
                    o->timeout_s, got, o->n);
            break;
        }
    }
    int64_t t1 = now_ns();
    double secs = (t1 - t0) / 1e9;
    double secs_first = t_first ? (t1 - t_first) / 1e9 : 0;
    printf("RESULT consume partitions=%d records=%ld secs=%.3f rps=%.0f mbps=%.1f "
           "first_record_ms=%.1f rps_after_first=%.0f errors=%ld offset_gaps=%ld bad_size=%ld client_errors=%ld\n",
           parts, got, secs, got / secs, bytes / secs / 1e6,
           t_first ? (t_first - t0) / 1e6 : -1.0, secs_first > 0 ? got / secs_first : 0.0,
           errors, gaps, badsize, g_client_errors);
    fflush(stdout);
    for (int p = 0; p < parts; p++) rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(next);
    return (got >= o->n && errors == 0 && gaps == 0 && badsize == 0) ? 0 : 1;
}

/* ------------------------------------------------------------------ latency */

struct lat_state {
    const struct opts *o;
    rd_kafka_t *prk;
    rd_kafka_topic_t *prkt;
    volatile int consumer_ready, stop;
    volatile long produce_errors;
};

/* Payload layout: [0..8) send time (ns, CLOCK_MONOTONIC), [8..16) sequence number, rest filler. */
static void *lat_producer(void *arg) {
    struct lat_state *st = arg;
    const struct opts *o = st->o;
    long total = o->warmup + o->n;
    size_t size = o->size < 16 ? 16 : (size_t)o->size;
    char *payload = malloc(size);
    memset(payload, 'x', size);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long seq = 0; seq < total && !st->stop; seq++) {
        int64_t ts = now_ns();
        int64_t s = seq;
        memcpy(payload, &ts, 8);
        memcpy(payload + 8, &s, 8);
        while (rd_kafka_produce(st->prkt, 0, RD_KAFKA_MSG_F_COPY, payload, size, NULL, 0, NULL) == -1) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("latency produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(st->prk, 1);
        }
        rd_kafka_poll(st->prk, 0);
        next.tv_nsec += o->interval_us * 1000;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
    }
    free(payload);
    return NULL;
}

static int do_latency(const struct opts *o) {
    char buf[64], err[512];
    struct lat_state st = {.o = o};

    /* producer: no linger, send each message at once */
    rd_kafka_conf_t *pconf = base_conf(o->brokers);
    set(pconf, "acks", o->acks);
    set(pconf, "linger.ms", "0");
    set(pconf, "compression.codec", "none");
    set(pconf, "enable.idempotence", "false");
    rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
    st.prk = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
    if (!st.prk) die("rd_kafka_new(producer): %s", err);
    st.prkt = rd_kafka_topic_new(st.prk, o->topic, NULL);
    int parts = partition_count(st.prk, st.prkt);

    /* consumer: short fetch wait, min bytes 1, partition 0 from the beginning of a fresh topic */
    rd_kafka_conf_t *cconf = base_conf(o->brokers);
    set(cconf, "group.id", "krab_bench_latency");
    set(cconf, "enable.auto.commit", "false");
    set(cconf, "enable.auto.offset.store", "false");
    set(cconf, "enable.partition.eof", "false");
    set(cconf, "fetch.min.bytes", "1");
    snprintf(buf, sizeof buf, "%ld", o->fetch_wait_ms);
    set(cconf, "fetch.wait.max.ms", buf);
    rd_kafka_t *crk = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
    if (!crk) die("rd_kafka_new(consumer): %s", err);
    rd_kafka_topic_t *crkt = rd_kafka_topic_new(crk, o->topic, NULL);
    partition_count(crk, crkt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(crk);
    if (rd_kafka_consume_start_queue(crkt, 0, o->start_offset, q) == -1)
        die("consume_start: %s", rd_kafka_err2str(rd_kafka_last_error()));

    fprintf(stderr, "krab_bench: latency on %s partition 0 (%d partitions): %ld warm-up + %ld measured, "
            "every %ld us, %ld B, acks=%s, fetch.wait.max.ms=%ld\n",
            o->topic, parts, o->warmup, o->n, o->interval_us, o->size, o->acks, o->fetch_wait_ms);

    pthread_t th;
    pthread_create(&th, NULL, lat_producer, &st);

    long total = o->warmup + o->n, got = 0, measured = 0, errors = 0, dup_or_order = 0;
    int64_t *lat = calloc(o->n, sizeof *lat);
    int64_t expect = 0;
    int64_t deadline = now_ns() + (int64_t)(total * o->interval_us) * 1000LL + o->timeout_s * 1000000000LL;
    while (got < total) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
        int64_t t = now_ns();
        if (m) {
            if (m->err) {
                if (errors++ < 5) fprintf(stderr, "krab_bench: consume error: %s\n", rd_kafka_message_errstr(m));
            } else if (m->len >= 16) {
                int64_t ts, seq;
                memcpy(&ts, m->payload, 8);
                memcpy(&seq, (const char *)m->payload + 8, 8);
                if (seq != expect) dup_or_order++;
                expect = seq + 1;
                if (seq >= o->warmup && seq < total && measured < o->n) lat[measured++] = t - ts;
                got++;
            }
            rd_kafka_message_destroy(m);
        }
        if (t > deadline) {
            fprintf(stderr, "krab_bench: latency timed out with %ld/%ld messages\n", got, total);
            break;
        }
    }
    st.stop = 1;
    pthread_join(th, NULL);
    rd_kafka_flush(st.prk, 10000);
    rd_kafka_poll(st.prk, 0);

    qsort(lat, measured, sizeof *lat, cmp_i64);
    double sum = 0;
    for (long i = 0; i < measured; i++) sum += lat[i];
    printf("RESULT latency acks=%s partitions=%d messages=%ld interval_us=%ld fetch_wait_ms=%ld "
           "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f min_ms=%.3f "
           "errors=%ld out_of_order=%ld dr_failed=%ld client_errors=%ld\n",
           o->acks, parts, measured, o->interval_us, o->fetch_wait_ms,
           pct_ms(lat, measured, 50), pct_ms(lat, measured, 90), pct_ms(lat, measured, 99),
           pct_ms(lat, measured, 99.9), measured ? lat[measured - 1] / 1e6 : -1.0,
           measured ? sum / measured / 1e6 : -1.0, measured ? lat[0] / 1e6 : -1.0,
           errors, dup_or_order, g_dr_fail, g_client_errors);
    fflush(stdout);

    rd_kafka_consume_stop(crkt, 0);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(crkt);
    rd_kafka_destroy(crk);
    rd_kafka_topic_destroy(st.prkt);
    rd_kafka_destroy(st.prk);
    free(lat);
    return (measured == o->n && errors == 0 && dup_or_order == 0 && g_dr_fail == 0) ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    struct opts o = {.n = 1000000, .size = 100, .acks = "1", .warmup = 1000, .interval_us = 1000,
                     .linger_ms = 5, .fetch_wait_ms = 5, .timeout_s = 60, .start_offset = 0};
    if (argc < 2) usage();
    o.mode = argv[1];
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "b:t:n:s:a:w:i:l:f:T:o:x:")) != -1) {
        switch (c) {
        case 'b': o.brokers = optarg; break;
        case 't': o.topic = optarg; break;
        case 'n': o.n = atol(optarg); break;
        case 's': o.size = atol(optarg); break;
        case 'a': o.acks = optarg; break;
        case 'w': o.warmup = atol(optarg); break;
        case 'i': o.interval_us = atol(optarg); break;
        case 'l': o.linger_ms = atol(optarg); break;
        case 'f': o.fetch_wait_ms = atol(optarg); break;
        case 'T': o.timeout_s = atol(optarg); break;
        case 'x': o.txn_records = atol(optarg); break;
        case 'o': o.start_offset = strcmp(optarg, "beginning") ? atoll(optarg) : RD_KAFKA_OFFSET_BEGINNING; break;
        default: usage();
        }
    }
    if (!o.brokers || !o.topic || o.n <= 0) usage();
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.mode, "produce")) return do_produce(&o);
    if (!strcmp(o.mode, "consume")) return do_consume(&o);
    if (!strcmp(o.mode, "txn")) return do_txn(&o);
    if (!strcmp(o.mode, "latency")) return do_latency(&o);
    usage();
}
