import DiskImportCore
import Synchronization
import Testing
@testable import DiskImage

@Suite struct WorkerPoolTests {
    @Test func everyJobRunsOnce() throws {
        let total = Atomic<Int>(0)
        let pool = try WorkerPool<Int>(threads: 3, queueDepth: 2) {
            { n in total.add(n, ordering: .relaxed) }
        }
        for n in 1...1000 { try pool.submit(n) }
        try pool.finish()
        #expect(total.load(ordering: .relaxed) == 500_500)
    }

    @Test func firstErrorStopsThePoolAndReachesTheProducer() throws {
        let pool = try WorkerPool<Int>(threads: 2, queueDepth: 1) {
            { n in if n == 10 { throw DiskImportError.corrupt("job 10 failed") } }
        }
        var submitError: DiskImportError?
        do {
            for n in 1...100_000 { try pool.submit(n) }
        } catch let error as DiskImportError {
            submitError = error
        }
        #expect(submitError?.message == "job 10 failed")
        #expect(errorMessage { try pool.finish() } == "job 10 failed")
    }
}
