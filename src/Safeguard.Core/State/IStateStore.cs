namespace Safeguard.State;

/// <summary>The database behind the stores, as the hosts see it: its schema and whether it answers.</summary>
public interface IStateStore
{
    /// <summary>The provider, for logs and reports (<c>sqlite</c>, <c>postgresql</c>).</summary>
    string ProviderName { get; }

    /// <summary>
    /// Makes the schema usable: the embedded default is migrated on the spot; a shared database is migrated only when
    /// <paramref name="migrate"/> is set (<c>safeguard init</c>), and otherwise must already be current, so nothing
    /// runs against a half-made schema.
    /// </summary>
    /// <param name="migrate">Whether to apply pending migrations on a shared database.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="InvalidOperationException">The shared schema has pending migrations and <paramref name="migrate"/> is false.</exception>
    Task PrepareAsync(bool migrate, CancellationToken cancellationToken);

    /// <summary>
    /// Refuses a database role that could rewrite the audit trail: on PostgreSQL the owner of the audit tables, a member
    /// of the owner's role, or a superuser (each can drop the append-only triggers). The server calls it on start; the
    /// owner is for <c>safeguard init</c> only. On SQLite there is no role: the data folder's permissions are the boundary.
    /// </summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that completes when the role is acceptable.</returns>
    /// <exception cref="InvalidOperationException">The role could alter the audit tables, or they do not exist yet.</exception>
    Task EnsureLeastPrivilegeAsync(CancellationToken cancellationToken);

    /// <summary>Whether the database answers a trivial query now; never throws for an unreachable database.</summary>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>True if reachable.</returns>
    Task<bool> CanConnectAsync(CancellationToken cancellationToken);
}
