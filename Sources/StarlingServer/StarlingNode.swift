import Logging

public enum StarlingNode { public static func run(config: ServerConfig, logger: Logger) async throws { logger.info("not yet") } }
