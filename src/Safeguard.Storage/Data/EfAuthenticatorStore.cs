using Microsoft.EntityFrameworkCore;
using Safeguard.Users;

namespace Safeguard.Storage.Data;

/// <summary>Second factors in the <c>authenticators</c> table. Each use is one conditional UPDATE, so it is single across nodes.</summary>
/// <param name="database">The database.</param>
public sealed class EfAuthenticatorStore(SafeguardDatabase database) : IAuthenticatorStore
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<Authenticator>> GetForUserAsync(string subject, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entities = await context.Authenticators.AsNoTracking().Where(a => a.Subject == subject)
            .OrderBy(a => a.CreatedAt).ThenBy(a => a.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        return entities.ConvertAll(ToAuthenticator);
    }

    /// <inheritdoc />
    public async Task AddAsync(IReadOnlyList<Authenticator> authenticators, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(authenticators);
        using var context = database.CreateContext();
        context.Authenticators.AddRange(authenticators.Select(ToEntity));
        await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false); // one transaction: all or none
    }

    /// <inheritdoc />
    public async Task<bool> TryUseAsync(string id, long counter, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.Authenticators.Where(a => a.Id == id && a.Counter < counter)
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.Counter, counter).SetProperty(a => a.Failures, 0).SetProperty(a => a.LastUsedAt, atMs), cancellationToken)
            .ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<int> RecordFailureAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        using var context = database.CreateContext();
        await context.Authenticators.Where(a => ids.Contains(a.Id))
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.Failures, a => a.Failures + 1), cancellationToken)
            .ConfigureAwait(false);
        return await context.Authenticators.Where(a => ids.Contains(a.Id)).MaxAsync(a => (int?)a.Failures, cancellationToken).ConfigureAwait(false) ?? 0;
    }

    /// <inheritdoc />
    public async Task<int> RemoveAllAsync(string subject, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        return await context.Authenticators.Where(a => a.Subject == subject).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<Authenticator?> FindByCredentialIdAsync(byte[] credentialId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credentialId);
        using var context = database.CreateContext();
        var entity = await context.Authenticators.AsNoTracking().FirstOrDefaultAsync(a => a.CredentialId == credentialId, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : ToAuthenticator(entity);
    }

    /// <inheritdoc />
    public async Task<bool> TryUsePasskeyAsync(string id, long signCount, bool backedUp, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.Authenticators.Where(a => a.Id == id && a.Kind == "passkey" && (a.Counter < signCount || (a.Counter == 0 && signCount == 0)))
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.Counter, signCount).SetProperty(a => a.BackedUp, backedUp).SetProperty(a => a.Failures, 0).SetProperty(a => a.LastUsedAt, atMs), cancellationToken)
            .ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> RemoveAsync(string subject, string id, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        return await context.Authenticators.Where(a => a.Subject == subject && a.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private static Authenticator ToAuthenticator(AuthenticatorEntity e) => new()
    {
        Id = e.Id,
        Subject = e.Subject,
        Kind = e.Kind switch
        {
            "totp" => AuthenticatorKind.Totp,
            "passkey" => AuthenticatorKind.Passkey,
            _ => AuthenticatorKind.RecoveryCode,
        },
        Name = e.Name,
        ProtectedSecret = e.ProtectedSecret,
        SecretHash = e.SecretHash,
        CredentialId = e.CredentialId,
        PublicKey = e.PublicKey,
        Aaguid = e.Aaguid is { } aaguid ? Guid.Parse(aaguid) : null,
        BackupEligible = e.BackupEligible,
        BackedUp = e.BackedUp,
        Transports = e.Transports,
        Counter = e.Counter,
        Failures = e.Failures,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
        LastUsedAt = e.LastUsedAt is { } used ? DateTimeOffset.FromUnixTimeMilliseconds(used) : null,
    };

    private static AuthenticatorEntity ToEntity(Authenticator a) => new()
    {
        Id = a.Id,
        Subject = a.Subject,
        Kind = a.Kind switch
        {
            AuthenticatorKind.Totp => "totp",
            AuthenticatorKind.Passkey => "passkey",
            _ => "recovery_code",
        },
        Name = a.Name,
        ProtectedSecret = a.ProtectedSecret,
        SecretHash = a.SecretHash,
        CredentialId = a.CredentialId,
        PublicKey = a.PublicKey,
        Aaguid = a.Aaguid?.ToString("D"),
        BackupEligible = a.BackupEligible,
        BackedUp = a.BackedUp,
        Transports = a.Transports,
        Counter = a.Counter,
        Failures = a.Failures,
        CreatedAt = a.CreatedAt.ToUnixTimeMilliseconds(),
        LastUsedAt = a.LastUsedAt?.ToUnixTimeMilliseconds(),
    };
}
