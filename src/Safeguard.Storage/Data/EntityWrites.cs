using Microsoft.EntityFrameworkCore;

namespace Safeguard.Storage.Data;

/// <summary>The two writes the EF stores share: insert a row whose key must be new, and replace an existing row's values.</summary>
internal static class EntityWrites
{
    /// <summary>Inserts <paramref name="entity"/>; a key already taken (by a concurrent writer too) is <paramref name="conflict"/>.</summary>
    public static async Task InsertAsync(SafeguardDbContext context, object entity, string conflict, CancellationToken cancellationToken)
    {
        context.Add(entity);
        try
        {
            await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex)
        {
            throw new InvalidOperationException(conflict, ex);
        }
    }

    /// <summary>Replaces the values of the one row <paramref name="row"/> selects; none is <paramref name="missing"/>.</summary>
    public static async Task ReplaceAsync<TEntity>(SafeguardDbContext context, IQueryable<TEntity> row, TEntity replacement, string missing, CancellationToken cancellationToken)
        where TEntity : class
    {
        var entity = await row.SingleOrDefaultAsync(cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException(missing);
        context.Entry(entity).CurrentValues.SetValues(replacement);
        await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }
}
