import Logging
import ServiceLifecycle

/// Sends WATCHDOG=1 to systemd at half the interval it asked for, from a live task, so a hung daemon
/// is restarted; sends STOPPING=1 when graceful shutdown begins.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration?
    let logger: Logger

    public init(notifier: SystemdNotifier, interval: Duration?, logger: Logger) {
        self.notifier = notifier
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            guard let interval else {
                try? await gracefulShutdown()
                return
            }
            logger.info("systemd watchdog active", metadata: ["interval": "\(interval)"])
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                notifier.notify("WATCHDOG=1")
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        } onGracefulShutdown: {
            notifier.notify("STOPPING=1")
        }
    }
}
