import DiskImportCore
import Testing

struct MemoryBudgetTests {
    /// Stages get what they ask while it lasts, then what is left; a stage's minimum is granted even past the budget;
    /// what is given back is available again.
    @Test func grantsWhatIsLeftAndAlwaysTheMinimum() {
        let budget = MemoryBudget(bytes: 100)
        #expect(budget.take(upTo: 60) == 60)
        #expect(budget.take(upTo: 60, atLeast: 10) == 40)
        #expect(budget.availableBytes == 0)
        #expect(budget.take(upTo: 30, atLeast: 8) == 8)
        #expect(budget.availableBytes == -8)
        #expect(budget.take(upTo: 30) == 0)
        budget.giveBack(60 + 8)
        #expect(budget.availableBytes == 60)
        #expect(budget.take(upTo: 50) == 50)
    }

    /// Concurrent stages never get more than the budget between them.
    @Test func concurrentTakesNeverExceedTheBudget() async {
        let budget = MemoryBudget(bytes: 1000)
        let granted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<50 { group.addTask { budget.take(upTo: 37) } }
            return await group.reduce(0, +)
        }
        #expect(granted == 1000)
        #expect(budget.availableBytes == 0)
    }
}
