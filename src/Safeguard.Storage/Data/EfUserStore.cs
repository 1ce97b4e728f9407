using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Safeguard.Users;

namespace Safeguard.Storage.Data;

/// <summary>Users in the <c>users</c> table; uniqueness of username and e-mail address is enforced by unique indexes.</summary>
/// <param name="database">The database.</param>
public sealed class EfUserStore(SafeguardDatabase database) : IUserStore
{
    /// <inheritdoc />
    public async Task<User?> FindBySubjectAsync(string subject, CancellationToken cancellationToken)
    {
        // Plain SQL: this runs on every refresh and code exchange (see SafeguardDatabase.OpenConnectionAsync).
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var read = SafeguardDatabase.Command(connection, "SELECT " + Columns + " FROM users WHERE subject = @subject", ("subject", subject));
            var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader, 0) : null;
            }
        }
    }

    /// <summary>The columns <see cref="Read"/> reads, in its order.</summary>
    internal const string Columns = "subject, username, email, roles, status, password_hash, password_changed_at, failed_sign_ins, last_failed_sign_in_at, created_at, updated_at";

    /// <summary>A user from the current row, its <see cref="Columns"/> starting at <paramref name="first"/>.</summary>
    internal static User Read(DbDataReader reader, int first) => ToUser(new UserEntity
    {
        Subject = reader.GetString(first),
        Username = reader.GetString(first + 1),
        Email = reader.IsDBNull(first + 2) ? null : reader.GetString(first + 2),
        Roles = reader.GetString(first + 3),
        Status = reader.GetString(first + 4),
        PasswordHash = reader.IsDBNull(first + 5) ? null : reader.GetString(first + 5),
        PasswordChangedAt = reader.IsDBNull(first + 6) ? null : reader.GetInt64(first + 6),
        FailedSignIns = reader.GetInt32(first + 7),
        LastFailedSignInAt = reader.IsDBNull(first + 8) ? null : reader.GetInt64(first + 8),
        CreatedAt = reader.GetInt64(first + 9),
        UpdatedAt = reader.GetInt64(first + 10),
    });

    /// <inheritdoc />
    public async Task<User?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        var key = Usernames.Key(username);
        using var context = database.CreateContext();
        var entity = await context.Users.AsNoTracking().SingleOrDefaultAsync(u => u.UsernameKey == key, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : ToUser(entity);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<User>> GetAllAsync(CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entities = await context.Users.AsNoTracking().OrderBy(u => u.UsernameKey).ToListAsync(cancellationToken).ConfigureAwait(false);
        return entities.ConvertAll(ToUser);
    }

    /// <inheritdoc />
    public async Task AddAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var entity = ToEntity(user);
        using var context = database.CreateContext();
        var transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            if (await context.Clients.AnyAsync(c => c.ClientId == entity.Subject, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Subject '{entity.Subject}' is a registered client id; a user's subject never equals a client's.");
            }

            await ThrowIfTakenAsync(context, entity, cancellationToken).ConfigureAwait(false);
            await EntityWrites.InsertAsync(context, entity, $"User '{entity.Username}' could not be added: its subject, username or e-mail address was taken meanwhile.", cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<bool> UpdateAsync(User user, DateTimeOffset seenUpdatedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var entity = ToEntity(user);
        var seenMs = seenUpdatedAt.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        await ThrowIfTakenAsync(context, entity, cancellationToken).ConfigureAwait(false);
        try
        {
            return await context.Users.Where(u => u.Subject == entity.Subject && u.UpdatedAt == seenMs)
                .ExecuteUpdateAsync(
                    set => set
                        .SetProperty(u => u.Username, entity.Username)
                        .SetProperty(u => u.UsernameKey, entity.UsernameKey)
                        .SetProperty(u => u.Email, entity.Email)
                        .SetProperty(u => u.EmailKey, entity.EmailKey)
                        .SetProperty(u => u.Roles, entity.Roles)
                        .SetProperty(u => u.Status, entity.Status)
                        .SetProperty(u => u.PasswordHash, entity.PasswordHash)
                        .SetProperty(u => u.PasswordChangedAt, entity.PasswordChangedAt)
                        .SetProperty(u => u.FailedSignIns, entity.FailedSignIns)
                        .SetProperty(u => u.LastFailedSignInAt, entity.LastFailedSignInAt)
                        .SetProperty(u => u.UpdatedAt, entity.UpdatedAt),
                    cancellationToken)
                .ConfigureAwait(false) == 1;
        }
        catch (DbUpdateException ex)
        {
            throw new InvalidOperationException($"User '{entity.Username}' could not be changed: the username or e-mail address was taken meanwhile.", ex);
        }
    }

    /// <inheritdoc />
    public async Task<(int FailedSignIns, UserStatus Status)> RecordSignInFailureAsync(string subject, DateTimeOffset at, int lockAfter, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        // The update holds the row until commit, so the count read back in the same transaction is this failure's.
        var transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            await context.Users.Where(u => u.Subject == subject)
                .ExecuteUpdateAsync(
                    set => set
                        .SetProperty(u => u.FailedSignIns, u => u.FailedSignIns + 1)
                        .SetProperty(u => u.LastFailedSignInAt, atMs)
                        .SetProperty(u => u.Status, u => u.Status == "active" && u.FailedSignIns + 1 >= lockAfter ? "locked" : u.Status),
                    cancellationToken)
                .ConfigureAwait(false);
            var after = await context.Users.AsNoTracking().Where(u => u.Subject == subject)
                .Select(u => new { u.FailedSignIns, u.Status }).SingleOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return after is null ? (0, UserStatus.Disabled) : (after.FailedSignIns, ToUser(new UserEntity { Status = after.Status }).Status);
        }
    }

    /// <inheritdoc />
    public async Task ResetSignInFailuresAsync(string subject, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        await context.Users.Where(u => u.Subject == subject && (u.FailedSignIns != 0 || u.LastFailedSignInAt != null))
            .ExecuteUpdateAsync(set => set.SetProperty(u => u.FailedSignIns, 0).SetProperty(u => u.LastFailedSignInAt, (long?)null), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> RehashPasswordAsync(string subject, string previousHash, string newHash, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        return await context.Users.Where(u => u.Subject == subject && u.PasswordHash == previousHash)
            .ExecuteUpdateAsync(set => set.SetProperty(u => u.PasswordHash, newHash), cancellationToken)
            .ConfigureAwait(false) == 1;
    }

    /// <summary>Says which of the subject, username and e-mail address another user has (a clear message rather than an index violation).</summary>
    private static async Task ThrowIfTakenAsync(SafeguardDbContext context, UserEntity entity, CancellationToken cancellationToken)
    {
        var others = context.Users.AsNoTracking().Where(u => u.Subject != entity.Subject);
        if (await others.AnyAsync(u => u.UsernameKey == entity.UsernameKey, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"The username '{entity.Username}' is taken (usernames are never reused).");
        }

        if (entity.EmailKey is not null && await others.AnyAsync(u => u.EmailKey == entity.EmailKey, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"The e-mail address '{entity.Email}' belongs to another user.");
        }
    }

    private static User ToUser(UserEntity e) => new()
    {
        Subject = e.Subject,
        Username = e.Username,
        Email = e.Email,
        Roles = e.Roles.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        Status = e.Status switch
        {
            "active" => UserStatus.Active,
            "locked" => UserStatus.Locked,
            _ => UserStatus.Disabled, // an unknown value fails closed
        },
        PasswordHash = e.PasswordHash,
        PasswordChangedAt = e.PasswordChangedAt is { } changed ? DateTimeOffset.FromUnixTimeMilliseconds(changed) : null,
        FailedSignIns = e.FailedSignIns,
        LastFailedSignInAt = e.LastFailedSignInAt is { } failed ? DateTimeOffset.FromUnixTimeMilliseconds(failed) : null,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
        UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.UpdatedAt),
    };

    private static UserEntity ToEntity(User u) => new()
    {
        Subject = u.Subject,
        Username = u.Username,
        UsernameKey = Usernames.Key(u.Username),
        Email = u.Email,
        EmailKey = u.Email?.ToLower(CultureInfo.InvariantCulture),
        Roles = string.Join(' ', u.Roles),
        Status = u.Status switch
        {
            UserStatus.Active => "active",
            UserStatus.Locked => "locked",
            _ => "disabled",
        },
        PasswordHash = u.PasswordHash,
        PasswordChangedAt = u.PasswordChangedAt?.ToUnixTimeMilliseconds(),
        FailedSignIns = u.FailedSignIns,
        LastFailedSignInAt = u.LastFailedSignInAt?.ToUnixTimeMilliseconds(),
        CreatedAt = u.CreatedAt.ToUnixTimeMilliseconds(),
        UpdatedAt = u.UpdatedAt.ToUnixTimeMilliseconds(),
    };
}
