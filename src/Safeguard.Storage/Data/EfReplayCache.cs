using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Safeguard.Dpop;

namespace Safeguard.Storage.Data;

/// <summary>
/// The shared replay cache in <c>replay_entries</c>: the primary key (purpose, SHA-256 of the value) makes the
/// database the single arbiter, so two nodes racing on one value cannot both accept it.
/// </summary>
/// <param name="database">The database.</param>
public sealed class EfReplayCache(SafeguardDatabase database) : IReplayCache
{
    /// <inheritdoc />
    public async ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        ArgumentNullException.ThrowIfNull(value);
        var hash = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
        var expires = expiresAt.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var inserted = await context.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO replay_entries (purpose, value_hash, expires_at) VALUES ({purpose}, {hash}, {expires}) ON CONFLICT DO NOTHING",
            cancellationToken).ConfigureAwait(false);
        return inserted == 1;
    }

    /// <inheritdoc />
    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var beforeMs = before.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.ReplayEntries.Where(r => r.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }
}
