namespace Safeguard.Storage.Audit;

/// <summary>SQL both audit stores run as written (the schema is the same on SQLite and PostgreSQL).</summary>
internal static class AuditSql
{
    /// <summary>Every chain: a loose index scan (one B-tree seek per chain instead of reading every row), plus chains that only have checkpoints.</summary>
    public const string Chains = """
            WITH RECURSIVE chains(chain) AS (
                SELECT min(chain) FROM audit_events
                UNION ALL
                SELECT (SELECT min(chain) FROM audit_events WHERE chain > chains.chain) FROM chains WHERE chains.chain IS NOT NULL)
            SELECT chain FROM chains WHERE chain IS NOT NULL
            UNION SELECT DISTINCT chain FROM audit_checkpoints
            ORDER BY 1
        """;
}
