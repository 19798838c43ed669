"""gempool config service: owns the SQL database (settings, key records, logs) behind gRPC."""
