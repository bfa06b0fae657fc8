import DiskImportCore

/// HCO's randomised schedule for the common templates (kubevirt/hyperconverged-cluster-operator
/// controllers/hyperconverged/dataimportschedule.go at d2dd55ca, generateSchedule): a random minute and a random hour
/// of the first twelve, repeating every twelve hours (`"%d %d/12 * * *"`), so a fleet of clusters does not poll a
/// mirror at the same minute. HCO generates it once and keeps it in `status.dataImportSchedule`; it replaces the
/// schedule of every common template, and of a user's override that gives none (golden_images.go,
/// overrideDataImportSchedule and customizeCommonDICT).
///
/// Here it is kept in `STORAGE/state/hyperconverged.json`; a HyperConverged object that carries
/// `status.dataImportSchedule` (one copied from a cluster) sets it instead.
public enum DataImportSchedule {
    public static func generate() -> String {
        "\(Int.random(in: 0..<60)) \(Int.random(in: 0..<12))/12 * * *"
    }

    /// The crons that use the common templates' schedule get `expression`.
    static func apply(_ expression: String, to config: CronConfig) throws -> CronConfig {
        let schedule = try CronSchedule(parsing: expression)
        var config = config
        for i in config.crons.indices where config.crons[i].usesCommonSchedule {
            config.crons[i].schedule = schedule
        }
        return config
    }

    /// Whether any cron follows the common schedule.
    static func isNeeded(by config: CronConfig) -> Bool { config.crons.contains(where: \.usesCommonSchedule) }

    /// The schedule in force without making one: the object's, else the stored one (nil before the first tick).
    static func current(_ config: CronConfig, store: StateStore) throws -> String? {
        try config.hyperConverged?.dataImportSchedule ?? store.hyperConverged()?.dataImportSchedule
    }

    /// `config` with the schedule in force applied, without making one (for `status`).
    static func applyingCurrent(_ config: CronConfig, store: StateStore) throws -> CronConfig {
        guard isNeeded(by: config), let expression = try current(config, store: store) else { return config }
        return try apply(expression, to: config)
    }

    /// `config` with the schedule in force applied, made and stored first when there is none (for the controller).
    static func applyingOrMaking(_ config: CronConfig, store: StateStore) throws -> CronConfig {
        guard isNeeded(by: config) else { return config }
        let stored = try store.hyperConverged()
        let expression = config.hyperConverged?.dataImportSchedule ?? stored?.dataImportSchedule ?? generate()
        if stored?.dataImportSchedule != expression {
            try store.save(HyperConvergedStatusRecord(dataImportSchedule: expression))
        }
        return try apply(expression, to: config)
    }
}
