using Microsoft.EntityFrameworkCore;
using Safeguard.Clients;

namespace Safeguard.Storage.Data;

/// <summary>Clients in the <c>clients</c> table.</summary>
/// <param name="database">The database.</param>
public sealed class EfClientStore(SafeguardDatabase database) : IClientStore
{
    /// <inheritdoc />
    public async Task<Client?> FindAsync(string clientId, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entity = await context.Clients.AsNoTracking().SingleOrDefaultAsync(c => c.ClientId == clientId, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : ToClient(entity);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<Client>> GetAllAsync(CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entities = await context.Clients.AsNoTracking().OrderBy(c => c.ClientId).ToListAsync(cancellationToken).ConfigureAwait(false);
        return entities.ConvertAll(ToClient);
    }

    /// <inheritdoc />
    public async Task AddAsync(Client client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var context = database.CreateContext();
        if (await context.Clients.AnyAsync(c => c.ClientId == client.ClientId, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"A client with id '{client.ClientId}' is already registered (client ids are never reused).");
        }

        await EntityWrites.InsertAsync(context, ToEntity(client), $"A client with id '{client.ClientId}' is already registered (client ids are never reused).", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task UpdateAsync(Client client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var context = database.CreateContext();
        await EntityWrites.ReplaceAsync(context, context.Clients.Where(c => c.ClientId == client.ClientId), ToEntity(client),
            $"No client with id '{client.ClientId}' is registered.", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> DisableAsync(string clientId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.Clients.Where(c => c.ClientId == clientId)
            .ExecuteUpdateAsync(set => set.SetProperty(c => c.Enabled, false).SetProperty(c => c.UpdatedAt, atMs), cancellationToken)
            .ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> SetSecretHashAsync(string clientId, byte[] secretHash, DateTimeOffset seenUpdatedAt, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        var seenMs = seenUpdatedAt.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.Clients
            .Where(c => c.ClientId == clientId && c.AuthenticationMethod == ClientAuthenticationMethods.ClientSecretBasic && c.UpdatedAt == seenMs)
            .ExecuteUpdateAsync(set => set.SetProperty(c => c.SecretHash, secretHash).SetProperty(c => c.UpdatedAt, atMs), cancellationToken)
            .ConfigureAwait(false) == 1;
    }

    private static Client ToClient(ClientEntity e) => new()
    {
        ClientId = e.ClientId,
        AuthenticationMethod = e.AuthenticationMethod,
        GrantTypes = Split(e.GrantTypes),
        AllowedScopes = Split(e.AllowedScopes),
        AllowedResources = Split(e.AllowedResources),
        SecretHash = e.SecretHash,
        Jwks = e.Jwks,
        CertificateThumbprint = e.CertificateThumbprint,
        CertificateSubject = e.CertificateSubject,
        RequireDpop = e.RequireDpop,
        RequirePushedAuthorizationRequests = e.RequirePushedAuthorizationRequests,
        BackchannelLogoutUri = e.BackchannelLogoutUri,
        IntrospectionResources = Split(e.IntrospectionResources),
        RedirectUris = Split(e.RedirectUris),
        Enabled = e.Enabled,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
        UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.UpdatedAt),
    };

    private static ClientEntity ToEntity(Client c) => new()
    {
        ClientId = c.ClientId,
        AuthenticationMethod = c.AuthenticationMethod,
        GrantTypes = string.Join(' ', c.GrantTypes),
        AllowedScopes = string.Join(' ', c.AllowedScopes),
        AllowedResources = string.Join(' ', c.AllowedResources),
        SecretHash = c.SecretHash,
        Jwks = c.Jwks,
        CertificateThumbprint = c.CertificateThumbprint,
        CertificateSubject = c.CertificateSubject,
        RequireDpop = c.RequireDpop,
        RequirePushedAuthorizationRequests = c.RequirePushedAuthorizationRequests,
        BackchannelLogoutUri = c.BackchannelLogoutUri,
        IntrospectionResources = string.Join(' ', c.IntrospectionResources),
        RedirectUris = string.Join(' ', c.RedirectUris),
        Enabled = c.Enabled,
        CreatedAt = c.CreatedAt.ToUnixTimeMilliseconds(),
        UpdatedAt = c.UpdatedAt.ToUnixTimeMilliseconds(),
    };

    private static string[] Split(string value) => value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
