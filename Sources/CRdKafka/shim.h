// librdkafka for Swift: its client API (rdkafka.h), its mock cluster (rdkafka_mock.h, for tests and for hosting a
// cluster on loopback), and helpers for the calls Swift cannot make directly (C variadic functions and the tagged
// unions of rd_kafka_produceva).
#ifndef STARLING_CRDKAFKA_SHIM_H
#define STARLING_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// Enqueues one message on `rkt`, partitioned by `key` with the producer's partitioner, with a copy of `key` and
/// `payload`, CreateTime `timestamp_ms` and `opaque` handed back in its delivery report. Never blocks: a full queue
/// is reported as RD_KAFKA_RESP_ERR__QUEUE_FULL. Returns NULL when the message was enqueued, else an error the
/// caller must destroy.
static inline rd_kafka_error_t *starling_rd_kafka_produce(rd_kafka_t *rk,
                                                          rd_kafka_topic_t *rkt,
                                                          const void *key,
                                                          size_t key_size,
                                                          const void *payload,
                                                          size_t payload_size,
                                                          int64_t timestamp_ms,
                                                          void *opaque) {
        rd_kafka_vu_t vus[6];
        vus[0].vtype      = RD_KAFKA_VTYPE_RKT;
        vus[0].u.rkt      = rkt;
        vus[1].vtype      = RD_KAFKA_VTYPE_KEY;
        vus[1].u.mem.ptr  = (void *)key;
        vus[1].u.mem.size = key_size;
        vus[2].vtype      = RD_KAFKA_VTYPE_VALUE;
        vus[2].u.mem.ptr  = (void *)payload;
        vus[2].u.mem.size = payload_size;
        vus[3].vtype      = RD_KAFKA_VTYPE_MSGFLAGS;
        vus[3].u.i        = RD_KAFKA_MSG_F_COPY;
        vus[4].vtype      = RD_KAFKA_VTYPE_TIMESTAMP;
        vus[4].u.i64      = timestamp_ms;
        vus[5].vtype      = RD_KAFKA_VTYPE_OPAQUE;
        vus[5].u.ptr      = opaque;
        return rd_kafka_produceva(rk, vus, 6);
}

#endif
