import StarlingCore
import StarlingModels
import Testing

struct ImplicitALSTests {
    /// Users 0–11 like some of items 0–7, users 12–23 some of items 8–15: two tastes, no overlap.
    static let blocks: [FactorTrainer.Interaction] = {
        var interactions: [FactorTrainer.Interaction] = []
        for user in 0..<24 {
            let base = user < 12 ? 0 : 8
            for k in 0..<8 where (user + k) % 3 != 0 {  // each user misses a third of their block
                interactions.append(.init(user: Int32(user), item: Int32(base + k), signal: Float(1 + k % 3)))
            }
        }
        return interactions
    }()

    static func factors(_ dimensions: Int) -> FactorModel.Configuration {
        FactorModel.Configuration(dimensions: dimensions)
    }

    /// The user's least-squares solution written out from the definition, summed over every item (observed or not),
    /// with no Gram-matrix shortcut: `Σ_i c_i (p_i − x·y_i)² + λ|x|²`.
    static func directSolve(
        user: Int32,
        model: FactorModel,
        feedback: ImplicitFeedback,
        alpha: Float,
        lambda: Float
    ) -> [Double] {
        let d = model.configuration.dimensions
        var a = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        var b = [Double](repeating: 0, count: d)
        let row = feedback.users[Int(user)]
        for item in 0..<model.itemCount {
            let y = model.itemVector(Int32(item)).map(Double.init)
            var confidence = 1.0
            var preference = 0.0
            if let k = row.ids.firstIndex(of: Int32(item)) {
                confidence = 1 + Double(alpha * abs(row.signals[k]))
                preference = row.signals[k] > 0 ? 1 : 0
            }
            for i in 0..<d {
                for j in 0..<d { a[i][j] += confidence * y[i] * y[j] }
                b[i] += confidence * preference * y[i]
            }
        }
        for i in 0..<d { a[i][i] += Double(lambda) }
        // Gaussian elimination with partial pivoting.
        for column in 0..<d {
            let pivot = (column..<d).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            a.swapAt(column, pivot)
            b.swapAt(column, pivot)
            for rowIndex in (column + 1)..<max(column + 1, d) {
                let factor = a[rowIndex][column] / a[column][column]
                for j in column..<d { a[rowIndex][j] -= factor * a[column][j] }
                b[rowIndex] -= factor * b[column]
            }
        }
        var x = [Double](repeating: 0, count: d)
        for i in stride(from: d - 1, through: 0, by: -1) {
            var sum = b[i]
            for j in (i + 1)..<max(i + 1, d) { sum -= a[i][j] * x[j] }
            x[i] = sum / a[i][i]
        }
        return x
    }

    @Test func aRefitRecoversAPlantedTwoTasteStructure() throws {
        let trainer = FactorTrainer(
            factors: Self.factors(2),
            implicitALS: .init(alpha: 5, regularization: 1, iterations: 10)
        )
        let model = try #require(trainer.train(Self.blocks, userCount: 24, itemCount: 16))
        var scores: [Float] = []
        for user in 0..<24 {
            model.scoreAllItems(for: Int32(user), into: &scores)
            let own = user < 12 ? 0..<8 : 8..<16
            let missed = own.filter { item in !Self.blocks.contains { $0.user == Int32(user) && $0.item == Int32(item) } }
            let foreign = (0..<16).filter { !own.contains($0) }
            // Every item of the user's own taste they have not touched outranks every item of the other taste.
            let worstOwn = missed.map { scores[$0] }.min()!
            let bestForeign = foreign.map { scores[$0] }.max()!
            #expect(worstOwn > bestForeign, "user \(user)")
        }
    }

    @Test(arguments: [0, 6])
    func foldingInAUserSolvesTheirLeastSquaresProblemOverEveryItem(steps: Int) throws {
        // 0 steps: the exact Cholesky solve; 6 conjugate-gradient steps in 6 dimensions are exact too, up to rounding.
        let configuration = ImplicitALS.Configuration(alpha: 3, regularization: 0.5, iterations: 4, conjugateGradientSteps: steps)
        let solver = ImplicitALS(configuration: configuration, dimensions: 6)
        let feedback = ImplicitFeedback(Self.blocks + [.init(user: 3, item: 12, signal: -2)], userCount: 24, itemCount: 16)
        var model = FactorModel(configuration: Self.factors(6))
        #expect(solver.train(feedback, into: &model))

        var foldIn = ImplicitFoldIn(solver: solver, feedback: feedback)
        for user: Int32 in [0, 3, 17] {
            let expected = Self.directSolve(user: user, model: model, feedback: feedback, alpha: 3, lambda: 0.5)
            foldIn.foldIn(user: user, factors: &model)
            for (value, target) in zip(model.userVector(user), expected) {
                #expect(abs(Double(value) - target) < 1e-3, "user \(user)")
            }
        }
    }

    @Test func aUserHalfPassOfTheRefitIsTheFoldInOfEachUser() {
        // With the item vectors fixed, folding in each user one by one gives the batch solve of every user: the fold-in
        // of one user never changes what another user is solved against.
        let solver = ImplicitALS(configuration: .init(conjugateGradientSteps: 0), dimensions: 4)
        let feedback = ImplicitFeedback(Self.blocks, userCount: 24, itemCount: 16)
        var model = FactorModel(configuration: Self.factors(4))
        #expect(solver.train(feedback, into: &model))
        var foldIn = ImplicitFoldIn(solver: solver, feedback: feedback)
        var once = model
        for user in 0..<24 { foldIn.foldIn(user: Int32(user), factors: &once) }
        var twice = once
        for user in (0..<24).reversed() { foldIn.foldIn(user: Int32(user), factors: &twice) }
        for (a, b) in zip(once.userFactors, twice.userFactors) { #expect(abs(a - b) < 1e-4) }
    }

    @Test func feedbackKeepsOneNetSignalPerPairInBothDirections() {
        var feedback = ImplicitFeedback()
        feedback.add(user: 1, item: 5, signal: 2)
        feedback.add(user: 1, item: 2, signal: 1)
        feedback.add(user: 1, item: 5, signal: 3)
        feedback.add(user: 0, item: 5, signal: 4)
        feedback.add(user: 0, item: 5, signal: -4)  // cancels out: the pair is gone
        #expect(feedback.users[1] == ImplicitFeedback.Row(ids: [2, 5], signals: [1, 5]))
        #expect(feedback.users[0].ids.isEmpty)
        #expect(feedback.items[5] == ImplicitFeedback.Row(ids: [1], signals: [5]))
        #expect(ImplicitFeedback(users: feedback.users, itemCount: 6).items == feedback.items)
    }
}

struct ImplicitALSEngineTests {
    static func engine(_ settings: [String] = ["trainer=ials"]) throws -> RecommendationEngine {
        RecommendationEngine(configuration: try .init(settings: settings))
    }

    static func like(_ user: String, _ item: String, at seconds: Int64) -> Event {
        Event(type: .like, user: user, item: item, timestamp: .seconds(seconds))
    }

    /// Users who like "a" also like "b"; users who like "x" like "y".
    static func trained(_ engine: inout RecommendationEngine) {
        var t: Int64 = 0
        for u in 0..<30 {
            t += 10
            engine.learn(Self.like("ab-\(u)", "a", at: t))
            engine.learn(Self.like("ab-\(u)", "b", at: t + 1))
            engine.learn(Self.like("xy-\(u)", "x", at: t + 2))
            engine.learn(Self.like("xy-\(u)", "y", at: t + 3))
        }
    }

    @Test func theTrainerIsChosenBySettings() throws {
        #expect(try Self.engine([]).configuration.trainer == .bpr)
        let engine = try Self.engine(["trainer=ials", "ials_alpha=7", "ials_regularization=0.5", "ials_iterations=3"])
        #expect(engine.configuration.trainer == .ials)
        #expect(engine.configuration.implicitALS.alpha == 7)
        #expect(engine.configuration.implicitALS.regularization == 0.5)
        #expect(engine.configuration.implicitALS.iterations == 3)
        #expect(engine.factorTrainer().implicitALS?.alpha == 7)
        #expect(try Self.engine([]).factorTrainer().implicitALS == nil)
        #expect(throws: EventSchemaError.self) { try Self.engine(["trainer=svd"]) }
    }

    @Test func eachEventFoldsTheUserInSoTheEmbeddingLearnsATasteAtOnce() throws {
        var engine = try Self.engine()
        Self.trained(&engine)
        engine.learn(Self.like("newcomer", "a", at: 10_000))
        #expect(engine.recommend(user: "newcomer", count: 1, source: .embedding).first?.item == "b")
        engine.learn(Self.like("other", "x", at: 10_001))
        #expect(engine.recommend(user: "other", count: 1, source: .embedding).first?.item == "y")
    }

    @Test func aUserPastTheFoldInLimitKeepsTheirVectorUntilTheRefit() throws {
        var engine = try Self.engine(["trainer=ials", "ials_user_fold_in_limit=1"])
        Self.trained(&engine)
        engine.learn(Self.like("solo", "a", at: 10_000))
        let user = try #require(engine.userID("solo"))
        let folded = Array(engine.factors.userVector(user))
        engine.learn(Self.like("solo", "x", at: 10_001))  // a second item: past the limit
        #expect(Array(engine.factors.userVector(user)) == folded)
        #expect(engine.implicitFoldIn?.feedback.users[Int(user)].ids.count == 2)  // still recorded for the refit
    }

    @Test func aRetrainInstallsAnIALSRefitAndFoldsInWhatCameMeanwhile() throws {
        var engine = try Self.engine()
        Self.trained(&engine)
        var events: [Event] = []
        var t: Int64 = 0
        for u in 0..<30 {
            t += 10
            events += [Self.like("ab-\(u)", "a", at: t), Self.like("ab-\(u)", "b", at: t + 1)]
            events += [Self.like("xy-\(u)", "x", at: t + 2), Self.like("xy-\(u)", "y", at: t + 3)]
        }
        let snapshot = engine
        engine.beginRetrain()
        engine.learn(Self.like("late", "x", at: 20_000))  // learned while the retrain runs
        let trained = try #require(
            snapshot.factorTrainer().train(
                snapshot.interactions(from: events),
                userCount: snapshot.userCount,
                itemCount: snapshot.itemCount
            )
        )
        engine.install(trained)
        #expect(engine.modelVersion == 1)
        #expect(engine.recommend(user: "late", count: 1, source: .embedding).first?.item == "y")
        #expect(engine.recommend(user: "ab-3", count: 2, source: .embedding).count == 2)
    }

    @Test func theFeedbackSurvivesACheckpoint() throws {
        var engine = try Self.engine()
        Self.trained(&engine)
        var writer = BinaryWriter()
        engine.encode(into: &writer)
        let configuration = engine.configuration
        var restored = try writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            let engine = try RecommendationEngine(configuration: configuration, decoding: &reader)
            #expect(reader.remaining == 0)
            return engine
        }
        #expect(restored.implicitFoldIn?.feedback.users == engine.implicitFoldIn?.feedback.users)
        engine.learn(Self.like("ab-1", "x", at: 50_000))
        restored.learn(Self.like("ab-1", "x", at: 50_000))
        for (a, b) in zip(engine.factors.userVector(engine.userID("ab-1")!), restored.factors.userVector(restored.userID("ab-1")!)) {
            #expect(abs(a - b) < 1e-4)
        }
    }
}
