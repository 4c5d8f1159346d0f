import Foundation

/// A canary: a candidate version served to a sticky, hash-assigned share of users while the promoted
/// version serves the rest, until the users' realised session watch time decides it.
///
/// The test (`decide`) is a one-sided two-sample z-test (Welch's standard error) on the mean watch time
/// per session, at a fixed horizon: once each arm has `sessions` sessions, the candidate is promoted if
/// z >= the (1 - `falsePromotionRate`) normal quantile, else rolled back. At any look before that (from
/// `earlyLookSessions` sessions in each arm) a candidate with z <= -`harmZ` is rolled back at once: a
/// clearly worse candidate stops early, and since that only ever rolls back, the false-promotion rate
/// (a candidate no better than the control promoted) stays at `falsePromotionRate` or below, as far as
/// the normal approximation of the mean holds (well for the hundreds of sessions an arm that a decision
/// takes; `CanaryTests` measures it). A canary still short of its sessions after `maxHours` is rolled
/// back, undecided.
public struct Canary: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        case running, promoted, rolledBack = "rolled-back", stopped
    }

    public struct Settings: Sendable, Codable, Equatable {
        /// Share of users served by the candidate (by a hash of the user and the canary's id).
        public var share = 0.05
        /// Sessions each arm needs before the decision.
        public var sessions = 2_000
        /// Hours before an undecided canary is rolled back.
        public var maxHours = 24.0
        /// The chance of promoting a candidate that is no better than the control.
        public var falsePromotionRate = 0.05
        /// A look before the horizon rolls back at z <= -harmZ ...
        public var harmZ = 3.0
        /// ... once each arm has this many sessions.
        public var earlyLookSessions = 200
        public init() {}

        /// Why these settings cannot run a canary; nil when they can.
        public var problem: String? {
            if !(share > 0 && share < 1) { return "share must be in (0, 1), got \(share)" }
            if sessions < 2 { return "sessions must be at least 2, got \(sessions)" }
            if !(maxHours > 0) { return "maxHours must be positive, got \(maxHours)" }
            if !(falsePromotionRate > 0 && falsePromotionRate < 0.5) { return "falsePromotionRate must be in (0, 0.5), got \(falsePromotionRate)" }
            if !(harmZ > 0) || earlyLookSessions < 2 { return "harmZ must be positive and earlyLookSessions at least 2" }
            return nil
        }
    }

    /// An arm's sessions: count, mean and standard deviation of watch time per session (seconds).
    public struct Arm: Sendable, Codable, Equatable {
        public var sessions: UInt64
        public var meanWatch: Double
        public var deviation: Double
        public init(_ outcome: SessionOutcomes) {
            (sessions, meanWatch, deviation) = (outcome.sessions, outcome.watchPerSession, outcome.watchDeviation)
        }
    }

    /// What a look found: both arms, the difference in mean watch (candidate - control) with its 95%
    /// interval, and z.
    public struct Evidence: Sendable, Codable, Equatable {
        public var control: Arm
        public var candidate: Arm
        public var difference: Double
        public var interval: [Double]
        public var z: Double
        public var at: Double
    }

    public let id: UInt32
    public let candidate: UInt32
    /// The version serving everyone else when the canary started (the control may move on as the trainer
    /// publishes; the control arm is whatever serves the other users).
    public let controlAtStart: UInt32?
    public let settings: Settings
    public let startedAt: Double
    public var state: State = .running
    /// The latest look's evidence, and when decided, the reason.
    public var evidence: Evidence?
    public var reason: String?
    public var decidedAt: Double?

    public init(id: UInt32, candidate: UInt32, controlAtStart: UInt32?, settings: Settings, startedAt: Double) {
        (self.id, self.candidate, self.controlAtStart, self.settings, self.startedAt) = (id, candidate, controlAtStart, settings, startedAt)
    }

    /// Whether `user` is in the candidate's arm: sticky for this canary, independent between canaries.
    public func servesCandidate(user: UInt64) -> Bool {
        var h = user &+ UInt64(id) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        return Double(h >> 11) / Double(1 << 53) < settings.share
    }

    /// A look at the arms' outcomes at `now` (seconds since 1970): records the evidence and, if the test
    /// decides, the state (promoted or rolled back) and its reason. Returns the new state.
    @discardableResult
    public mutating func decide(control: SessionOutcomes, candidate arm: SessionOutcomes, now: Double) -> State {
        precondition(state == .running, "only a running canary is decided")
        let (c, k) = (Arm(control), Arm(arm))
        let se = (c.deviation * c.deviation / Double(max(c.sessions, 1)) + k.deviation * k.deviation / Double(max(k.sessions, 1))).squareRoot()
        let difference = k.meanWatch - c.meanWatch
        let z = se > 0 ? difference / se : 0
        evidence = Evidence(control: c, candidate: k, difference: difference, interval: [difference - 1.959964 * se, difference + 1.959964 * se],
                            z: z, at: now)
        let threshold = Self.normalQuantile(1 - settings.falsePromotionRate)
        let fewest = min(c.sessions, k.sessions)
        if fewest >= UInt64(settings.sessions) {
            finish(z >= threshold ? .promoted : .rolledBack, at: now, reason: z >= threshold
                ? String(format: "promoted: watch per session %+.2f s (95%% interval %+.2f to %+.2f), z %.2f >= %.2f", difference, difference - 1.959964 * se, difference + 1.959964 * se, z, threshold)
                : String(format: "rolled back: not better, watch per session %+.2f s (95%% interval %+.2f to %+.2f), z %.2f < %.2f", difference, difference - 1.959964 * se, difference + 1.959964 * se, z, threshold))
        } else if fewest >= UInt64(settings.earlyLookSessions), z <= -settings.harmZ {
            finish(.rolledBack, at: now, reason: String(format: "rolled back early: clearly worse, watch per session %+.2f s, z %.2f <= -%.2f", difference, z, settings.harmZ))
        } else if now - startedAt >= settings.maxHours * 3600 {
            finish(.rolledBack, at: now, reason: "rolled back: undecided after \(settings.maxHours) h (\(k.sessions) candidate and \(c.sessions) control sessions of \(settings.sessions))")
        }
        return state
    }

    /// Ends the canary by an operator's hand: the candidate stops serving, the control goes on.
    public mutating func stop(at now: Double, reason: String) {
        finish(.stopped, at: now, reason: reason)
    }

    private mutating func finish(_ state: State, at now: Double, reason: String) {
        (self.state, self.reason, decidedAt) = (state, reason, now)
    }

    /// The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9).
    static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "a quantile needs 0 < p < 1")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = (-2 * Foundation.log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low { return -normalQuantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
}
