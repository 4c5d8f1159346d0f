import Logging
import Synchronization

/// The daemon's log level, consulted by every log handler on every message, so a config reload changes
/// it for loggers that already exist.
public final class SharedLogLevel: Sendable {
    private let raw: Atomic<Int>
    public init(_ level: Logger.Level) { raw = Atomic(Logger.Level.allCases.firstIndex(of: level)!) }
    public var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Logger.Level.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }
}

/// A stream handler whose level is the shared one, unless a logger sets its own.
public struct SharedLevelLogHandler: LogHandler {
    var inner: StreamLogHandler
    let shared: SharedLogLevel
    private var own: Logger.Level?

    public init(label: String, shared: SharedLogLevel) {
        inner = StreamLogHandler.standardError(label: label)
        inner.logLevel = .trace  // filtering happens here
        self.shared = shared
    }

    public var logLevel: Logger.Level {
        get { own ?? shared.level }
        set { own = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) { inner.log(event: event) }
}
