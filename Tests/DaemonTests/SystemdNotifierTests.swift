import Foundation
import Glibc
import OneRecDaemon
import TestSupport
import Testing

@Suite struct SystemdNotifierTests {
    @Test func statesArriveAsDatagrams() {
        let systemd = FakeSystemd()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": systemd.path])
        #expect(notifier.isActive)
        #expect(notifier.notify("READY=1") == 0)
        #expect(systemd.receive() == "READY=1")
        #expect(notifier.notify("STOPPING=1") == 0)
        #expect(systemd.receive() == "STOPPING=1")
    }

    @Test func withoutSystemdNothingIsSent() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isActive)
        #expect(notifier.notify("READY=1") == 0)
    }

    @Test func aVanishedSocketIsReportedNotThrown() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        #expect(notifier.notify("READY=1") == ENOENT)
    }

    @Test func watchdogIntervalIsHalfOfWhatSystemdAsks() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "10000000"]) == .seconds(5))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"], pid: 2) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
    }
}
