import DiskImportCore
import Synchronization

/// The last `FormatSniffer.trailerLength` bytes of an image written in pieces, in any order and from several threads
/// (xz blocks decoded in parallel): what the sniffer checks at the end of a raw stream (a DMG's `koly` block).
///
/// The window always ends at the furthest byte offered so far. A piece that ends further moves it (keeping what
/// still lies inside); a piece that ends earlier fills what it overlaps. Every byte of the last sector is offered
/// once, so at the end the window holds them, whatever order they came in.
final class TrailerWindow: Sendable {
    private struct State {
        var end: UInt64 = 0
        var bytes = [UInt8](repeating: 0, count: FormatSniffer.trailerLength)
    }
    private let state = Mutex(State())

    func offer(_ piece: UnsafeRawBufferPointer, at offset: UInt64) {
        let length = UInt64(FormatSniffer.trailerLength)
        let pieceEnd = offset + UInt64(piece.count)
        state.withLock { state in
            if pieceEnd > state.end {
                let shift = pieceEnd - state.end
                if shift >= length {
                    state.bytes = [UInt8](repeating: 0, count: Int(length))
                } else {
                    state.bytes.removeFirst(Int(shift))
                    state.bytes += [UInt8](repeating: 0, count: Int(shift))
                }
                state.end = pieceEnd
            }
            // The overlap of [offset, pieceEnd) with the window [end - length, end), in window coordinates.
            let windowStart = state.end >= length ? state.end - length : 0
            let from = max(offset, windowStart), to = min(pieceEnd, state.end)
            guard from < to else { return }
            let base = Int(length - (state.end - windowStart))   // leading slots before offset 0 of a short image
            for position in from..<to {
                state.bytes[base + Int(position - windowStart)] = piece[Int(position - offset)]
            }
        }
    }

    /// The image's last bytes when it ends at `end` (fewer than a full trailer for a shorter image).
    func trailer(endingAt end: UInt64) -> [UInt8] {
        state.withLock { state in
            guard state.end == end else { return [] }
            return Array(state.bytes.suffix(Int(min(end, UInt64(FormatSniffer.trailerLength)))))
        }
    }
}
