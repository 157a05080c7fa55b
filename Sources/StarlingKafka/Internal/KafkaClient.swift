#if Kafka
import CRdKafka
import Logging
import StarlingCore

/// What librdkafka's client-wide callbacks reach in Swift: the client's opaque (`rd_kafka_conf_set_opaque`).
final class KafkaClientContext: Sendable {
    let logger: Logger
    /// Called (on a librdkafka thread, or the thread serving the client's queue) with the reason of a fatal error:
    /// the client can do nothing more (an idempotent producer whose sequence broke, for example).
    let onFatalError: @Sendable (String) -> Void

    init(logger: Logger, onFatalError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.logger = logger
        self.onFatalError = onFatalError
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> KafkaClientContext? {
        opaque.map { Unmanaged<KafkaClientContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// One librdkafka client (`rd_kafka_t`): a producer, a consumer, or the client a mock cluster is hosted on.
///
/// librdkafka's clients are thread-safe; every blocking call on one is made from a dedicated thread
/// (``BlockingWorker``, or the producer's delivery thread), never from Swift's cooperative pool.
final class KafkaClient: @unchecked Sendable {
    // @unchecked: `handle` is immutable and librdkafka's client is safe to use from any thread; it is destroyed
    // once, by `destroy()`, after every user of it has stopped.
    let handle: OpaquePointer
    private let context: Unmanaged<KafkaClientContext>

    /// Creates a client with `properties` (librdkafka configuration names and values).
    ///
    /// - Parameter configure: Sets the callbacks on the configuration before the client is created.
    /// - Throws: ``EventLogError/configuration(_:)`` naming the property librdkafka refused.
    init(
        kind: rd_kafka_type_t,
        properties: [(String, String)],
        context: KafkaClientContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        guard let configuration = rd_kafka_conf_new() else {
            throw EventLogError.configuration("librdkafka could not allocate a configuration")
        }
        var message = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(configuration, name, value, &message, message.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(configuration)
                throw EventLogError.configuration(
                    "Kafka setting \(name)=\(value) was refused: \(Self.text(message))"
                )
            }
        }
        rd_kafka_conf_set_log_cb(configuration, kafkaLogCallback)
        rd_kafka_conf_set_error_cb(configuration, kafkaErrorCallback)
        let retained = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(configuration, retained.toOpaque())
        configure(configuration)
        // On success the client owns the configuration.
        guard let handle = rd_kafka_new(kind, configuration, &message, message.count) else {
            rd_kafka_conf_destroy(configuration)
            retained.release()
            throw EventLogError.configuration("librdkafka could not create a client: \(Self.text(message))")
        }
        self.handle = handle
        self.context = retained
    }

    /// Destroys the client; blocks until its threads have stopped. Call once, after every user has stopped.
    ///
    /// A consumer is destroyed without `rd_kafka_consumer_close`, which waits without end for a group coordinator
    /// that is down: Starling's consumers are assigned their partitions, so there is no group to leave, and they
    /// commit only explicitly.
    func destroy() {
        rd_kafka_destroy_flags(self.handle, Int32(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE))
        self.context.release()
    }

    static func text(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// librdkafka's description of an error code, with its name: "Local: Message timed out (_MSG_TIMED_OUT)".
    static func describe(_ error: rd_kafka_resp_err_t) -> String {
        "\(String(cString: rd_kafka_err2str(error))) (\(String(cString: rd_kafka_err2name(error))))"
    }

    /// The description of an `rd_kafka_error_t`, which this destroys.
    static func consume(_ error: OpaquePointer) -> (code: rd_kafka_resp_err_t, message: String) {
        defer { rd_kafka_error_destroy(error) }
        return (rd_kafka_error_code(error), String(cString: rd_kafka_error_string(error)))
    }
}

/// librdkafka's log lines, on swift-log: syslog levels 0–4 as warnings (a broker down, a refused connection), 5–6
/// as info and 7 as debug.
private let kafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    client, level, facility, message in
    guard let client, let context = KafkaClientContext.from(rd_kafka_opaque(client)) else { return }
    let swiftLevel: Logger.Level =
        switch level {
        case ...4: .warning
        case 5, 6: .info
        default: .debug
        }
    context.logger.log(
        level: swiftLevel,
        "\(message.map { String(cString: $0) } ?? "")",
        metadata: [
            "starling.kafka.facility": "\(facility.map { String(cString: $0) } ?? "")",
            "starling.kafka.client": "\(String(cString: rd_kafka_name(client)))",
        ]
    )
}

/// librdkafka's client errors. Most pass by themselves (a broker down: librdkafka reconnects and retries, and what
/// it cannot deliver in time fails the records' delivery); a fatal one ends the client.
private let kafkaErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    client, code, reason, opaque in
    guard let context = KafkaClientContext.from(opaque) else { return }
    let reasonText = reason.map { String(cString: $0) } ?? ""
    if rd_kafka_resp_err_t(code) == RD_KAFKA_RESP_ERR__FATAL, let client {
        var message = [CChar](repeating: 0, count: 512)
        let underlying = rd_kafka_fatal_error(client, &message, message.count)
        let text = "\(KafkaClient.text(message)) (\(String(cString: rd_kafka_err2name(underlying))))"
        context.logger.error("Kafka client failed fatally", metadata: ["starling.kafka.error": "\(text)"])
        context.onFatalError(text)
        return
    }
    context.logger.warning(
        "Kafka client error",
        metadata: [
            "starling.kafka.error": "\(reasonText)",
            "starling.kafka.code": "\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(code))))",
        ]
    )
}
#endif
