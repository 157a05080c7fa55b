#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Free TCP ports on 127.0.0.1, for processes a Starling command or test starts on loopback.
public enum LoopbackPort {
    /// A port that nothing listened on a moment ago (bound to port 0, then released).
    public static func free() throws(LoopbackPortError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackPortError(description: "cannot find a free port: socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw LoopbackPortError(description: "cannot find a free port: binding 127.0.0.1:0 failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// No free loopback port could be found.
public struct LoopbackPortError: Error, CustomStringConvertible {
    public var description: String
}
