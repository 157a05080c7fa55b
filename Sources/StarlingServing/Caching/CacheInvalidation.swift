public import StarlingCore

/// Which of a user's events make the lists cached for them invalid.
///
/// A cached list records the user's *epoch* when it was computed and is served only while the epoch is unchanged.
public enum CacheInvalidation: Hashable, Sendable {
    /// Every event (the default): the epoch is the profile version, so a list is served only for the exact profile
    /// version it was computed from, and the next list after any action reflects it.
    case everyEvent
    /// Only events of these types (an opt-in for sites that prefer cheaper reads): lists are reused across other
    /// events, with the items the user interacted with since stripped when served.
    case eventTypes(Set<String>)

    /// Parses the `--bust-on` option: `all`, or comma-separated event type names.
    public init(option: String) {
        let types = Set(option.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty })
        self = types.isEmpty || types.contains("all") ? .everyEvent : .eventTypes(types)
    }

    /// The user's epoch: lists computed at another one are not served.
    public func epoch(of profile: UserProfile?) -> UInt64 {
        guard let profile else { return 0 }
        switch self {
        case .everyEvent: return profile.version
        case .eventTypes(let types): return profile.count(of: types)
        }
    }

    /// The canonical text form (what `--bust-on` takes), for comparing the settings of processes.
    public var description: String {
        switch self {
        case .everyEvent: "all"
        case .eventTypes(let types): types.sorted().joined(separator: ",")
        }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result.removeFirst() }
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
