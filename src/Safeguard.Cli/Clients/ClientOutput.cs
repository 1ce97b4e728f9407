using System.Globalization;
using System.Text;
using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Clients;

namespace Safeguard.Cli.Clients;

/// <summary>How the client commands print a client and record a change.</summary>
internal static class ClientOutput
{
    public static AuditEvent Changed(Client client, AuditAction action, string reason, IReadOnlyList<AuditChange> changes)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.ClientChanged,
            Outcome = AuditOutcome.Success,
            ClientId = client.ClientId,
            Actor = "cli:" + Environment.UserName,
            Action = action,
            ResourceType = "client",
            ResourceId = client.ClientId,
            Reason = reason,
            Changes = changes,
        };
    }

    public static async Task WriteAsync(TextWriter output, Client client, string? secret, bool json)
    {
        var view = ClientView.From(client, secret);
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(view, ClientJsonContext.Default.ClientView)).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"client_id:      {view.ClientId}");
        text.AppendLine(CultureInfo.InvariantCulture, $"auth method:    {view.TokenEndpointAuthMethod}");
        text.AppendLine(CultureInfo.InvariantCulture, $"grant types:    {string.Join(' ', view.GrantTypes)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"scope:          {view.Scope}");
        text.AppendLine(CultureInfo.InvariantCulture, $"resources:      {string.Join(' ', view.Resources)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"require DPoP:   {(view.RequireDpop ? "yes" : "no")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"require PAR:    {(view.RequirePushedAuthorizationRequests ? "yes" : "no")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"back-channel logout: {view.BackchannelLogoutUri ?? "-"}");
        if (view.RedirectUris.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"redirect URIs:  {string.Join(' ', view.RedirectUris)}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"introspects:    {(view.IntrospectionResources.Count == 0 ? "-" : string.Join(' ', view.IntrospectionResources))}");
        text.AppendLine(CultureInfo.InvariantCulture, $"enabled:        {(view.Enabled ? "yes" : "no")}");
        if (secret is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"client_secret:  {secret}");
            text.AppendLine("The secret is shown only now and is stored only as a hash; keep it in a secret manager.");
        }

        await output.WriteAsync(text.ToString()).ConfigureAwait(false);
    }
}

/// <summary>A client as the commands print it; <see cref="ClientSecret"/> only right after it was generated.</summary>
internal sealed record ClientView(
    string ClientId,
    string TokenEndpointAuthMethod,
    IReadOnlyList<string> GrantTypes,
    string Scope,
    IReadOnlyList<string> Resources,
    bool RequireDpop,
    IReadOnlyList<string> IntrospectionResources,
    bool Enabled,
    string? CertificateThumbprint,
    string? CertificateSubject,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<string> RedirectUris,
    bool RequirePushedAuthorizationRequests,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? BackchannelLogoutUri,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? ClientSecret)
{
    public static ClientView From(Client c, string? secret) => new(
        c.ClientId, c.AuthenticationMethod, c.GrantTypes, string.Join(' ', c.AllowedScopes), c.AllowedResources, c.RequireDpop, c.IntrospectionResources,
        c.Enabled, c.CertificateThumbprint, c.CertificateSubject, c.CreatedAt, c.UpdatedAt, c.RedirectUris, c.RequirePushedAuthorizationRequests, c.BackchannelLogoutUri, secret);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ClientView))]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<ClientView>))]
internal sealed partial class ClientJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
