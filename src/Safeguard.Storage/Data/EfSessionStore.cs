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
        using var context = database.CreateContext();
        var entity = await context.Sessions.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : ToSession(entity);
    }

    /// <inheritdoc />
    public async Task<bool> TouchAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.Sessions.Where(s => s.Id == id && s.EndedAt == null && s.LastSeenAt < atMs)
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.LastSeenAt, atMs), cancellationToken).ConfigureAwait(false) == 1;
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
    };
}
