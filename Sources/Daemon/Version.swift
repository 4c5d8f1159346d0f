/// onerec's release, as printed by `onerec version` and served in `/healthz`.
public enum OneRecVersion {
    public static let current = "0.1.0-dev"
}
