using Microsoft.EntityFrameworkCore;
using Safeguard.Users;

namespace Safeguard.Storage.Data;

/// <summary>Enrolment links in the <c>enrolment_links</c> table (hashes only). A use is one conditional UPDATE, so it is single across nodes.</summary>
/// <param name="database">The database.</param>
public sealed class EfEnrolmentLinkStore(SafeguardDatabase database) : IEnrolmentLinkStore
{
    /// <inheritdoc />
    public async Task AddAsync(EnrolmentLink link, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(link);
        using var context = database.CreateContext();
        var transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            await context.EnrolmentLinks.Where(l => l.Subject == link.Subject && l.UsedAt == null).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            context.EnrolmentLinks.Add(new EnrolmentLinkEntity
            {
                Hash = link.Hash,
                Subject = link.Subject,
                CreatedAt = link.CreatedAt.ToUnixTimeMilliseconds(),
                ExpiresAt = link.ExpiresAt.ToUnixTimeMilliseconds(),
            });
            await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<EnrolmentLink?> FindAsync(byte[] hash, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var e = await context.EnrolmentLinks.AsNoTracking().FirstOrDefaultAsync(l => l.Hash == hash, cancellationToken).ConfigureAwait(false);
        return e is null ? null : new EnrolmentLink
        {
            Hash = e.Hash,
            Subject = e.Subject,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
            ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(e.ExpiresAt),
            UsedAt = e.UsedAt is { } used ? DateTimeOffset.FromUnixTimeMilliseconds(used) : null,
        };
    }

    /// <inheritdoc />
    public async Task<bool> TryUseAsync(byte[] hash, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.EnrolmentLinks.Where(l => l.Hash == hash && l.UsedAt == null && l.ExpiresAt > atMs)
            .ExecuteUpdateAsync(set => set.SetProperty(l => l.UsedAt, atMs), cancellationToken).ConfigureAwait(false) == 1;
    }
}
