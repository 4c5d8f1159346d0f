import Dispatch
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// SIGHUP (systemd's ExecReload) reads the settings again and applies what can change while running:
/// `log.level`, `serving.beam`, `alignment.*`. A setting that needs a restart is named in a warning and
/// left as it was; an invalid configuration is refused as a whole and logged, and nothing changes.
public final class ConfigReload: Service, Sendable {
    let read: @Sendable () async throws -> DaemonSettings
    /// Applies new settings over the running ones; returns the keys it changed and those that need a restart.
    let apply: @Sendable (_ running: DaemonSettings, _ new: DaemonSettings) -> (changed: [String], needRestart: [String])
    let logger: Logger
    private let running: Mutex<DaemonSettings>

    public init(running: DaemonSettings, read: @escaping @Sendable () async throws -> DaemonSettings,
                apply: @escaping @Sendable (DaemonSettings, DaemonSettings) -> (changed: [String], needRestart: [String]), logger: Logger) {
        (self.read, self.apply, self.logger) = (read, apply, logger)
        self.running = Mutex(running)
    }

    public func run() async throws {
        signal(SIGHUP, SIG_IGN)  // delivered to the dispatch source below instead of ending the process
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let (hangups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel() }
        await cancelWhenGracefulShutdown {
            for await _ in hangups { await self.reload() }
        }
    }

    func reload() async {
        do {
            let settings = try await read()
            try settings.validate()
            let (changed, needRestart) = running.withLock { old in
                defer { old = settings }
                return apply(old, settings)
            }
            logger.notice("configuration reloaded", metadata: ["changed": "\(changed)", "needRestart": "\(needRestart)"])
            if !needRestart.isEmpty {
                logger.warning("some changed settings take effect only after a restart", metadata: ["keys": "\(needRestart)"])
            }
        } catch {
            logger.error("configuration reload refused; the running settings stay", metadata: ["reason": "\(error)"])
        }
    }
}
