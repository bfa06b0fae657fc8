import DiskImportCore
import Fetch
import NIOCore
import NIOHTTP1

/// One request's body on its way into an upload session: a plain body as it comes, a form's `file` part, or a tus
/// chunk (held back until its `Upload-Checksum` verifies, when it has one). Lives on the event loop.
final class RequestFeed {
    let session: UploadSession
    private unowned let handler: UploadRequestHandler
    private var multipart: MultipartFormReader?
    private let isTus: Bool
    private let chunkChecksum: TusChunkChecksum?
    private var chunkDigest: Digest?
    private var held: [ByteBuffer] = []
    private var heldBytes: UInt64 = 0
    /// This request's body bytes so far.
    private var bytes: UInt64 = 0
    private var failed = false

    /// The most a chunk with `Upload-Checksum` may carry: it is held in memory until its digest is known, since
    /// bytes handed to the import cannot be taken back.
    static let checksummedChunkLimit: UInt64 = 32 << 20

    init(plain session: UploadSession, multipart: MultipartFormReader?, handler: UploadRequestHandler) {
        self.session = session
        self.handler = handler
        self.multipart = multipart
        isTus = false
        chunkChecksum = nil
    }

    init(tus session: UploadSession, checksum: TusChunkChecksum?, handler: UploadRequestHandler) throws {
        self.session = session
        self.handler = handler
        isTus = true
        chunkChecksum = checksum
        chunkDigest = try checksum.map { try Digest($0.algorithm) }
    }

    private var isCurrent: Bool { session.feeder === handler && !failed }

    func body(_ buffer: ByteBuffer) {
        guard isCurrent else { return }
        bytes += UInt64(buffer.readableBytes)
        if isTus {
            tusBody(buffer)
        } else if var reader = multipart {
            do {
                try reader.feed(buffer) { session.accept($0) }
                multipart = reader
                if reader.isDone, !session.bodyComplete { session.endBody() }
            } catch {
                fail(UploadFailure(error), bodyStillComing: true)
            }
        } else {
            session.accept(buffer)
        }
    }

    private func tusBody(_ buffer: ByteBuffer) {
        let room = (session.expectedLength ?? 0) - session.received - heldBytes
        var buffer = buffer
        let overflow = UInt64(buffer.readableBytes) > room
        if overflow { buffer = buffer.getSlice(at: buffer.readerIndex, length: Int(room)) ?? ByteBuffer() }
        if let chunkDigest {
            buffer.withUnsafeReadableBytes { chunkDigest.update($0) }
            held.append(buffer)
            heldBytes += UInt64(buffer.readableBytes)
            if heldBytes > Self.checksummedChunkLimit {
                return fail(UploadFailure(status: .payloadTooLarge, reason:
                    "a chunk with Upload-Checksum may carry at most \(Self.checksummedChunkLimit >> 20) MiB (send smaller chunks)"),
                    bodyStillComing: true)
            }
        } else {
            session.accept(buffer)
        }
        if overflow {
            fail(UploadFailure(status: .payloadTooLarge, reason: "the chunk goes past Upload-Length \(session.expectedLength ?? 0)"),
                 bodyStillComing: true)
        }
    }

    func end() {
        guard isCurrent else { return }
        if isTus { return tusEnd() }
        session.feeder = nil
        do {
            try multipart?.finish()
            if !session.bodyComplete { session.endBody() }
        } catch {
            fail(UploadFailure(error), bodyStillComing: false)
        }
    }

    private func tusEnd() {
        session.feeder = nil
        if let chunkChecksum, let chunkDigest {
            guard chunkDigest.finalize() == chunkChecksum.digest else {
                held = []
                heldBytes = 0
                handler.chunkRejected(Tus.checksumMismatch, "Upload-Checksum \(chunkChecksum.algorithm.rawValue) does not match the chunk: nothing of it was kept")
                handler.coordinator.feederLeft(session)
                return
            }
            for buffer in held { session.accept(buffer) }
            held = []
            heldBytes = 0
        }
        if session.received == session.expectedLength {
            session.endBody()
            handler.awaitAnswer(session, async: session.kind.async) { _ in Response(status: .noContent) }
        } else {
            handler.chunkAccepted(session)
            handler.coordinator.feederLeft(session)
        }
    }

    /// The connection went away mid-body. A plain upload cannot go on (its import fails and its target is
    /// removed); a tus upload keeps every byte accepted and waits for the client to come back.
    func connectionLost() {
        guard isCurrent else { return }
        session.feeder = nil
        if isTus {
            held = []
            handler.coordinator.feederLeft(session)
        } else if !session.bodyComplete {
            let of = session.expectedLength.map { " of \($0)" } ?? ""
            session.breakBody(.truncated("the connection closed after \(bytes)\(of) bytes of the request body"))
        }
    }

    /// A newer request took the upload over: this one's held chunk is dropped.
    func superseded() {
        held = []
        heldBytes = 0
        failed = true
    }

    private func fail(_ failure: UploadFailure, bodyStillComing: Bool) {
        failed = true
        if session.feeder === handler { session.feeder = nil }
        held = []
        if isTus {
            handler.coordinator.feederLeft(session)
        } else {
            session.breakBody(failure)
        }
        handler.failBody(failure, tus: isTus, bodyStillComing: bodyStillComing)
    }
}
