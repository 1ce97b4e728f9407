using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Safeguard.Sessions;

namespace Safeguard.Storage.Data;

/// <summary>Sessions in the <c>sessions</c> table; touching and ending are conditional single statements.</summary>
/// <param name="database">The database.</param>
public sealed class EfSessionStore(SafeguardDatabase database) : ISessionStore
{
    /// <inheritdoc />
    public async Task AddAsync(UserSession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        using var context = database.CreateContext();
        context.Sessions.Add(ToEntity(session));
        await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<UserSession?> FindBySecretHashAsync(byte[] secretHash, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entity = await context.Sessions.AsNoTracking().SingleOrDefaultAsync(s => s.SecretHash == secretHash, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : ToSession(entity);
    }

    /// <inheritdoc />
    public async Task<UserSession?> FindAsync(string id, CancellationToken cancellationToken)
    {
        // Plain SQL: this runs on every refresh (see SafeguardDatabase.OpenConnectionAsync).
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var read = SafeguardDatabase.Command(connection, "SELECT " + Columns + " FROM sessions WHERE id = @id", ("id", id));
            var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader, 0) : null;
            }
        }
    }

    /// <summary>The columns <see cref="Read"/> reads, in its order.</summary>
    internal const string Columns = "id, secret_hash, subject, authenticated_at, amr, acr, created_at, last_seen_at, expires_at, ended_at, end_reason, source_ip, user_agent, client_ids";

    /// <summary>A session from the current row, its <see cref="Columns"/> starting at <paramref name="first"/>.</summary>
    internal static UserSession Read(DbDataReader reader, int first) => ToSession(new SessionEntity
    {
        Id = reader.GetString(first),
        SecretHash = (byte[])reader.GetValue(first + 1),
        Subject = reader.GetString(first + 2),
        AuthenticatedAt = reader.GetInt64(first + 3),
        Amr = reader.GetString(first + 4),
        Acr = reader.IsDBNull(first + 5) ? null : reader.GetString(first + 5),
        CreatedAt = reader.GetInt64(first + 6),
        LastSeenAt = reader.GetInt64(first + 7),
        ExpiresAt = reader.GetInt64(first + 8),
        EndedAt = reader.IsDBNull(first + 9) ? null : reader.GetInt64(first + 9),
        EndReason = reader.IsDBNull(first + 10) ? null : reader.GetString(first + 10),
        SourceIp = reader.IsDBNull(first + 11) ? null : reader.GetString(first + 11),
        UserAgent = reader.IsDBNull(first + 12) ? null : reader.GetString(first + 12),
        ClientIds = reader.GetString(first + 13),
    });

    /// <inheritdoc />
    public async Task<bool> TouchAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var touch = SafeguardDatabase.Command(
                connection,
                "UPDATE sessions SET last_seen_at = @at WHERE id = @id AND ended_at IS NULL AND last_seen_at < @at",
                ("at", at.ToUnixTimeMilliseconds()),
                ("id", id));
            return await touch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        }
    }

    /// <inheritdoc />
    public async Task<bool> EndAsync(string id, string reason, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.Sessions.Where(s => s.Id == id && s.EndedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.EndedAt, atMs).SetProperty(s => s.EndReason, reason), cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task AddClientAsync(string id, string clientId, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        await context.Sessions.Where(s => s.Id == id && !(" " + s.ClientIds + " ").Contains(" " + clientId + " "))
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.ClientIds, s => s.ClientIds == string.Empty ? clientId : s.ClientIds + " " + clientId), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<UserSession>> GetActiveForUserAsync(string subject, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entities = await context.Sessions.AsNoTracking().Where(s => s.Subject == subject && s.EndedAt == null)
            .OrderByDescending(s => s.CreatedAt).ToListAsync(cancellationToken).ConfigureAwait(false);
        return entities.ConvertAll(ToSession);
    }

    private static UserSession ToSession(SessionEntity e) => new()
    {
        Id = e.Id,
        SecretHash = e.SecretHash,
        Subject = e.Subject,
        AuthenticatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.AuthenticatedAt),
        Amr = e.Amr.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        Acr = e.Acr,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
        LastSeenAt = DateTimeOffset.FromUnixTimeMilliseconds(e.LastSeenAt),
        ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(e.ExpiresAt),
        EndedAt = e.EndedAt is { } ended ? DateTimeOffset.FromUnixTimeMilliseconds(ended) : null,
        EndReason = e.EndReason,
        SourceIp = e.SourceIp,
        UserAgent = e.UserAgent,
        ClientIds = e.ClientIds.Split(' ', StringSplitOptions.RemoveEmptyEntries),
    };

    private static SessionEntity ToEntity(UserSession s) => new()
    {
        Id = s.Id,
        SecretHash = s.SecretHash,
        Subject = s.Subject,
        AuthenticatedAt = s.AuthenticatedAt.ToUnixTimeMilliseconds(),
        Amr = string.Join(' ', s.Amr),
        Acr = s.Acr,
        CreatedAt = s.CreatedAt.ToUnixTimeMilliseconds(),
        LastSeenAt = s.LastSeenAt.ToUnixTimeMilliseconds(),
        ExpiresAt = s.ExpiresAt.ToUnixTimeMilliseconds(),
        EndedAt = s.EndedAt?.ToUnixTimeMilliseconds(),
        EndReason = s.EndReason,
        SourceIp = s.SourceIp,
        UserAgent = s.UserAgent,
        ClientIds = string.Join(' ', s.ClientIds),
    };
}
