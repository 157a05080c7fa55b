import HTTPTypes
public import Hummingbird
import Synchronization

/// The methods each route path takes, filled once the router has its routes, so that a request whose path has a
/// route but whose method has none is answered 405 with `Allow` instead of 404 (RFC 9110, section 15.5.6).
///
/// Paths are matched segment by segment; a parameter segment (`:name`, which the router describes as `{name}`)
/// matches any one non-empty segment, as in the router.
public final class RouteMethods: Sendable {
    private struct Route {
        var segments: [Substring]
        var methods: [HTTPRequest.Method]
    }

    private let routes = Mutex<[Route]>([])

    public init() {}

    /// Records the methods of every route of `router`; call it after the last route was added.
    public func record(_ router: Router<some RequestContext>) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        var order: [String] = []
        for route in router.routes {
            let path = route.path.description
            if byPath[path] == nil { order.append(path) }
            byPath[path, default: []].append(route.method)
        }
        let routes = order.map { Route(segments: Self.segments(of: $0), methods: byPath[$0]!) }
        self.routes.withLock { $0 = routes }
    }

    /// The methods the routes matching `path` take (empty when no route matches): GET, POST, PUT, PATCH, DELETE
    /// first, in that order.
    public func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = Self.segments(of: path)
        return self.routes.withLock { routes in
            var methods: [HTTPRequest.Method] = []
            for route in routes where Self.matches(route.segments, segments) {
                for method in route.methods where !methods.contains(method) { methods.append(method) }
            }
            return methods.sorted { Self.rank($0) < Self.rank($1) }
        }
    }

    private static let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]

    private static func rank(_ method: HTTPRequest.Method) -> Int {
        Self.order.firstIndex(of: method) ?? Self.order.count
    }

    private static func segments(of path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }

    private static func matches(_ pattern: [Substring], _ segments: [Substring]) -> Bool {
        guard pattern.count == segments.count else { return false }
        return zip(pattern, segments).allSatisfy { expected, actual in
            expected.first == ":" || expected.first == "{" ? !actual.isEmpty : expected == actual
        }
    }
}
