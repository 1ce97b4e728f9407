using SQLitePCL;

namespace Safeguard.Storage.Audit;

/// <summary>
/// Process-wide set-up of the SQLite library, done once before the first connection opens: memory-use statistics
/// off (<c>SQLITE_CONFIG_MEMSTATUS</c>). With them on, every allocation SQLite makes (hundreds while a statement is
/// parsed and run) takes one global mutex, which concurrent requests then queue on. Nothing in Safeguard reads those
/// statistics. After SQLite has initialised (another library in the process opened a connection first) the setting
/// can no longer change and the library keeps its defaults.
/// </summary>
public static class SqliteLibrary
{
    private static readonly Lazy<bool> Configured = new(Configure);

    /// <summary>Sets the library up if no connection has opened yet.</summary>
    /// <returns>Whether the settings took effect (false when SQLite had already initialised).</returns>
    public static bool EnsureConfigured() => Configured.Value;

    private static bool Configure()
    {
        Batteries_V2.Init();
        return raw.sqlite3_config(raw.SQLITE_CONFIG_MEMSTATUS, 0) == raw.SQLITE_OK;
    }
}
